"""Pages for people, served by the app itself from files shipped in chalicelib/web/ (and Swagger UI's
assets from the Powertools package): the call-center console at /console and the API docs at
/v1/docs. Same origin as the API, so no CORS, no CDN, and no build step.

These are not API operations: they are absent from the OpenAPI document (PAGES lists them), carry no
token, are not rate limited, and answer HTML, JavaScript or CSS under a strict Content-Security-Policy
(scripts and styles from this origin only; the console may also POST to the stage's OAuth token URL)."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import get_args
from urllib.parse import urlsplit

from chalice import Blueprint, Response

from chalicelib.api.problems import problem_response
from chalicelib.domain.adjustments import ReasonCode
from chalicelib.domain.errors import NotFound
from chalicelib.settings import console_settings

bp = Blueprint(__name__)

WEB = Path(__file__).resolve().parent.parent / "web"
SWAGGER_UI = "aws_lambda_powertools.event_handler.openapi.swagger_ui"
# (path, method) of every route this module serves: the OpenAPI test expects exactly these beside the API's.
PAGES = {("/console", "GET"), ("/console/{asset}", "GET"), ("/v1/docs", "GET"), ("/v1/docs/{asset}", "GET")}

_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
          ".css": "text/css; charset=utf-8"}
# Swagger UI sets element styles from script and its stylesheet inlines SVG icons as data: URLs.
_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'{connect}; "
        "font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


@dataclass(frozen=True)
class Asset:
    body: str
    content_type: str

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body.encode()).hexdigest()[:32] + '"'


@lru_cache(maxsize=None)
def _web(name: str) -> Asset:
    return Asset((WEB / name).read_text(encoding="utf-8"), _TYPES[Path(name).suffix])


@lru_cache(maxsize=None)
def _swagger(name: str) -> Asset:
    return Asset(resources.files(SWAGGER_UI).joinpath(name).read_text(encoding="utf-8"), _TYPES[Path(name).suffix])


_CONSOLE_ASSETS = {"console.js": lambda: _web("console.js"), "console.css": lambda: _web("console.css")}
_DOCS_ASSETS = {"docs.js": lambda: _web("docs.js"), "docs.css": lambda: _web("docs.css"),
                "swagger-ui.js": lambda: _swagger("swagger-ui-bundle.min.js"),
                "swagger-ui.css": lambda: _swagger("swagger-ui.min.css")}


def _console_page() -> Asset:
    """console.html with this stage's sign-in settings and the contract's reason codes as inert JSON
    (the CSP allows no inline script)."""
    settings = console_settings()
    data = json.dumps(settings.model_dump(mode="json") | {"oauth": settings.oauth, "reason_codes": get_args(ReasonCode)})
    data = data.replace("<", "\\u003c")
    return Asset(_web("console.html").body.replace("{{settings}}", data), _TYPES[".html"])


def _connect_sources() -> str:
    url = console_settings().oauth_token_url
    if not url:
        return ""
    parts = urlsplit(url)
    return f" {parts.scheme}://{parts.netloc}"


def _serve(asset: Asset) -> Response:
    headers = {"Content-Type": asset.content_type, "ETag": asset.etag, "Cache-Control": "no-cache",
               "Content-Security-Policy": _CSP.format(connect=_connect_sources()),
               "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
    request_headers = {k.lower(): v for k, v in (bp.current_request.headers or {}).items()}
    if request_headers.get("if-none-match") == asset.etag:
        return Response(body="", status_code=304, headers=headers)
    return Response(body=asset.body, status_code=200, headers=headers)


def _from(assets: dict, name: str) -> Response:
    load = assets.get(name)
    return _serve(load()) if load else problem_response(NotFound("no such file"))


@bp.route("/console", methods=["GET"])
def console_page() -> Response:
    return _serve(_console_page())


@bp.route("/console/{asset}", methods=["GET"])
def console_asset(asset: str) -> Response:
    return _from(_CONSOLE_ASSETS, asset)


@bp.route("/v1/docs", methods=["GET"])
def docs_page() -> Response:
    return _serve(_web("docs.html"))


@bp.route("/v1/docs/{asset}", methods=["GET"])
def docs_asset(asset: str) -> Response:
    return _from(_DOCS_ASSETS, asset)
