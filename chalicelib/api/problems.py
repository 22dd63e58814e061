"""Domain errors → application/problem+json (RFC 9457), in one place."""
from __future__ import annotations

import json
from typing import Any

from chalice import Response

from chalicelib.domain.errors import DomainError

PROBLEM_JSON = "application/problem+json"


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


def json_response(body: Any, status: int, headers: dict[str, str] | None = None) -> Response:
    content_type = PROBLEM_JSON if status >= 400 else "application/json"
    return Response(body=json.dumps(body, separators=(",", ":")), status_code=status,
                    headers={"Content-Type": content_type, **(headers or {})})
