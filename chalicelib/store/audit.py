"""Audit records: written once (inside the action's own transaction when it writes), never updated."""
from __future__ import annotations

from typing import Any

from chalicelib.domain.audit import AuditRecord
from chalicelib.settings import get_settings
from chalicelib.store import cursors, keys
from chalicelib.store.client import dynamodb, from_attributes, to_attributes

_FIELDS = set(AuditRecord.model_fields)


def _table() -> str:
    return get_settings().ledger_table


def put(record: AuditRecord) -> dict[str, Any]:
    """The TransactWriteItems element that files `record`."""
    item = {**keys.audit(record.subject, record.at, record.audit_id), **record.model_dump(mode="json", exclude_none=True)}
    return {"Put": {"TableName": _table(), "Item": to_attributes(item), "ConditionExpression": "attribute_not_exists(PK)"}}


def file(record: AuditRecord) -> None:
    """File the record of an action that wrote nothing else (a lookup)."""
    dynamodb().put_item(**put(record)["Put"])


def for_subject(subject: str, limit: int, cursor: str | None) -> tuple[list[AuditRecord], str | None]:
    """A member's (or unregistered card's) audit records, newest first, strongly consistent."""
    query: dict[str, Any] = {
        "TableName": _table(), "KeyConditionExpression": "PK = :pk",
        "ExpressionAttributeValues": to_attributes({":pk": keys.audit_partition(subject)}),
        "ScanIndexForward": False, "Limit": limit, "ConsistentRead": True,
    }
    if cursor:
        query["ExclusiveStartKey"] = to_attributes({"PK": keys.audit_partition(subject), "SK": cursors.decode(cursor)})
    response = dynamodb().query(**query)
    records = [AuditRecord.model_validate({k: v for k, v in from_attributes(item).items() if k in _FIELDS})
               for item in response.get("Items", [])]
    last = response.get("LastEvaluatedKey")
    return records, (cursors.encode(from_attributes(last)["SK"]) if last else None)

