"""Change events from the stream: every committed change of a card, a member or the ledger goes
to the `omnicard` bus, as the API shows the resource, plus an `event_id` that is the same on
every delivery of that change (consumers de-duplicate on it)."""
from __future__ import annotations

from datetime import datetime

from chalicelib import clock
from chalicelib.domain.cards import card_resource, updated_at
from chalicelib.domain.events import ChangeEvent, change_event
from chalicelib.domain.members import member_resource
from chalicelib.settings import get_settings
from chalicelib.store import events as event_store
from chalicelib.streams.changes import AdjustmentFiled, CardChange, EntryAdded, MemberChange


def on_card(change: CardChange) -> None:
    card = change.after
    # As shown at the change, like the member below (`held` as of then; `member` null: the member's
    # own change events carry its loyalty, and the stream reads nothing else).
    _send(change_event("card.updated", change.item["PK"], change.item["SK"], card.version,
                       card_resource(card, updated_at(card)).model_dump(mode="json")))


def on_member(change: MemberChange) -> None:
    member = change.after
    # As shown at the change (not at delivery), so a redelivered event carries the same detail.
    shown_at = datetime.fromisoformat(member.updated_at.replace("Z", "+00:00"))
    _send(change_event("member.updated", change.item["PK"], change.item["SK"], member.version,
                       member_resource(member, shown_at, get_settings().rules.stars).model_dump(mode="json")))


def on_entry(change: EntryAdded) -> None:
    _send(change_event("transaction.created", change.key["PK"], change.key["SK"], change.entry.seq,
                       change.entry.public().model_dump(mode="json")))


def on_adjustment(change: AdjustmentFiled) -> None:
    adjustment = change.adjustment
    _send(change_event("adjustment.pending", change.key["PK"], change.key["SK"], adjustment.version,
                       adjustment.model_dump(mode="json")))


def _send(event: ChangeEvent) -> None:
    event_store.publish(event, clock.now())
