"""Change events from the stream: every committed change of a card, a member or the ledger goes
to the `omnicard` bus, as the API shows the resource, plus an `event_id` that is the same on
every delivery of that change (consumers de-duplicate on it). The handler sends a batch's events
together (chalicelib/store/events.py: PutEvents, 10 entries a call)."""
from __future__ import annotations

from datetime import datetime

from chalicelib.domain.cards import card_resource, updated_at
from chalicelib.domain.events import ChangeEvent, change_event
from chalicelib.domain.members import member_resource
from chalicelib.settings import get_settings
from chalicelib.streams.changes import AdjustmentFiled, CardChange, Change, EntryAdded, MemberChange


def event_of(change: Change) -> ChangeEvent | None:
    """The event one change publishes (None for a change that is no news, e.g. a chain link)."""
    if isinstance(change, CardChange):
        card = change.after
        # As shown at the change, like the member below (`held` as of then; `member` null: the member's
        # own change events carry its loyalty, and the stream reads nothing else).
        return change_event("card.updated", change.item["PK"], change.item["SK"], card.version,
                            card_resource(card, updated_at(card)).model_dump(mode="json"))
    if isinstance(change, MemberChange):
        member = change.after
        # As shown at the change (not at delivery), so a redelivered event carries the same detail.
        shown_at = datetime.fromisoformat(member.updated_at.replace("Z", "+00:00"))
        return change_event("member.updated", change.item["PK"], change.item["SK"], member.version,
                            member_resource(member, shown_at, get_settings().rules.stars).model_dump(mode="json"))
    if isinstance(change, EntryAdded):
        return change_event("transaction.created", change.key["PK"], change.key["SK"], change.entry.seq,
                            change.entry.public().model_dump(mode="json"))
    if isinstance(change, AdjustmentFiled):
        adjustment = change.adjustment
        return change_event("adjustment.pending", change.key["PK"], change.key["SK"], adjustment.version,
                            adjustment.model_dump(mode="json"))
    return None
