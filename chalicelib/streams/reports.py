"""The daily channel report and the liability totals from the stream: each new ledger entry's
counter deltas (the fold is domain/reports.entry_deltas) and each offline till item's
(domain/reports.offline_deltas); the handler sums a batch's deltas and counts them once
(chalicelib/store/reports.py)."""
from __future__ import annotations

from chalicelib.domain.reports import EntryDeltas, entry_deltas, offline_deltas
from chalicelib.streams.changes import Change, EntryAdded, OfflineItemRecorded

# The changes that move counters (the handler's counting step takes these).
COUNTED = (EntryAdded, OfflineItemRecorded)


def deltas_of(change: Change) -> EntryDeltas | None:
    """What a change adds to the counters: new ledger entries, and offline till items' records
    (written once: an item's count and what it left uncollected; its payment, if any, is an entry
    of its own). A card's or member's own change is reflected through the entry written with it."""
    if isinstance(change, EntryAdded):
        return entry_deltas(change.entry, change.key["PK"])
    if isinstance(change, OfflineItemRecorded):
        return offline_deltas(change.record)
    return None
