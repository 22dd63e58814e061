"""Domain exceptions. Each carries the contract's error code and HTTP status; the API maps them
to problem+json in one place (chalicelib/api/problems.py).

`replayable` marks business refusals: under an Idempotency-Key they are stored and replayed as
they were. Validation, auth, in-flight and server errors store nothing so a corrected retry can
reuse the key (contract, Idempotency)."""
from __future__ import annotations

from typing import Any


class DomainError(Exception):
    code = "error"
    status = 400
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
    code, status, title = "insufficient_funds", 409, "Insufficient funds"


class InsufficientStars(BusinessRefusal):
    code, status, title = "insufficient_stars", 409, "Insufficient stars"


class CardNotActive(BusinessRefusal):
    code, status, title = "card_not_active", 409, "Card is not active"


class AlreadyRefunded(BusinessRefusal):
    code, status, title = "already_refunded", 409, "Already refunded"


class AlreadyDecided(BusinessRefusal):
    code, status, title = "already_decided", 409, "Already decided"


class AlreadyExists(BusinessRefusal):
    code, status, title = "already_exists", 409, "Already exists"


class LimitExceeded(BusinessRefusal):
    code, status, title = "limit_exceeded", 422, "Limit exceeded"


class CurrencyMismatch(BusinessRefusal):
    code, status, title = "currency_mismatch", 422, "Currency mismatch"


class RequestInProgress(DomainError):
    code, status, title = "request_in_progress", 409, "A request with this Idempotency-Key is in progress"


class IdempotencyKeyReused(DomainError):
    code, status, title = "idempotency_key_reused", 422, "Idempotency-Key reused with a different request"


class IdempotencyKeyRequired(DomainError):
    code, status, title = "idempotency_key_required", 400, "Idempotency-Key header required"


class ValidationFailed(DomainError):
    code, status, title = "validation_error", 422, "Validation error"


class PayloadTooLarge(ValidationFailed):
    status, title = 413, "Request body too large"


class UnsupportedMediaType(ValidationFailed):
    status, title = 415, "Unsupported media type"


class Unauthorized(DomainError):
    code, status, title = "unauthorized", 401, "Unauthorized"


class Forbidden(DomainError):
    code, status, title = "forbidden", 403, "Forbidden"


class NotFound(DomainError):
    code, status, title = "not_found", 404, "Not found"


class RateLimited(DomainError):
    code, status, title = "rate_limited", 429, "Too many requests"


class ConcurrentUpdate(DomainError):
    """Optimistic-concurrency retries ran out; the client may retry with the same key."""

    code, status, title = "concurrent_update", 409, "Concurrent update, retry"


class ServiceUnavailable(DomainError):
    code, status, title = "service_unavailable", 503, "Service temporarily unavailable, retry"


class MethodNotAllowed(DomainError):
    """A known path asked for a method it does not serve (an HTTP edge, mapped like every other error)."""

    code, status, title = "method_not_allowed", 405, "Method not allowed"
