"""Idempotency records: one per (principal, Idempotency-Key), kept at least 24 hours (TTL
`expires_at`). A record holds a request's first response and is written once, by the write that
answers the request: inside a value move's own TransactWriteItems, or alone for a refusal. Its Put
is conditioned on the key being new, so whatever loses that race — a concurrent duplicate, or a
botocore resend of a transaction that already committed — writes nothing and reads the record."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.settings import get_settings
from chalicelib.store.client import dynamodb, from_attributes, to_attributes

COMPLETED = "completed"


@dataclass(frozen=True)
class Record:
    """A stored first response; `token` names the request that wrote it."""

    request_hash: str
    status: int | None  # None: a record of the old two-step protocol still in progress
    body: Any
    token: str | None


def record_from_item(item: dict[str, Any]) -> Record:
    completed = item.get("state") == COMPLETED
    return Record(request_hash=item.get("request_hash", ""), token=item.get("lock_token"),
                  status=int(item["response_status"]) if completed else None,
                  body=json.loads(item["response_body"]) if completed else None)


def claim(key: dict[str, str], *, token: str, idempotency_key: str, request_hash: str, expires_at: int,
          status: int, body: Any) -> dict[str, Any]:
    """The TransactWriteItems element storing the first response; it holds only if the key is new."""
    item = {**key, "state": COMPLETED, "request_hash": request_hash, "lock_token": token, "response_status": status,
            "response_body": json.dumps(body, separators=(",", ":")), "idempotency_key": idempotency_key,
            "expires_at": expires_at}
    return {"Put": {"TableName": get_settings().ledger_table, "Item": to_attributes(item),
                    "ConditionExpression": "attribute_not_exists(PK)"}}


def put(claimed: dict[str, Any]) -> bool:
    """Write a `claim` alone (a refusal, or a write that could not carry it); False if the key
    was answered first."""
    try:
        dynamodb().put_item(**claimed["Put"])
        return True
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        return False


def get(key: dict[str, str]) -> Record | None:
    response = dynamodb().get_item(TableName=get_settings().ledger_table, Key=to_attributes(key), ConsistentRead=True)
    item = response.get("Item")
    return record_from_item(from_attributes(item)) if item else None
