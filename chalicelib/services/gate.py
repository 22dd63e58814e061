"""The request gate: what every write passes under its Idempotency-Key, from an HTTP route or from
the stream's auto-reload alike.

A key costs no round trip of its own. `admit` only names the request's record; the write's plan
reads that record in the same BatchGetItem as the card or member (`services.ledger.read`), and the
write that answers the request stores the first response with a Put conditioned on the key being
new — inside the value move's TransactWriteItems, or alone for a business refusal (`finish`).
Whoever loses that condition (a concurrent duplicate; a botocore resend of a transaction that had
committed) reads the record and replays it (`answered`): the contract's "the first's response as a
replay". Validation, auth and server errors store nothing, so there is nothing to abandon.

The per-principal request rate is enforced at the edge, not here (README, "Abuse limits")."""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from chalicelib import clock
from chalicelib.domain.errors import IdempotencyKeyReused, RequestInProgress
from chalicelib.settings import get_settings
from chalicelib.store import idempotency, keys
from chalicelib.store.idempotency import Record
from chalicelib.store.transactions import is_throttling

__all__ = ["Gate", "Replay", "admit", "settle", "claim", "finish", "answered", "is_throttling"]


@dataclass(frozen=True)
class Gate:
    """One request under its Idempotency-Key (scoped to the principal)."""

    key: dict[str, str]  # the record's item key
    idempotency_key: str
    request_hash: str
    token: str  # this request's own mark on the record it writes
    expires_at: int
    success_status: int


class Replay(Exception):
    """The key was answered already: return this first response (`own`: by this very request,
    whose transaction committed although its response was lost — not a replay to the client)."""

    def __init__(self, status: int, body: Any, *, own: bool = False) -> None:
        super().__init__(f"replay {status}")
        self.status, self.body, self.own = status, body, own


def admit(principal_sub: str, idempotency_key: str, request_hash: str, success_status: int) -> Gate:
    """The gate of one request; reads and writes nothing."""
    ttl = timedelta(hours=get_settings().idempotency_ttl_hours)
    return Gate(key=keys.idempotency(principal_sub, idempotency_key), idempotency_key=idempotency_key,
                request_hash=request_hash, token=secrets.token_hex(12),
                expires_at=int((clock.now() + ttl).timestamp()), success_status=success_status)


def settle(gate: Gate, record: Record | None) -> None:
    """Go on if the key is new; otherwise Replay its first response, or refuse a different request
    under it (IdempotencyKeyReused)."""
    if record is None:
        return
    if record.request_hash != gate.request_hash:
        raise IdempotencyKeyReused("this Idempotency-Key was used with a different request")
    if record.status is None:  # an in-progress lock of the two-step protocol (expires with its TTL)
        raise RequestInProgress()
    raise Replay(record.status, record.body, own=record.token == gate.token)


def claim(gate: Gate, body: Any, status: int | None = None) -> dict[str, Any]:
    """The TransactWriteItems element storing this request's first response (default status: the
    route's success status); it fails if the key was answered meanwhile."""
    return idempotency.claim(gate.key, token=gate.token, idempotency_key=gate.idempotency_key,
                             request_hash=gate.request_hash, expires_at=gate.expires_at,
                             status=gate.success_status if status is None else status, body=body)


def finish(gate: Gate, status: int, body: Any) -> None:
    """Store the first response of a request whose write did not carry it (a business refusal,
    or a write that changed nothing); Replay the first answer if another request stored one first."""
    if not idempotency.put(claim(gate, body, status)):
        answered(gate)


def answered(gate: Gate) -> None:
    """The key was answered while this request ran: Replay that answer (or refuse a different
    request under the key). A record already gone again (TTL) reads as still in flight."""
    settle(gate, idempotency.get(gate.key))
    raise RequestInProgress("another request under this Idempotency-Key finished meanwhile; retry")
