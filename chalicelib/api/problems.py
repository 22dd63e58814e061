"""Domain errors → application/problem+json (RFC 9457), in one place."""
from __future__ import annotations

import json
from typing import Any

from chalice import Response

from chalicelib.domain import errors
from chalicelib.domain.errors import DomainError, MethodNotAllowed, NotFound

PROBLEM_JSON = "application/problem+json"

# The answers at the HTTP edges, before any route runs: a path that names no resource, and a known
# path asked for a method it does not serve. Fixed texts that never repeat anything of the request
# (an unknown path's 403 used to echo the caller's bearer token). The local server sends these;
# deployed, API Gateway's gateway responses must send the same bodies (infra/template.json).
UNKNOWN_PATH = NotFound("There is no resource at this path.")
UNSERVED_METHOD = MethodNotAllowed("This path does not serve this method; the Allow header lists those it does.")


# The contract's HTTP status of each domain error (contract, Errors). Domain code raises by meaning;
# only the API knows statuses. A subclass without a row of its own takes its nearest ancestor's
# (e.g. every business refusal not listed would be a 409), so the walk below follows the MRO.
STATUS: dict[type[DomainError], int] = {
    errors.InsufficientFunds: 409, errors.InsufficientStars: 409, errors.CardNotActive: 409,
    errors.AlreadyRefunded: 409, errors.AlreadyDecided: 409, errors.AlreadyExists: 409, errors.HoldNotActive: 409,
    errors.RequestInProgress: 409, errors.ConcurrentUpdate: 409,
    errors.LimitExceeded: 422, errors.CurrencyMismatch: 422, errors.IdempotencyKeyReused: 422,
    errors.ValidationFailed: 422, errors.PayloadTooLarge: 413, errors.UnsupportedMediaType: 415,
    errors.IdempotencyKeyRequired: 400, errors.Unauthorized: 401, errors.Forbidden: 403, errors.NotFound: 404,
    errors.MethodNotAllowed: 405, errors.RateLimited: 429, errors.ServiceUnavailable: 503,
    errors.BusinessRefusal: 409, errors.DomainError: 400,
}


def status_of(error: DomainError | type[DomainError]) -> int:
    """The HTTP status of a domain error (class or instance)."""
    cls = error if isinstance(error, type) else type(error)
    return next(STATUS[klass] for klass in cls.__mro__ if klass in STATUS)


def problem(error: DomainError) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": f"https://omnicard.dev/problems/{error.code}",
        "title": error.title,
        "status": status_of(error),
        "detail": error.detail,
        "code": error.code,
    }
    if error.errors is not None:
        body["errors"] = error.errors
    return body


def problem_response(error: DomainError) -> Response:
    return json_response(problem(error), status_of(error), error.headers)


def problem_bytes(error: DomainError) -> bytes:
    """The problem+json body as sent on the wire (for edges that answer without Chalice)."""
    return _encode(problem(error)).encode()


def json_response(body: Any, status: int, headers: dict[str, str] | None = None) -> Response:
    content_type = PROBLEM_JSON if status >= 400 else "application/json"
    return Response(body=_encode(body), status_code=status, headers={"Content-Type": content_type, **(headers or {})})


def _encode(body: Any) -> str:
    return json.dumps(body, separators=(",", ":"))
