"""Data access for the member aggregate: the member item (with its star lots), its own ledger
entries, and the unique-email guard."""
from __future__ import annotations

from typing import Any, Iterator

from chalicelib.domain.ledger import LedgerEntry
from chalicelib.domain.members import Member
from chalicelib.domain.stars import next_expiry
from chalicelib.settings import get_settings
from chalicelib.store import keys
from chalicelib.store.client import dynamodb, from_attributes, to_attributes

_FIELDS = set(Member.model_fields)
_ENTRY_FIELDS = set(LedgerEntry.model_fields)


def _table() -> str:
    return get_settings().ledger_table


def member_from_item(item: dict[str, Any]) -> Member:
    return Member.model_validate({k: v for k, v in item.items() if k in _FIELDS})


def put_new_member(member: Member) -> list[tuple[str, dict[str, Any]]]:
    """Transaction items creating a member and claiming its email."""
    return [
        ("member", {"Put": {"TableName": _table(),
                            "Item": to_attributes({**keys.member(member.member_id), **member.model_dump(mode="json")}),
                            "ConditionExpression": "attribute_not_exists(PK)"}}),
        ("email", {"Put": {"TableName": _table(),
                           "Item": to_attributes({**keys.email(member.email), "member_id": member.member_id}),
                           "ConditionExpression": "attribute_not_exists(PK)"}}),
    ]


def member_exists(member_id: str) -> dict[str, Any]:
    """Transaction item that holds only if the member exists."""
    return {"ConditionCheck": {"TableName": _table(), "Key": to_attributes(keys.member(member_id)),
                               "ConditionExpression": "attribute_exists(PK)"}}


def stars_update(before: Member, after: Member) -> dict[str, Any]:
    """Replace the member's star state, guarded by the version it was planned from (so two
    concurrent redemptions cannot both spend the same lot). Keeps the expiry index current."""
    values: dict[str, Any] = {
        ":version": before.version, ":next_version": before.version + 1, ":stars": after.stars,
        ":lots": after.lots, ":earned": after.earned, ":tier": after.tier, ":star_seq": after.star_seq,
        ":now": after.updated_at,
    }
    sets = ["#version = :next_version", "stars = :stars", "lots = :lots", "earned = :earned", "tier = :tier",
            "star_seq = :star_seq", "updated_at = :now"]
    if after.ledger_head is not None:  # the member's own chain, advanced with the entry it commits
        sets.append("ledger_head = :head")
        values[":head"] = after.ledger_head
    expiry = next_expiry(after.lots)
    if expiry is None:
        expression = "SET " + ", ".join(sets) + " REMOVE GSI1PK, GSI1SK"
    else:
        sets += ["GSI1PK = :shard", "GSI1SK = :expiry"]
        values[":shard"] = keys.star_expiry_shard(after.member_id, get_settings().rules.stars.expiry_shards)
        values[":expiry"] = expiry
        expression = "SET " + ", ".join(sets)
    return {"Update": {
        "TableName": _table(), "Key": to_attributes(keys.member(before.member_id)),
        "UpdateExpression": expression,
        "ConditionExpression": "#version = :version",
        "ExpressionAttributeNames": {"#version": "version"},
        "ExpressionAttributeValues": to_attributes(values),
    }}


def put_entry(entry: LedgerEntry) -> dict[str, Any]:
    """A member's own immutable ledger entry."""
    assert entry.member_id is not None
    item = {**keys.member_entry(entry.member_id, entry.seq), **entry.model_dump(mode="json", exclude_none=True)}
    return {"Put": {"TableName": _table(), "Item": to_attributes(item),
                    "ConditionExpression": "attribute_not_exists(PK)"}}


def get_member(member_id: str) -> Member | None:
    response = dynamodb().get_item(TableName=_table(), Key=to_attributes(keys.member(member_id)), ConsistentRead=True)
    item = response.get("Item")
    return member_from_item(from_attributes(item)) if item else None


def member_id_for_email(address: str) -> str | None:
    response = dynamodb().get_item(TableName=_table(), Key=to_attributes(keys.email(address)), ConsistentRead=True)
    item = response.get("Item")
    return from_attributes(item)["member_id"] if item else None


def member_entries(member_id: str) -> Iterator[LedgerEntry]:
    """Every ledger entry of the member's own (oldest first), paginated."""
    query: dict[str, Any] = {
        "TableName": _table(), "ConsistentRead": True,
        "KeyConditionExpression": "PK = :pk AND begins_with(SK, :tx)",
        "ExpressionAttributeValues": to_attributes({":pk": keys.member_partition(member_id), ":tx": keys.TX_PREFIX}),
    }
    while True:
        response = dynamodb().query(**query)
        for item in response.get("Items", []):
            yield LedgerEntry.model_validate({k: v for k, v in from_attributes(item).items() if k in _ENTRY_FIELDS})
        if "LastEvaluatedKey" not in response:
            return
        query["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def members_with_stars_expiring_by(shard: int, moment_iso: str) -> Iterator[str]:
    """Member ids in one expiry shard whose earliest lot expires at or before `moment_iso` (GSI1,
    eventually consistent: the caller re-reads each member before acting)."""
    query: dict[str, Any] = {
        "TableName": _table(), "IndexName": "GSI1",
        "KeyConditionExpression": "GSI1PK = :pk AND GSI1SK <= :moment",
        "ExpressionAttributeValues": to_attributes({":pk": keys.star_expiry_partition(shard), ":moment": moment_iso}),
        "ProjectionExpression": "member_id",
    }
    while True:
        response = dynamodb().query(**query)
        for item in response.get("Items", []):
            yield from_attributes(item)["member_id"]
        if "LastEvaluatedKey" not in response:
            return
        query["ExclusiveStartKey"] = response["LastEvaluatedKey"]
