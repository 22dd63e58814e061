"""Stream records → typed changes of the ledger table's items, or None for what no view needs.

Left out: REMOVEs (expired idempotency records), idempotency records, guards and other
bookkeeping items, moto's keys-only INSERT before an upsert's real image, and a MODIFY that
changed nothing (moto emits one; DynamoDB does not)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.domain.adjustments import Adjustment
from chalicelib.domain.batches import OfflineItemRecord
from chalicelib.domain.cards import Card
from chalicelib.domain.ledger import LedgerEntry
from chalicelib.domain.ledger_chain import is_linking
from chalicelib.domain.members import Member
from chalicelib.store import keys
from chalicelib.store.cards import card_from_item, entry_from_item
from chalicelib.store.client import from_attributes
from chalicelib.store.members import member_from_item
from chalicelib.store.offline_items import record_from_item as offline_item_from_item


@dataclass(frozen=True)
class CardChange:
    before: Card | None
    after: Card
    item: dict[str, Any]


@dataclass(frozen=True)
class MemberChange:
    before: Member | None
    after: Member
    item: dict[str, Any]


@dataclass(frozen=True)
class EntryAdded:
    """A new ledger entry, of a card (`CARD#…/TX#…`) or of a member's stars (`MEMBER#…/TX#…`)."""

    key: dict[str, str]
    entry: LedgerEntry


@dataclass(frozen=True)
class AdjustmentFiled:
    """A new adjustment waiting for a supervisor's approval."""

    key: dict[str, str]
    adjustment: Adjustment


@dataclass(frozen=True)
class EntryLinked:
    """A ledger entry written before the chain, given its prev_hash and hash by the backfill."""

    key: dict[str, str]
    entry: LedgerEntry


@dataclass(frozen=True)
class OfflineItemRecorded:
    """An offline till item's outcome, recorded once (applied, partial or declined): what the daily
    report counts per store, with its uncollected amount (a declined item has no ledger entry)."""

    key: dict[str, str]
    record: OfflineItemRecord


Change = CardChange | MemberChange | EntryAdded | EntryLinked | AdjustmentFiled | OfflineItemRecorded


def from_record(record: dict[str, Any]) -> Change | None:
    """The change one Lambda-shaped DynamoDB stream record describes."""
    if record.get("eventName") == "REMOVE":
        return None
    images = record["dynamodb"]
    keys_ = from_attributes(images["Keys"])
    new = from_attributes(images["NewImage"]) if images.get("NewImage") else None
    old = from_attributes(images["OldImage"]) if images.get("OldImage") else None
    if new is None:
        return None
    kind = keys.kind_of(keys_["PK"], keys_["SK"])
    if kind in ("card", "member"):
        if "version" not in new or (old is not None and old.get("version") == new["version"]):
            return None
        if kind == "card":
            return CardChange(card_from_item(old) if old and "version" in old else None, card_from_item(new), new)
        return MemberChange(member_from_item(old) if old and "version" in old else None, member_from_item(new), new)
    if kind == "adjustment":
        if old is not None or new.get("status") != "pending_approval":  # only its filing is news
            return None
        fields = {k: v for k, v in new.items() if k in Adjustment.model_fields}
        return AdjustmentFiled({"PK": keys_["PK"], "SK": keys_["SK"]}, Adjustment.model_validate(fields))
    if kind == "offline_item":
        if old is not None or "result" not in new:  # written once: only its INSERT is news
            return None
        return OfflineItemRecorded({"PK": keys_["PK"], "SK": keys_["SK"]}, offline_item_from_item(new))
    if kind in ("ledger_entry", "member_entry") and keys_["SK"].startswith(keys.TX_PREFIX):
        if old is not None and "tx_id" in old and is_linking(old, new):
            return EntryLinked({"PK": keys_["PK"], "SK": keys_["SK"]}, entry_from_item(new))
        if "tx_id" not in new or old is not None:  # entries are immutable: only their INSERT is news
            return None
        return EntryAdded({"PK": keys_["PK"], "SK": keys_["SK"]}, entry_from_item(new))
    return None
