"""Data access for holds: the hold's own item, written in the same TransactWriteItems as the card
update that adds it to (or removes it from) the card item's holds map."""
from __future__ import annotations

from typing import Any

from chalicelib.domain.holds import HoldRecord
from chalicelib.settings import get_settings
from chalicelib.store import keys
from chalicelib.store.client import to_attributes

_FIELDS = set(HoldRecord.model_fields)


def _table() -> str:
    return get_settings().ledger_table


def hold_from_item(item: dict[str, Any]) -> HoldRecord:
    return HoldRecord.model_validate({k: v for k, v in item.items() if k in _FIELDS})


def put_hold(record: HoldRecord) -> dict[str, Any]:
    """A new hold's item: written once (its number is the card's next hold_seq)."""
    item = {**keys.hold(record.card_id, record.seq), **record.model_dump(mode="json", exclude_none=True)}
    return {"Put": {"TableName": _table(), "Item": to_attributes(item), "ConditionExpression": "attribute_not_exists(PK)"}}


def settle_update(before: HoldRecord, after: HoldRecord) -> dict[str, Any]:
    """Capture or void: only from `held`, and only from the version read — so a hold is captured or
    voided at most once even if two requests race past their plans. A capture is also refused by
    the write itself once the hold has expired (RFC 3339 in one format compares as text), so a
    Lambda whose clock lags cannot capture what the others see expired."""
    values: dict[str, Any] = {":status": after.status, ":held": "held", ":version": before.version,
                              ":next": after.version, ":now": after.updated_at}
    sets = ["#status = :status", "#version = :next", "updated_at = :now"]
    condition = "#status = :held AND #version = :version"
    if after.captured is not None:
        values[":captured"], values[":tx"] = after.captured, after.tx_id
        sets += ["captured = :captured", "tx_id = :tx"]
        condition += " AND expires_at > :now"
    return {"Update": {
        "TableName": _table(), "Key": to_attributes(keys.hold(before.card_id, before.seq)),
        "UpdateExpression": "SET " + ", ".join(sets),
        "ConditionExpression": condition,
        "ExpressionAttributeNames": {"#status": "status", "#version": "version"},
        "ExpressionAttributeValues": to_attributes(values),
    }}
