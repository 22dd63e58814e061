"""Idempotency records: one per (principal, Idempotency-Key), kept at least 24 hours.

A request first takes a lock (a conditional PutItem that also reveals an existing record in the
same round trip). A value-moving write completes the record *inside* its TransactWriteItems, so
a crash between commit and response cannot apply a retry twice; other writes complete it after."""
from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.domain.errors import IdempotencyKeyReused, RequestInProgress
from chalicelib.settings import get_settings
from chalicelib.store import keys
from chalicelib.store.client import dynamodb, from_attributes, to_attributes

IN_PROGRESS = "in_progress"
COMPLETED = "completed"


@dataclass(frozen=True)
class IdempotencyLock:
    key: dict[str, str]
    token: str
    idempotency_key: str
    request_hash: str
    expires_at: int
    success_status: int


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: Any


def begin(principal_sub: str, idempotency_key: str, request_hash: str, now: datetime,
          success_status: int) -> IdempotencyLock | StoredResponse:
    """Take the key for this request, or return the stored first response.

    Raises IdempotencyKeyReused for a different request under the key, RequestInProgress while the
    first is still running (its lock has not expired)."""
    settings = get_settings()
    lock = IdempotencyLock(
        key=keys.idempotency(principal_sub, idempotency_key),
        token=secrets.token_hex(12),
        idempotency_key=idempotency_key,
        request_hash=request_hash,
        expires_at=int((now + timedelta(hours=settings.idempotency_ttl_hours)).timestamp()),
        success_status=success_status,
    )
    item = {**lock.key, "state": IN_PROGRESS, "request_hash": request_hash, "lock_token": lock.token,
            "lock_until": int(now.timestamp()) + settings.idempotency_lock_seconds, "expires_at": lock.expires_at}
    try:
        dynamodb().put_item(
            TableName=settings.ledger_table,
            Item=to_attributes(item),
            ConditionExpression="attribute_not_exists(PK) OR (#state = :in_progress AND lock_until < :now)",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues=to_attributes({":in_progress": IN_PROGRESS, ":now": int(now.timestamp())}),
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
        return lock
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        existing = exc.response.get("Item") or _read(lock.key)
    if existing is None:  # expired by TTL between the two calls: treat as in flight, the client retries
        raise RequestInProgress()
    existing = from_attributes(existing)
    if existing.get("request_hash") != request_hash:
        raise IdempotencyKeyReused("this Idempotency-Key was used with a different request")
    if existing.get("state") == COMPLETED:
        return StoredResponse(status=int(existing["response_status"]), body=json.loads(existing["response_body"]))
    if existing.get("lock_token") == lock.token:  # botocore resent our PutItem after its response was lost
        return lock
    raise RequestInProgress()


def completion(lock: IdempotencyLock, body: Any, status: int | None = None) -> dict[str, Any]:
    """The TransactWriteItems element that stores the first response (by default the route's
    success status) under the held lock."""
    status = lock.success_status if status is None else status
    item = {**lock.key, "state": COMPLETED, "request_hash": lock.request_hash, "lock_token": lock.token,
            "response_status": status, "response_body": json.dumps(body, separators=(",", ":")),
            "idempotency_key": lock.idempotency_key, "expires_at": lock.expires_at}
    return {"Put": {
        "TableName": get_settings().ledger_table,
        "Item": to_attributes(item),
        # Still in progress: once this request's transaction committed, a re-planned attempt of the same
        # request (after a lost response) must fail here rather than move value a second time.
        "ConditionExpression": "lock_token = :token AND #state = :in_progress",
        "ExpressionAttributeNames": {"#state": "state"},
        "ExpressionAttributeValues": to_attributes({":token": lock.token, ":in_progress": IN_PROGRESS}),
    }}


def complete(lock: IdempotencyLock, status: int, body: Any) -> None:
    """Store the first response of a request whose write did not carry the completion itself."""
    put = completion(lock, body, status)["Put"]
    try:
        dynamodb().put_item(**put)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        # The lock expired and another request took the key over: it owns the record now.


def release(lock: IdempotencyLock) -> None:
    """Forget an in-progress key (validation, auth or server error): a corrected retry may reuse it."""
    try:
        dynamodb().delete_item(
            TableName=get_settings().ledger_table, Key=to_attributes(lock.key),
            ConditionExpression="lock_token = :token AND #state = :in_progress",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues=to_attributes({":token": lock.token, ":in_progress": IN_PROGRESS}),
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise


def _read(key: dict[str, str]) -> dict[str, Any] | None:
    response = dynamodb().get_item(TableName=get_settings().ledger_table, Key=to_attributes(key), ConsistentRead=True)
    return response.get("Item")
