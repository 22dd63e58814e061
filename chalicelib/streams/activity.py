"""The activity feed from the stream: each new ledger entry lands in its member's feed."""
from __future__ import annotations

from chalicelib.store import activity as activity_store
from chalicelib.store import cards as card_store
from chalicelib.streams.changes import CardChange, EntryAdded, EntryLinked


def on_entry(change: EntryAdded) -> None:
    """A card's or a member's new transaction, in the member's feed (gift cards have no member yet)."""
    if change.entry.member_id is not None:
        activity_store.add(change.entry.member_id, change.key["PK"], change.entry)


def on_linked(change: EntryLinked) -> None:
    """An entry the backfill chained: its feed item shows the links too (the only change it gets)."""
    member_ids = {change.entry.member_id}
    if change.entry.card_id is not None:
        card = card_store.get_card(change.entry.card_id)
        member_ids.add(card.member_id if card else None)
    for member_id in member_ids - {None}:
        activity_store.add(member_id, change.key["PK"], change.entry, version=activity_store.LINKED)


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
