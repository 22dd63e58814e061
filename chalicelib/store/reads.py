"""One strongly consistent read of several items of the ledger table: everything a write's plan
needs (card, member, payment, the request's idempotency record) in one round trip."""
from __future__ import annotations

from typing import Any

from chalicelib.settings import get_settings
from chalicelib.store.client import dynamodb, from_attributes, to_attributes

BATCH_GET_LIMIT = 100  # keys per BatchGetItem (DynamoDB's limit)


def get_items(keys: list[dict[str, str]]) -> list[dict[str, Any] | None]:
    """The items at `keys` (None where absent), in order, by BatchGetItem with ConsistentRead.
    Each item is read strongly consistently, not as one snapshot: every write that follows is
    guarded by conditions on what it read, so a read that straddles another write only costs a retry."""
    table = get_settings().ledger_table
    unique = list({(key["PK"], key["SK"]): key for key in keys}.values())
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for start in range(0, len(unique), BATCH_GET_LIMIT):  # one call for every plan but an offline batch's
        chunk = unique[start:start + BATCH_GET_LIMIT]
        request: dict[str, Any] = {table: {"Keys": [to_attributes(key) for key in chunk], "ConsistentRead": True}}
        while request:  # UnprocessedKeys only under throttling: read the rest again
            response = dynamodb().batch_get_item(RequestItems=request)
            for raw in response.get("Responses", {}).get(table, []):
                item = from_attributes(raw)
                found[(item["PK"], item["SK"])] = item
            request = response.get("UnprocessedKeys") or {}
    return [found.get((key["PK"], key["SK"])) for key in keys]
