"""Domain exceptions. Each carries the contract's error code and a title; HTTP knows nothing here:
the API maps each class to its status and to problem+json in one place (chalicelib/api/problems.py).

`replayable` marks business refusals: under an Idempotency-Key they are stored and replayed as
they were. Validation, auth, in-flight and server errors store nothing so a corrected retry can
reuse the key (contract, Idempotency)."""
from __future__ import annotations

from typing import Any


class DomainError(Exception):
    code = "error"
    title = "Request failed"
    replayable = False

    def __init__(self, detail: str | None = None, *, errors: list[dict[str, Any]] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.errors = errors
        self.headers = headers or {}


class BusinessRefusal(DomainError):
    replayable = True


class InsufficientFunds(BusinessRefusal):
    code, title = "insufficient_funds", "Insufficient funds"


class InsufficientStars(BusinessRefusal):
    code, title = "insufficient_stars", "Insufficient stars"


class CardNotActive(BusinessRefusal):
    code, title = "card_not_active", "Card is not active"


class AlreadyRefunded(BusinessRefusal):
    code, title = "already_refunded", "Already refunded"


class AlreadyDecided(BusinessRefusal):
    code, title = "already_decided", "Already decided"


class AlreadyExists(BusinessRefusal):
    code, title = "already_exists", "Already exists"


class HoldNotActive(BusinessRefusal):
    code, title = "hold_not_active", "Hold is not active"


class LimitExceeded(BusinessRefusal):
    code, title = "limit_exceeded", "Limit exceeded"


class CurrencyMismatch(BusinessRefusal):
    code, title = "currency_mismatch", "Currency mismatch"


class RequestInProgress(DomainError):
    code, title = "request_in_progress", "A request with this Idempotency-Key is in progress"


class IdempotencyKeyReused(DomainError):
    code, title = "idempotency_key_reused", "Idempotency-Key reused with a different request"


class IdempotencyKeyRequired(DomainError):
    code, title = "idempotency_key_required", "Idempotency-Key header required"


class ValidationFailed(DomainError):
    code, title = "validation_error", "Validation error"


class PayloadTooLarge(ValidationFailed):
    title = "Request body too large"


class UnsupportedMediaType(ValidationFailed):
    title = "Unsupported media type"


class Unauthorized(DomainError):
    code, title = "unauthorized", "Unauthorized"


class Forbidden(DomainError):
    code, title = "forbidden", "Forbidden"


class NotFound(DomainError):
    code, title = "not_found", "Not found"


class RateLimited(DomainError):
    code, title = "rate_limited", "Too many requests"


class ConcurrentUpdate(DomainError):
    """Optimistic-concurrency retries ran out; the client may retry with the same key."""

    code, title = "concurrent_update", "Concurrent update, retry"


class ServiceUnavailable(DomainError):
    code, title = "service_unavailable", "Service temporarily unavailable, retry"


class MethodNotAllowed(DomainError):
    """A known path asked for a method it does not serve (an HTTP edge, mapped like every other error)."""

    code, title = "method_not_allowed", "Method not allowed"
