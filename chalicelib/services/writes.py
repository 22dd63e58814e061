"""How every write is committed: one TransactWriteItems that carries the idempotency record,
retried on a stale read or a conflicting transaction with jittered backoff, a bounded number of times."""
from __future__ import annotations

import random
import time
from typing import Any, Callable, TypeVar

from chalicelib.domain.errors import ConcurrentUpdate, DomainError, RequestInProgress
from chalicelib.settings import get_settings
from chalicelib.domain.audit import AuditRecord
from chalicelib.store import audit as audit_store
from chalicelib.store import idempotency
from chalicelib.store.idempotency import IdempotencyLock
from chalicelib.store.transactions import TransactionCancelled, transact

T = TypeVar("T")
IDEMPOTENCY = "idempotency"


def commit(items: list[tuple[str, dict[str, Any]]], lock: IdempotencyLock | None, response_body: Any, *,
           audit: AuditRecord | None = None, status: int | None = None) -> None:
    """Write `items` and, under the same transaction, the audit record of a staff action and the
    first response (`status`, default the route's) for the request's key."""
    if audit is not None:
        items = [*items, ("audit", audit_store.put(audit))]
    if lock is not None:
        items = [*items, (IDEMPOTENCY, idempotency.completion(lock, response_body, status))]
    transact(items)


def retrying(attempt: Callable[[], T], *, refusals: dict[str, Callable[[], Exception]] | None = None) -> T:
    """Run `attempt` (read, plan, commit) until it commits. A failed condition on a label in
    `refusals` is final (e.g. the email already taken); anything else means our read was stale
    or another transaction was in the way, so read again and re-plan."""
    refusals = refusals or {}
    attempts = get_settings().write_attempts
    for number in range(attempts):
        try:
            return attempt()
        except TransactionCancelled as exc:
            if IDEMPOTENCY in exc.failed:
                raise RequestInProgress("another request took over this Idempotency-Key") from exc
            for label in exc.failed:
                if label in refusals:
                    raise refusals[label]() from exc
            if number == attempts - 1:
                raise ConcurrentUpdate("the card changed under too many concurrent requests; retry with the same Idempotency-Key") from exc
            time.sleep(random.uniform(0, min(0.05, 0.001 * 2 ** number)))
    raise AssertionError("unreachable")
