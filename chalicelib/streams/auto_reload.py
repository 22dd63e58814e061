"""Auto-reload from the stream: a debit that left an active card below its threshold is followed
by one auto_reload (see chalicelib/domain/auto_reload.py for the rule)."""
from __future__ import annotations

from chalicelib.domain.auto_reload import triggering_tx
from chalicelib.services import auto_reload
from chalicelib.streams.changes import CardChange


def on_card(change: CardChange) -> None:
    trigger = triggering_tx(change.before, change.after)
    if trigger is not None:
        auto_reload.follow(trigger, change.after.card_id)
