"""The activity feed view: every transaction of a member's cards and stars, newest first."""
from __future__ import annotations

import base64
import json
from typing import Any

from chalicelib.domain.errors import ValidationFailed
from chalicelib.domain.ledger import LedgerEntry
from chalicelib.settings import get_settings
from chalicelib.store import keys, views
from chalicelib.store.client import dynamodb, from_attributes, to_attributes


LINKED = 2  # the feed item's version once the entry carries its chain links (backfill)


def add(member_id: str, source_pk: str, entry: LedgerEntry, version: int | None = None) -> bool:
    """Put the entry in the member's feed. Entries are immutable, so a second delivery changes
    nothing (the view's version condition refuses it); an entry the backfill chained replaces
    its unlinked item once (version LINKED). True if written."""
    key = keys.activity_item(member_id, entry.created_at, source_pk, entry.seq)
    return views.project(key, entry.public().model_dump(mode="json"), version or 1, entry.created_at)


def page(member_id: str, limit: int, after: str | None) -> tuple[list[dict[str, Any]], str | None]:
    """(transaction documents newest first, sort key to continue after or None): one Query."""
    query: dict[str, Any] = {
        "TableName": get_settings().views_table,
        "KeyConditionExpression": "PK = :pk AND begins_with(SK, :tx)",
        "ExpressionAttributeValues": to_attributes({":pk": keys.activity_partition(member_id), ":tx": keys.TX_PREFIX}),
        "ScanIndexForward": False, "Limit": limit,
    }
    if after:
        query["ExclusiveStartKey"] = to_attributes({"PK": keys.activity_partition(member_id), "SK": after})
    response = dynamodb().query(**query)
    items = [from_attributes(item) for item in response.get("Items", [])]
    more = "LastEvaluatedKey" in response and items
    return [item["doc"] for item in items], items[-1]["SK"] if more else None


def encode_cursor(after: str, as_of: str | None) -> str:
    """An opaque cursor: where the next page starts, and the as_of of the listing's first page."""
    return base64.urlsafe_b64encode(json.dumps({"after": after, "as_of": as_of}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str | None]:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        after, as_of = decoded["after"], decoded.get("as_of")
        if not isinstance(after, str) or not after.startswith(keys.TX_PREFIX) or len(after) > 300:
            raise ValueError(after)
        if as_of is not None and not isinstance(as_of, str):
            raise ValueError(as_of)
        return after, as_of
    except (ValueError, KeyError, TypeError, AttributeError, json.JSONDecodeError) as exc:
        raise ValidationFailed("cursor is not valid", errors=[{"loc": ["query", "cursor"], "msg": "invalid cursor"}]) from exc
