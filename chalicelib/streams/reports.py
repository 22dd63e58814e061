"""The daily channel report and the liability totals from the stream: each new ledger entry's
counter deltas (the fold is domain/reports.entry_deltas); the handler sums a batch's deltas and
counts them once (chalicelib/store/reports.py)."""
from __future__ import annotations

from chalicelib.domain.reports import EntryDeltas, entry_deltas
from chalicelib.streams.changes import Change, EntryAdded


def deltas_of(change: Change) -> EntryDeltas | None:
    """What a change adds to the counters: only new ledger entries move them (a card's or member's
    own change is reflected through the entry written with it)."""
    if isinstance(change, EntryAdded):
        return entry_deltas(change.entry, change.key["PK"])
    return None
