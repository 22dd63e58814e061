"""Everything the invariants look at, read once: both tables (and, optionally, the ledger stream's
history), parsed through the data layer's own item readers and grouped by aggregate."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from chalicelib.domain.batches import OfflineItemRecord
from chalicelib.domain.cards import Card
from chalicelib.domain.holds import HoldRecord
from chalicelib.domain.ledger import LedgerEntry
from chalicelib.domain.members import Member
from chalicelib.store import keys
from chalicelib.store.cards import card_from_item, entry_from_item
from chalicelib.store.holds import hold_from_item
from chalicelib.store.members import member_from_item
from chalicelib.store.offline_items import record_from_item as offline_item_from_item
from chalicelib.store.scan import scan_items, stream_changes

Key = tuple[str, str]


@dataclass
class Snapshot:
    now: datetime
    cards: dict[str, Card] = field(default_factory=dict)
    card_entries: dict[str, list[LedgerEntry]] = field(default_factory=lambda: defaultdict(list))
    members: dict[str, Member] = field(default_factory=dict)
    member_items: dict[str, dict[str, Any]] = field(default_factory=dict)
    member_entries: dict[str, list[LedgerEntry]] = field(default_factory=lambda: defaultdict(list))
    refunds: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    holds: dict[tuple[str, int], HoldRecord] = field(default_factory=dict)  # by (card_id, hold number)
    idempotency: dict[str, dict[str, Any]] = field(default_factory=dict)
    email_guards: dict[str, str] = field(default_factory=dict)
    card_number_guards: dict[str, str] = field(default_factory=dict)
    adjustments: dict[str, dict[str, Any]] = field(default_factory=dict)  # by adjustment_id
    pending_adjustments: set[str] = field(default_factory=set)  # adjustment ids on the pending list
    adjustment_tallies: dict[Key, dict[str, Any]] = field(default_factory=dict)  # per agent × subject × UTC day
    audit: list[dict[str, Any]] = field(default_factory=list)
    offline_items: dict[str, OfflineItemRecord] = field(default_factory=dict)  # by PK (till principal + item_key)
    views: dict[Key, dict[str, Any]] | None = None
    history: list[dict[str, Any]] | None = None  # the ledger stream's changes, oldest first
    malformed: list[tuple[Key, str]] = field(default_factory=list)
    items_read: int = 0

    def entries(self) -> list[tuple[Key, LedgerEntry]]:
        """Every ledger entry, card and member, with its key."""
        found = [(_key(keys.ledger_entry(card_id, e.seq)), e) for card_id, es in self.card_entries.items() for e in es]
        found += [(_key(keys.member_entry(member_id, e.seq)), e) for member_id, es in self.member_entries.items()
                  for e in es]
        return found


def _key(key: dict[str, str]) -> Key:
    return key["PK"], key["SK"]


def take(ledger_table: str, views_table: str | None, now: datetime, *, streams_client: Any = None,
         segments: int = 1) -> Snapshot:
    """Scan the ledger table (and the views table unless None; the stream when a client is given)."""
    snapshot = Snapshot(now=now)
    for item in scan_items(ledger_table, segments=segments):
        snapshot.items_read += 1
        try:
            _file(snapshot, item)
        except (ValidationError, KeyError, ValueError) as exc:
            snapshot.malformed.append(((item.get("PK", "?"), item.get("SK", "?")), str(exc).splitlines()[0]))
    for entries in (*snapshot.card_entries.values(), *snapshot.member_entries.values()):
        entries.sort(key=lambda entry: entry.seq)
    if views_table is not None:
        snapshot.views = {}
        for item in scan_items(views_table, segments=segments):
            snapshot.items_read += 1
            snapshot.views[(item["PK"], item["SK"])] = item
    if streams_client is not None:
        snapshot.history = list(stream_changes(streams_client, ledger_table))
    return snapshot


def _file(snapshot: Snapshot, item: dict[str, Any]) -> None:
    pk, sk = item["PK"], item["SK"]
    kind = keys.kind_of(pk, sk)
    if kind == "card":
        card = card_from_item(item)
        snapshot.cards[card.card_id] = card
    elif kind == "ledger_entry":
        snapshot.card_entries[pk.removeprefix("CARD#")].append(entry_from_item(item))
    elif kind == "hold":
        snapshot.holds[(pk.removeprefix("CARD#"), int(sk.removeprefix(keys.HOLD_PREFIX)))] = hold_from_item(item)
    elif kind == "refunds":
        snapshot.refunds[(pk.removeprefix("CARD#"), int(sk.removeprefix("REFUNDS#")))] = item
    elif kind == "member":
        member = member_from_item(item)
        snapshot.members[member.member_id] = member
        snapshot.member_items[member.member_id] = item
    elif kind == "member_entry":
        snapshot.member_entries[pk.removeprefix("MEMBER#")].append(entry_from_item(item))
    elif kind == "idempotency":
        snapshot.idempotency[pk] = item
    elif kind == "adjustment":
        snapshot.adjustments[item["adjustment_id"]] = item
    elif kind == "adjustment_tally":
        snapshot.adjustment_tallies[(pk, sk)] = item
    elif pk == getattr(keys, "PENDING_ADJUSTMENTS", None):
        snapshot.pending_adjustments.add(item["adjustment_id"])
    elif kind == "audit":
        snapshot.audit.append(item)
    elif kind == "offline_item":
        snapshot.offline_items[pk] = offline_item_from_item(item)
    elif pk.startswith("EMAIL#"):
        snapshot.email_guards[pk] = item["member_id"]
    elif pk.startswith("CARDNO#"):
        snapshot.card_number_guards[pk] = item["card_id"]
