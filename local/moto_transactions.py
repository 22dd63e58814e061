"""Keep embedded moto's TransactWriteItems from slowing down as the tables and the stream grow.

moto backs up each table a transaction touches with `copy.deepcopy` — again for every item of the
transaction — and a table's deep copy includes every stream record it ever emitted. On the local
stack a payment (four items) took ~0.15 s after start-up and over a second after a few hundred
writes, which the stream handler's own transactions then queued behind. Two changes, neither
visible to a caller:
- within one transaction each table is backed up once;
- the backup shares the stream records (never changed once emitted) and copies only their list,
  so a cancelled transaction still drops the records it appended (DynamoDB emits none for it)."""
from __future__ import annotations

import copy
import threading
from typing import Any

import moto.dynamodb.models as backend_module
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import StreamShard, Table

_installed = threading.Lock()
_state = threading.local()


class _BackupOncePerTransaction:
    """Stands in for the `copy` module inside moto's DynamoDB backend."""

    def deepcopy(self, value: Any, memo: dict[int, Any] | None = None) -> Any:
        backups: dict[int, tuple[Any, Any]] | None = getattr(_state, "backups", None)
        if backups is None or not isinstance(value, Table):
            return copy.deepcopy(value, memo)
        if id(value) not in backups:
            backups[id(value)] = (value, copy.deepcopy(value, memo))
        return backups[id(value)][1]

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


def _copy_shard(self: StreamShard, memo: dict[int, Any]) -> StreamShard:
    clone = copy.copy(self)
    # The table being deep-copied registered its copy in `memo` before copying its attributes.
    clone.table = memo.get(id(self.table), self.table)
    clone.items = list(self.items)
    memo[id(self)] = clone
    return clone


def cheap_transaction_backups() -> None:
    """Install both changes (idempotent)."""
    with _installed:
        if getattr(DynamoDBBackend.transact_write_items, "_omnicard_once", False):
            return
        original = DynamoDBBackend.transact_write_items

        def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
            _state.backups = {}
            try:
                original(self, transact_items)
            finally:
                _state.backups = None

        transact_write_items._omnicard_once = True  # type: ignore[attr-defined]
        DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
        backend_module.copy = _BackupOncePerTransaction()  # type: ignore[assignment]
        StreamShard.__deepcopy__ = _copy_shard  # type: ignore[attr-defined]
