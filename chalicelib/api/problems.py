"""Domain errors → application/problem+json (RFC 9457), in one place."""
from __future__ import annotations

import json
from typing import Any

from chalice import Response

from chalicelib.domain.errors import DomainError, MethodNotAllowed, NotFound

PROBLEM_JSON = "application/problem+json"

# The answers at the HTTP edges, before any route runs: a path that names no resource, and a known
# path asked for a method it does not serve. Fixed texts that never repeat anything of the request
# (an unknown path's 403 used to echo the caller's bearer token). The local server sends these;
# deployed, API Gateway's gateway responses must send the same bodies (infra/template.json).
UNKNOWN_PATH = NotFound("There is no resource at this path.")
UNSERVED_METHOD = MethodNotAllowed("This path does not serve this method; the Allow header lists those it does.")


def problem(error: DomainError) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": f"https://omnicard.dev/problems/{error.code}",
        "title": error.title,
        "status": error.status,
        "detail": error.detail,
        "code": error.code,
    }
    if error.errors is not None:
        body["errors"] = error.errors
    return body


def problem_response(error: DomainError) -> Response:
    return json_response(problem(error), error.status, error.headers)


def problem_bytes(error: DomainError) -> bytes:
    """The problem+json body as sent on the wire (for edges that answer without Chalice)."""
    return _encode(problem(error)).encode()


def json_response(body: Any, status: int, headers: dict[str, str] | None = None) -> Response:
    content_type = PROBLEM_JSON if status >= 400 else "application/json"
    return Response(body=_encode(body), status_code=status, headers={"Content-Type": content_type, **(headers or {})})


def _encode(body: Any) -> str:
    return json.dumps(body, separators=(",", ":"))
