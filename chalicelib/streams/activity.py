"""The activity feed from the stream: each new ledger entry lands in its member's feed."""
from __future__ import annotations

from chalicelib.store import activity as activity_store
from chalicelib.store import cards as card_store
from chalicelib.streams.changes import CardChange, EntryAdded


def on_entry(change: EntryAdded) -> None:
    """A card's or a member's new transaction, in the member's feed (gift cards have no member yet)."""
    if change.entry.member_id is not None:
        activity_store.add(change.entry.member_id, change.key["PK"], change.entry)


def on_card(change: CardChange) -> None:
    """A gift card registered to a member brings its earlier transactions into the member's feed."""
    before, after = change.before, change.after
    if before is None or before.member_id is not None or after.member_id is None:
        return
    cursor = None
    while True:
        entries, cursor = card_store.list_entries(after.card_id, 100, cursor)
        for entry in entries:
            activity_store.add(after.member_id, change.item["PK"], entry)
        if cursor is None:
            return
