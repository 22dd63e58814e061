"""Make embedded moto safe for concurrent callers, and keep the stream pump from starving.

Real DynamoDB applies each request atomically; moto's in-process backend does not guard its
tables against threads (a TransactWriteItems deep-copies a table while another thread writes it,
and fails with "dictionary changed size during iteration"). Serialising each *request* through
moto restores DynamoDB's per-request atomicity and nothing more: requests from different threads
still interleave freely, so optimistic-concurrency races play out as they would on AWS.

One process does everything locally, where AWS gives the stream handler its own capacity: with
32 clients queued on moto, a pump waiting its turn behind all of them fell further behind every
second and the views never caught up. A thread that calls `prioritise_this_thread()` (the stream
pump) is let in before the others waiting; between its calls the others go on, oldest request first."""
from __future__ import annotations

import heapq
import itertools
import threading
import time
from types import TracebackType
from typing import Any

from moto.core.botocore_stubber import BotocoreStubber

_local = threading.local()


class PriorityLock:
    """A reentrant lock handed out in order: priority threads first, then the thread whose
    request began earliest (`begin_request`; otherwise when it asked for the lock).

    Oldest request first, not first come at each call: a request makes several moto calls, and
    with 32 clients an unordered lock let some wait behind many newer ones, call after call
    (a soak client timed out after 60 s)."""

    def __init__(self) -> None:
        self._condition = threading.Condition(threading.Lock())
        self._owner: int | None = None
        self._depth = 0
        self._waiting: list[tuple[int, float, int]] = []
        self._tickets = itertools.count()

    def acquire(self) -> bool:
        me = threading.get_ident()
        with self._condition:
            if self._owner == me:
                self._depth += 1
                return True
            since = getattr(_local, "since", None)
            place = (0 if getattr(_local, "priority", False) else 1,
                     since if since is not None else time.monotonic(), next(self._tickets))
            heapq.heappush(self._waiting, place)
            while self._owner is not None or self._waiting[0] != place:
                self._condition.wait()
            heapq.heappop(self._waiting)
            self._owner, self._depth = me, 1
            return True

    def release(self) -> None:
        with self._condition:
            if self._owner != threading.get_ident():
                raise RuntimeError("release of a lock this thread does not hold")
            self._depth -= 1
            if self._depth == 0:
                self._owner = None
                self._condition.notify_all()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.release()


# One lock for every way into this process's moto: boto3 calls and the HTTP endpoint.
lock = PriorityLock()
_original_call = BotocoreStubber.__call__


def _one_request_at_a_time(self: BotocoreStubber, *args: Any, **kwargs: Any) -> Any:
    with lock:
        return _original_call(self, *args, **kwargs)


def serialize_moto_requests() -> None:
    """Install the per-request lock (idempotent)."""
    BotocoreStubber.__call__ = _one_request_at_a_time  # type: ignore[method-assign]


def begin_request() -> None:
    """This thread now serves a request that began now: its moto calls queue by that time."""
    _local.since = time.monotonic()


def end_request() -> None:
    _local.since = None


def prioritise_this_thread() -> None:
    """This thread's moto requests go before those of ordinary threads waiting at the time."""
    _local.priority = True
