"""The daily channel report and the liability totals from the stream, each change counted once."""
from __future__ import annotations

from chalicelib.domain.reports import report_day, row_of
from chalicelib.store import keys
from chalicelib.store import reports as report_store
from chalicelib.streams.changes import CardChange, EntryAdded, MemberChange


def on_entry(change: EntryAdded) -> None:
    entry = change.entry
    report_store.count_entry(change.key, row_of(entry), report_day(entry.created_at), entry.created_at)


def on_card(change: CardChange) -> None:
    """The card's balance is what it adds to the outstanding value in its currency."""
    card = change.after
    report_store.contribute(change.item["PK"], keys.liability_value(card.currency), "value", card.balance,
                            card.version, card.updated_at)


def on_member(change: MemberChange) -> None:
    """The member's stars (unexpired or not yet written off by the expiry job) are owed."""
    member = change.after
    report_store.contribute(change.item["PK"], keys.liability_stars(), "stars", member.stars, member.version,
                            member.updated_at)
