"""Data access for adjustments waiting for approval, and their pending list."""
from __future__ import annotations

from typing import Any

from chalicelib.domain.adjustments import Adjustment
from chalicelib.settings import get_settings
from chalicelib.store import cursors, keys
from chalicelib.store.client import dynamodb, from_attributes, to_attributes

_FIELDS = set(Adjustment.model_fields)


def _table() -> str:
    return get_settings().ledger_table


def adjustment_from_item(item: dict[str, Any]) -> Adjustment:
    return Adjustment.model_validate({k: v for k, v in item.items() if k in _FIELDS})


def put_pending(adjustment: Adjustment) -> list[tuple[str, dict[str, Any]]]:
    """Transaction items filing a new pending adjustment and listing it for supervisors."""
    document = adjustment.model_dump(mode="json", exclude_none=True)
    return [
        ("adjustment", {"Put": {"TableName": _table(), "Item": to_attributes({**keys.adjustment(adjustment.adjustment_id), **document}),
                                "ConditionExpression": "attribute_not_exists(PK)"}}),
        ("pending", {"Put": {"TableName": _table(),
                             "Item": to_attributes({**keys.pending_adjustment(adjustment.requested_at, adjustment.adjustment_id), **document}),
                             "ConditionExpression": "attribute_not_exists(PK)"}}),
    ]


def decide(before: Adjustment, after: Adjustment) -> list[tuple[str, dict[str, Any]]]:
    """Transaction items recording the decision exactly once (the condition is on the pending
    status) and taking the adjustment off the pending list."""
    document = after.model_dump(mode="json", exclude_none=True)
    return [
        ("adjustment", {"Put": {
            "TableName": _table(), "Item": to_attributes({**keys.adjustment(after.adjustment_id), **document}),
            "ConditionExpression": "#status = :pending AND #version = :version",
            "ExpressionAttributeNames": {"#status": "status", "#version": "version"},
            "ExpressionAttributeValues": to_attributes({":pending": "pending_approval", ":version": before.version}),
        }}),
        ("pending", {"Delete": {"TableName": _table(),
                                "Key": to_attributes(keys.pending_adjustment(before.requested_at, before.adjustment_id))}}),
    ]


def count_toward_daily_limit(subject: str, day: str, agent_id: str, size: int, limit: int,
                             expires_at: int) -> dict[str, Any]:
    """Transaction item adding `size` to the agent's tally on `subject` for `day`, which holds only
    while the tally stays within `limit`: evaluated atomically with the adjustment itself, so racing
    adjustments cannot together pass the limit. A failed condition means: file it for approval."""
    return {"Update": {
        "TableName": _table(), "Key": to_attributes(keys.adjustment_tally(subject, day, agent_id)),
        "UpdateExpression": "ADD #total :size SET agent_id = :agent, subject = :subject, #day = :day, "
                            "expires_at = :expires",
        "ConditionExpression": "attribute_not_exists(#total) OR #total <= :room",
        "ExpressionAttributeNames": {"#total": "total", "#day": "day"},
        "ExpressionAttributeValues": to_attributes({":size": size, ":room": limit - size, ":agent": agent_id,
                                                    ":subject": subject, ":day": day, ":expires": expires_at}),
    }}


def get(adjustment_id: str) -> Adjustment | None:
    response = dynamodb().get_item(TableName=_table(), Key=to_attributes(keys.adjustment(adjustment_id)), ConsistentRead=True)
    item = response.get("Item")
    return adjustment_from_item(from_attributes(item)) if item else None


def pending(limit: int, cursor: str | None) -> tuple[list[Adjustment], str | None]:
    """Pending adjustments, newest first, strongly consistent."""
    query: dict[str, Any] = {
        "TableName": _table(), "KeyConditionExpression": "PK = :pk",
        "ExpressionAttributeValues": to_attributes({":pk": keys.PENDING_ADJUSTMENTS}),
        "ScanIndexForward": False, "Limit": limit, "ConsistentRead": True,
    }
    if cursor:
        query["ExclusiveStartKey"] = to_attributes({"PK": keys.PENDING_ADJUSTMENTS, "SK": cursors.decode(cursor)})
    response = dynamodb().query(**query)
    items = [adjustment_from_item(from_attributes(item)) for item in response.get("Items", [])]
    last = response.get("LastEvaluatedKey")
    next_cursor = cursors.encode(from_attributes(last)["SK"]) if last else None
    return items, next_cursor

