"""Data access for offline till items: one record per (pos principal, item_key), written once —
in the same TransactWriteItems as the item's payment, or alone when it was declined — and never
changed. Its Put is conditioned on the key being new: whoever loses that race (the same batch sent
twice at once, a resend) applied nothing and answers `duplicate` from the record."""
from __future__ import annotations

import json
from typing import Any

from chalicelib.domain.batches import OfflineItemRecord
from chalicelib.settings import get_settings
from chalicelib.store import keys
from chalicelib.store.client import to_attributes

_FIELDS = set(OfflineItemRecord.model_fields)


def key_of(principal_sub: str, item_key: str) -> dict[str, str]:
    return keys.offline_item(principal_sub, item_key)


def record_from_item(item: dict[str, Any]) -> OfflineItemRecord:
    fields = {k: v for k, v in item.items() if k in _FIELDS}
    fields["result"] = json.loads(item["result"])
    return OfflineItemRecord.model_validate(fields)


def put_record(record: OfflineItemRecord) -> dict[str, Any]:
    """The TransactWriteItems element claiming the item for its till: it holds only if the item
    was never recorded."""
    item = {**key_of(record.actor, record.item_key), **record.model_dump(exclude_none=True),
            "result": json.dumps(record.result, separators=(",", ":"))}
    return {"Put": {"TableName": get_settings().ledger_table, "Item": to_attributes(item),
                    "ConditionExpression": "attribute_not_exists(PK)"}}
