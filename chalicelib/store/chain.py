"""Data access of the one-off chain backfill (`omnicard backfill-chain`): the chains not yet
chained, their entries, and the two guarded writes that chain them. The write path never uses
this module: it chains every new entry in the TransactWriteItems that writes it (services/ledger.py)."""
from __future__ import annotations

from typing import Any, Iterator

from botocore.exceptions import ClientError

from chalicelib.domain.ledger import LedgerEntry
from chalicelib.store import keys
from chalicelib.store.client import dynamodb, from_attributes, to_attributes
from chalicelib.store.scan import scan_items

_ENTRY_FIELDS = set(LedgerEntry.model_fields)


def unchained_owners(table: str) -> Iterator[tuple[dict[str, str], int]]:
    """(owner item key, its entry count) of every card and member that has entries but no head."""
    for item in scan_items(table):
        kind = keys.kind_of(item["PK"], item["SK"])
        if kind in ("card", "member") and entry_count(item) and item.get("ledger_head") is None:
            yield {"PK": item["PK"], "SK": item["SK"]}, entry_count(item)


def entry_count(owner: dict[str, Any]) -> int:
    """How many entries a card item (ledger_seq) or member item (star_seq) has committed."""
    return owner.get("ledger_seq" if owner["SK"] == keys.CARD else "star_seq", 0)


def read_owner(table: str, key: dict[str, str]) -> dict[str, Any]:
    response = dynamodb().get_item(TableName=table, Key=to_attributes(key), ConsistentRead=True)
    return from_attributes(response["Item"])


def owner_entries(table: str, partition: str) -> list[LedgerEntry]:
    """Every ledger entry of a card's or member's partition, oldest first (strongly consistent)."""
    query: dict[str, Any] = {
        "TableName": table, "ConsistentRead": True, "KeyConditionExpression": "PK = :pk AND begins_with(SK, :tx)",
        "ExpressionAttributeValues": to_attributes({":pk": partition, ":tx": keys.TX_PREFIX}),
    }
    entries = []
    while True:
        response = dynamodb().query(**query)
        entries += [LedgerEntry.model_validate({k: v for k, v in from_attributes(item).items() if k in _ENTRY_FIELDS})
                    for item in response.get("Items", [])]
        if "LastEvaluatedKey" not in response:
            return entries
        query["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def set_entry_link(table: str, partition: str, entry: LedgerEntry) -> None:
    """Add prev_hash and hash to an existing entry (the only change an entry ever gets, and only
    once: an entry that carries a hash already is not touched). Deterministic, so a re-run after a
    crash writes the same values."""
    try:
        dynamodb().update_item(
            TableName=table, Key=to_attributes(keys.chain_entry(partition, entry.seq)),
            UpdateExpression="SET prev_hash = :prev, #hash = :hash",
            ConditionExpression="attribute_exists(PK) AND (attribute_not_exists(#hash) OR #hash = :hash)",
            ExpressionAttributeNames={"#hash": "hash"},
            ExpressionAttributeValues=to_attributes({":prev": entry.prev_hash, ":hash": entry.hash}))
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            raise ChainConflict(f"{partition} entry {entry.seq} carries another hash already") from exc
        raise


def set_head(table: str, key: dict[str, str], version: int, head: str) -> bool:
    """Set the owner's head if it is still at `version` (no entry written since it was read);
    bumps version, as every change of the item does. False when the owner moved on."""
    try:
        dynamodb().update_item(
            TableName=table, Key=to_attributes(key),
            UpdateExpression="SET ledger_head = :head, #version = #version + :one",
            ConditionExpression="#version = :version AND attribute_not_exists(ledger_head)",
            ExpressionAttributeNames={"#version": "version"},
            ExpressionAttributeValues=to_attributes({":head": head, ":version": version, ":one": 1}))
        return True
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise


class ChainConflict(Exception):
    """An entry already carries a hash that differs from the one its chain gives it."""
