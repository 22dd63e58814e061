"""What the API answers around its routes: a method a known path does not serve (405), the CORS
preflight (OPTIONS), and the CORS headers on every response, errors included.

Both are answered by the function, not by API Gateway, so they are the same code locally and
deployed (README, Decisions: "Errors at the edges" and "CORS"):
- API Gateway answers a method that a resource lacks like an unknown path (403 "Missing
  Authentication Token"), so every path registers the methods it does not serve too, and they
  answer the contract's 405 problem+json with an `Allow` header.
- Chalice's `cors=` makes API Gateway OPTIONS mocks with one fixed origin; a stage may allow several
  origins (OMNICARD_CORS_ALLOWED_ORIGINS), and an origin it does not allow must get no CORS header,
  so OPTIONS reaches the function as well.
"""
from __future__ import annotations

from typing import Any, Callable

from chalice import Chalice, Response
from chalice.app import Request, RouteEntry

from chalicelib.api.http import REGISTRY
from chalicelib.api.pages import PAGES
from chalicelib.api.problems import UNSERVED_METHOD, problem_response
from chalicelib.settings import get_settings

# The methods an API Gateway REST API can route to a function (TRACE and the rest never reach it:
# the local server answers them itself, see local/edges.py).
ROUTABLE = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")
ALLOWED_REQUEST_HEADERS = "Authorization, Content-Type, Idempotency-Key"
EXPOSED_HEADERS = "Allow, Idempotent-Replayed, Retry-After"
PREFLIGHT_MAX_AGE_SECONDS = "600"


def served_methods(path: str) -> list[str]:
    """The methods `path` (a route template such as /v1/cards/{card_id}) serves, in route order:
    an API operation's, or a page's (the console and the docs, chalicelib/api/pages.py)."""
    return [spec.method for spec in REGISTRY if spec.path == path] or sorted(m for p, m in PAGES if p == path)


def allow_header(path: str) -> str:
    return ", ".join([*served_methods(path), "OPTIONS"])


def register(app: Chalice) -> None:
    """Give every registered path its OPTIONS (preflight) and a 405 for each method it does not serve.
    Call after every blueprint is registered."""
    for path in sorted({spec.path for spec in REGISTRY} | {path for path, _ in PAGES}):
        unserved = [method for method in ROUTABLE if method not in served_methods(path)]
        app.route(path, methods=[*unserved, "OPTIONS"], content_types=["*/*"])(_edge_view(app, path))


def is_edge(route: RouteEntry) -> bool:
    """Whether a Chalice route is one `register` added (not an operation of the API)."""
    return route.view_name == _EDGE_VIEW


_EDGE_VIEW = "unserved_method"


def _edge_view(app: Chalice, path: str) -> Callable[..., Response]:
    allow = allow_header(path)

    def unserved_method(**_params: str) -> Response:
        if app.current_request is not None and app.current_request.method == "OPTIONS":
            return Response(body="", status_code=204, headers={"Allow": allow})
        response = problem_response(UNSERVED_METHOD)
        response.headers["Allow"] = allow
        return response

    return unserved_method


def cors_headers(origin: str | None, resource_path: str | None, preflight: bool) -> dict[str, str]:
    """The CORS headers for a request from `origin`: none unless the stage allows that origin."""
    if not origin or origin not in get_settings().cors_allowed_origins:
        return {}
    headers = {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
    if preflight:
        methods = served_methods(resource_path) if resource_path else []
        headers.update({"Access-Control-Allow-Methods": ", ".join([*methods, "OPTIONS"]),
                        "Access-Control-Allow-Headers": ALLOWED_REQUEST_HEADERS,
                        "Access-Control-Max-Age": PREFLIGHT_MAX_AGE_SECONDS})
    else:
        headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
    return headers


def cors(request: Request, get_response: Callable[[Request], Response]) -> Response:
    """HTTP middleware: CORS headers on every response of an allowed origin, problem+json included,
    so a browser can read why a call failed. Bearer tokens, not cookies: no Allow-Credentials."""
    response = get_response(request)
    headers = {k.lower(): v for k, v in (request.headers or {}).items()}
    context: dict[str, Any] = request.context or {}
    preflight = request.method == "OPTIONS" and "access-control-request-method" in headers
    response.headers.update(cors_headers(headers.get("origin"), context.get("resourcePath"), preflight))
    if "Vary" not in response.headers:
        response.headers["Vary"] = "Origin"  # a shared cache must not hand one origin's answer to another
    return response
