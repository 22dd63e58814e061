"""The local server's gateway edge: what API Gateway answers before any route runs, answered with the
contract's problem+json instead of chalice.local's stand-ins (an unknown path's 403 that echoes the
bearer token, TRACE's 501 HTML page).

- A path that matches no route: 404 `not_found` (deployed: the gateway responses in infra/).
- A known path with a method API Gateway cannot route (TRACE, CONNECT, anything but GET, POST, PUT,
  PATCH, DELETE, HEAD, OPTIONS): 405 `method_not_allowed` with `Allow`. Routable methods a path does
  not serve reach the app, which answers 405 itself (chalicelib/api/edges.py), as deployed.
- HEAD answers carry headers only, as HTTP requires (chalice.local writes the body too).
- The per-principal request rate: what AWS WAF's rate-based rule on the API stage does deployed
  (infra/template.json, `ApiWebAcl`) — counted per `Authorization` header value, the rules file's
  `limits.requests_per_principal_per_minute`, health and documents exempt, 429 `rate_limited` with
  `Retry-After` before any route runs — the way the stream pump stands in for the event source
  mapping. Fixed one-minute windows of the app's clock (WAF's window slides; the limit per 60 s is the same).

Both bodies are the app's own (chalicelib/api/problems.py), with the app's CORS headers for an
allowed Origin. `create_local_server` replaces chalice.local's; local/server.py calls it.
"""
from __future__ import annotations

import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler
from typing import Any, Callable

from chalice import Chalice
from chalice.config import Config
from chalice.local import (ChaliceRequestHandler, CustomLocalChalice, LocalChalice, LocalDevServer, LocalGateway,
                           LocalGatewayException, RouteMatcher)

from chalicelib import clock
from chalicelib.api import edges
from chalicelib.api.problems import PROBLEM_JSON, UNKNOWN_PATH, UNSERVED_METHOD, problem_bytes
from chalicelib.domain.errors import RateLimited
from chalicelib.settings import get_settings

# Never rate limited (contract): health, the OpenAPI document and the docs page.
EXEMPT_PATHS = ("/v1/health", "/v1/openapi.json", "/v1/docs")


class RateLimit:
    """Requests per `Authorization` value in the current minute; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._minute = ""
        self._counts: Counter[str] = Counter()

    def admit(self, authorization: str | None, path: str) -> int | None:
        """None when the request may pass; otherwise the seconds until the window resets."""
        limit = get_settings().rules.limits.requests_per_principal_per_minute
        if limit <= 0 or not authorization or path.split("?", 1)[0] in EXEMPT_PATHS:
            return None  # as WAF: a request without the aggregation key is not counted
        now = clock.now()
        minute = now.strftime("%Y-%m-%dT%H:%M")
        with self._lock:
            if minute != self._minute:
                self._minute, self._counts = minute, Counter()
            if self._counts[authorization] >= limit:
                return 60 - now.second
            self._counts[authorization] += 1
        return None


class EdgeProblem(LocalGatewayException):
    """A problem+json answer given by the gateway itself."""

    def __init__(self, status: int, headers: dict[str, Any], body: bytes) -> None:
        super().__init__({"Content-Type": PROBLEM_JSON, **headers}, body)
        self.CODE = status


class EdgeGateway(LocalGateway):
    """chalice.local's gateway, with the contract's answers for unknown paths and unroutable methods."""

    rate = RateLimit()  # one per server process, as one WAF web ACL per stage

    def __init__(self, app_object: Chalice, config: Config) -> None:
        super().__init__(app_object, config)
        self._routes = RouteMatcher(list(app_object.routes))

    def handle_request(self, method: str, path: str, headers: dict[str, Any], body: bytes | None) -> Any:
        origin = next((value for name, value in headers.items() if name.lower() == "origin"), None)
        cors = edges.cors_headers(origin, None, preflight=False)
        authorization = next((value for name, value in headers.items() if name.lower() == "authorization"), None)
        retry_after = self.rate.admit(authorization, path)
        if retry_after is not None:
            limit = get_settings().rules.limits.requests_per_principal_per_minute
            refusal = RateLimited(f"more than {limit} requests in a minute; retry in {retry_after} s")
            raise EdgeProblem(429, {**cors, "Retry-After": str(retry_after)}, problem_bytes(refusal))
        try:
            route = self._routes.match_route(path).route
        except ValueError:
            raise EdgeProblem(404, cors, problem_bytes(UNKNOWN_PATH)) from None
        if method not in (*edges.ROUTABLE, "OPTIONS"):
            raise EdgeProblem(405, {**cors, "Allow": edges.allow_header(route)}, problem_bytes(UNSERVED_METHOD))
        return super().handle_request(method, path, headers, body)


class EdgeRequestHandler(ChaliceRequestHandler):
    def __init__(self, request: Any, client_address: Any, server: Any, app_object: Chalice, config: Config) -> None:
        self.local_gateway = EdgeGateway(app_object, config)
        BaseHTTPRequestHandler.__init__(self, request, client_address, server)  # handles the request

    def __getattr__(self, name: str) -> Callable[[], None]:
        # BaseHTTPRequestHandler looks up do_<METHOD> and answers 501 HTML when it is missing:
        # every method goes to the gateway instead, which answers TRACE and the rest as the contract says.
        if name.startswith("do_"):
            return self._generic_handle
        raise AttributeError(name)

    def _send_http_response_with_body(self, code: int, headers: Any, body: str | bytes) -> None:
        if self.command != "HEAD":
            super()._send_http_response_with_body(code, headers, body)
            return
        self.send_response(code)
        self.send_header("Content-Length", str(len(body.encode() if isinstance(body, str) else body)))
        self.send_header("Content-Type", headers.pop("Content-Type", "application/json"))
        self._send_headers(headers)


def create_local_server(app: Chalice, config: Config, host: str, port: int, **server_options: Any) -> LocalDevServer:
    """chalice.local.create_local_server with the edge above (`server_options`: LocalDevServer's
    handler_cls / server_cls)."""
    if not isinstance(app, LocalChalice):  # a second server in one process must not swap it twice
        CustomLocalChalice.__bases__ = (LocalChalice, app.__class__)
        app.__class__ = CustomLocalChalice
    server_options.setdefault("handler_cls", EdgeRequestHandler)
    return LocalDevServer(app, config, host, port, **server_options)
