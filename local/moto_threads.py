"""Make embedded moto safe for concurrent callers.

Real DynamoDB applies each request atomically; moto's in-process backend does not guard its
tables against threads (a TransactWriteItems deep-copies a table while another thread writes it,
and fails with "dictionary changed size during iteration"). Serialising each *request* through
moto restores DynamoDB's per-request atomicity and nothing more: requests from different threads
still interleave freely, so optimistic-concurrency races play out as they would on AWS."""
from __future__ import annotations

import threading
from typing import Any

from moto.core.botocore_stubber import BotocoreStubber

_lock = threading.RLock()
_original_call = BotocoreStubber.__call__


def _one_request_at_a_time(self: BotocoreStubber, *args: Any, **kwargs: Any) -> Any:
    with _lock:
        return _original_call(self, *args, **kwargs)


def serialize_moto_requests() -> None:
    """Install the per-request lock (idempotent)."""
    BotocoreStubber.__call__ = _one_request_at_a_time  # type: ignore[method-assign]
