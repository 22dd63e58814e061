"""Embedded moto's TransactWriteItems, rolled back the way DynamoDB behaves: per item, in place.

moto (5.2.5) backs a transaction up by deep-copying every table it touches — again for every item
of the transaction — and on cancellation puts the copy in the live table's place. Two problems
on a long-running local stack, neither visible in a single test:

1. **Stream readers are cut off.** The copy carries a *copy* of the stream shard. An iterator
   taken before the cancellation (the stream pump holds one between polls) keeps reading the old
   shard object — the cancelled writes' records included — and after that sees nothing, ever:
   the local stack's views stopped for good after the first 409 or racing payment. DynamoDB has one
   shard whatever happens to a transaction, and emits no record for a cancelled one.
2. **Every transaction costs as much as the tables are big.** A deep copy of a table is every item
   and every stream record it ever emitted: payments slowed from ~0.15 s to over a second within a
   few hundred writes, and the stream handler's own transactions queued behind them.

Here a transaction backs up only the items it names (their keys are in the request) and the length
of each table's stream; moto's own backup is the live table itself, so its rollback assignment
changes nothing; on cancellation the named items are put back as they were and the records the
cancelled writes appended are dropped from the same shard object. Callers see DynamoDB's semantics.
`patch_moto_transactions()` installs it; the local server, the benches and the tests call it."""
from __future__ import annotations

import copy
import threading
from dataclasses import dataclass
from typing import Any

import moto.dynamodb.models as backend_module
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table

_installed = threading.Lock()
_ORIGINAL_TRANSACT_WRITE_ITEMS = DynamoDBBackend.transact_write_items
_OPERATIONS = ("Put", "Update", "Delete", "ConditionCheck")


class _LiveTableAsBackup:
    """Stands in for the `copy` module inside moto's DynamoDB backend: a table's "backup" is the
    table itself (items are backed up one by one instead); everything else is copied as before."""

    def deepcopy(self, value: Any, memo: dict[int, Any] | None = None) -> Any:
        if isinstance(value, Table):
            return value
        return copy.deepcopy(value, memo)

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


@dataclass
class _ItemBackup:
    table: Table
    hash_key: DynamoType
    range_key: DynamoType | None
    item: Item | None  # a deep copy of the item before the transaction, None if it did not exist


def _key_of(table: Table, operation: str, request: dict[str, Any]) -> tuple[DynamoType, DynamoType | None] | None:
    attributes = request.get("Item") if operation == "Put" else request.get("Key")
    if not isinstance(attributes, dict) or table.hash_key_attr not in attributes:
        return None  # moto refuses the request itself
    range_value = attributes.get(table.range_key_attr) if table.range_key_attr else None
    return DynamoType(attributes[table.hash_key_attr]), DynamoType(range_value) if range_value else None


def _back_up(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> tuple[list[_ItemBackup], dict[str, int]]:
    items: list[_ItemBackup] = []
    stream_lengths: dict[str, int] = {}
    for entry in transact_items:
        if not isinstance(entry, dict):
            continue
        for operation in _OPERATIONS:
            request = entry.get(operation)
            if not isinstance(request, dict) or request.get("TableName") not in backend.tables:
                continue
            table = backend.tables[request["TableName"]]
            key = _key_of(table, operation, request)
            if key is None:
                continue
            current = table.get_item(*key)
            items.append(_ItemBackup(table, key[0], key[1], copy.deepcopy(current)))
            if table.stream_shard is not None:
                stream_lengths.setdefault(table.name, len(table.stream_shard.items))
    return items, stream_lengths


def _roll_back(backend: DynamoDBBackend, items: list[_ItemBackup], stream_lengths: dict[str, int]) -> None:
    for backup in reversed(items):  # the first backup of a key is the state before the transaction
        table = backup.table
        if backup.range_key is not None:
            if backup.item is None:
                table.items[backup.hash_key].pop(backup.range_key, None)
            else:
                table.items[backup.hash_key][backup.range_key] = backup.item
        elif backup.item is None:
            table.items.pop(backup.hash_key, None)
        else:
            table.items[backup.hash_key] = backup.item
    for name, length in stream_lengths.items():
        shard = backend.tables[name].stream_shard
        if shard is not None:
            del shard.items[length:]


def patch_moto_transactions() -> None:
    """Install the per-item rollback (idempotent)."""
    with _installed:
        if getattr(DynamoDBBackend.transact_write_items, "_omnicard_patched", False):
            return

        def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
            items, stream_lengths = _back_up(self, transact_items)
            try:
                _ORIGINAL_TRANSACT_WRITE_ITEMS(self, transact_items)
            except BaseException:
                _roll_back(self, items, stream_lengths)
                raise

        transact_write_items._omnicard_patched = True  # type: ignore[attr-defined]
        DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
        backend_module.copy = _LiveTableAsBackup()  # type: ignore[assignment]


def unpatch_moto_transactions() -> None:
    """Back to moto as released (a test shows what the pump does there)."""
    with _installed:
        DynamoDBBackend.transact_write_items = _ORIGINAL_TRANSACT_WRITE_ITEMS  # type: ignore[method-assign]
        backend_module.copy = copy  # type: ignore[assignment]
