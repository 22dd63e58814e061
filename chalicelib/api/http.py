"""The one wrapper every route goes through: authenticate, parse and validate, honour the
Idempotency-Key, call the view, map domain errors to problem+json. It also records each route's
shape for the OpenAPI document, so the document cannot miss a route.

(Chalice turns a view's exception into a 500 before middleware sees it, so errors are mapped here.)"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from chalice import Blueprint, Response
from pydantic import BaseModel, ValidationError

from chalicelib.api import auth
from chalicelib.api.problems import json_response, problem, problem_response, status_of
from chalicelib.domain.errors import (DomainError, IdempotencyKeyRequired, NotFound, PayloadTooLarge,
                                      ServiceUnavailable, UnsupportedMediaType, ValidationFailed)
from chalicelib.domain.holds import parse_hold_id
from chalicelib.domain.ledger import parse_tx_id, tx_id_for
from chalicelib.domain.principals import Principal
from chalicelib.observability import correlate, logger
from chalicelib.services import gate as request_gate
from chalicelib.services.gate import Gate, Replay, is_throttling
from chalicelib.settings import get_settings

# Every content type passes Chalice's routing so that the wrong one gets our 415 problem+json, not Chalice's.
_ROUTE_CONTENT_TYPES = ["*/*"]

# The ids the server mints (domain/cards.py, members.py, adjustments.py, ledger.py), by path parameter.
# A path parameter outside its shape names nothing: 404 before any lookup, so no input reaches int()
# (4,300 digits, "²"), and no second spelling of an id ("_0002", Arabic-Indic or fullwidth digits) is
# ever accepted or stored in `reverses`. ASCII only: `[0-9]`, never `\d`, which matches every script's digits.
_TX_ID = re.compile(r"tx_[A-Za-z0-9_-]{1,200}", re.ASCII)


def _is_canonical_tx_id(value: str) -> bool:
    """A transaction id only in the one spelling the ledger gives it (whatever its format)."""
    if not _TX_ID.fullmatch(value):
        return False
    parsed = parse_tx_id(value)
    return parsed is not None and tx_id_for(*parsed) == value


def _matches(pattern: str) -> Callable[[str], bool]:
    return lambda value: re.fullmatch(pattern, value, re.ASCII) is not None


ID_SHAPES: dict[str, tuple[Callable[[str], bool], str]] = {
    "card_id": (_matches(r"crd_[0-9a-f]{20}"), "card not found"),
    "member_id": (_matches(r"mem_[0-9a-f]{20}"), "member not found"),
    "adjustment_id": (_matches(r"adj_[0-9a-f]{20}"), "adjustment not found"),
    "tx_id": (_is_canonical_tx_id, "transaction not found"),
    "hold_id": (lambda value: parse_hold_id(value) is not None, "hold not found"),
    "webhook_id": (_matches(r"whk_[0-9a-f]{20}"), "webhook not found"),
}

REQUIRED, OPTIONAL = "required", "optional"


@dataclass(frozen=True)
class EndpointSpec:
    method: str
    path: str
    name: str
    summary: str
    status: int
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    response: type[BaseModel] | None
    idempotency: str | None
    public: bool
    errors: tuple[int, ...]
    alternatives: tuple[tuple[int, type[BaseModel]], ...] = ()


@dataclass(frozen=True)
class Reply:
    """A view's result with a status other than the route's usual one (e.g. 202 for a pending adjustment)."""

    status: int
    body: BaseModel


REGISTRY: list[EndpointSpec] = []


@dataclass
class Call:
    principal: Principal
    body: Any = None
    query: Any = None
    gate: Gate | None = None
    headers: dict[str, str] = field(default_factory=dict)


def endpoint(bp: Blueprint, method: str, path: str, *, summary: str, status: int = 200,
             body: type[BaseModel] | None = None, query: type[BaseModel] | None = None,
             response: type[BaseModel] | None = None, idempotency_key: str | None = None,
             public: bool = False, errors: tuple[int, ...] = (),
             alternatives: tuple[tuple[int, type[BaseModel]], ...] = ()) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register `view(call, **path_params)` as a route.

    `idempotency_key`: REQUIRED (creates or moves value), OPTIONAL (honoured when sent) or None.
    Under a key the view's service reads the key's record with its plan and stores the first
    response in its own transaction (`call.gate`); the wrapper stores business refusals."""

    def register(view: Callable[..., Any]) -> Callable[..., Any]:
        REGISTRY.append(EndpointSpec(method, path, view.__name__, summary, status, body, query, response,
                                     idempotency_key, public, errors, alternatives))

        def handle(**params: str) -> Response:
            request = bp.current_request
            try:
                return _serve(request, params)
            except DomainError as error:
                return problem_response(error)
            except Exception as error:
                if is_throttling(error):  # still throttled after botocore's retries: the client retries later
                    return problem_response(ServiceUnavailable(
                        "the card store is busy; retry with the same Idempotency-Key", headers={"Retry-After": "1"}))
                # a bug, not the client's fault: log it, answer a problem without a trace
                logger.exception("unhandled error", extra={"route": path, "method": method})
                return json_response({"type": "about:blank", "title": "Internal error", "status": 500,
                                      "detail": "internal error", "code": "internal_error"}, 500)

        def _serve(request: Any, params: dict[str, str]) -> Response:
            headers = {k.lower(): v for k, v in (request.headers or {}).items()}
            correlate(operation=view.__name__, card_id=params.get("card_id"), member_id=params.get("member_id"))
            principal = None if public else auth.authenticate(headers.get("authorization"))
            if principal is not None:
                correlate(role=principal.role, channel=principal.channel)
            _require_known_ids(params)
            call = Call(principal=principal, headers=headers)
            raw = None
            if body is not None:
                raw = _json_object(request.raw_body, headers)
                call.body = _validate(body, raw, "body")
            if query is not None:
                call.query = _validate(query, dict(request.query_params or {}), "query")
            key = _idempotency_key(headers, idempotency_key) if method == "POST" else None
            correlate(idempotency_key=key)
            if key is not None:
                call.gate = request_gate.admit(principal.sub, key, _fingerprint(method, path, params, raw), status)
            try:
                return _answer(call, params)
            except Replay as replay:
                correlate(replayed=not replay.own)
                return json_response(replay.body, replay.status, None if replay.own else {"Idempotent-Replayed": "true"})

        def _answer(call: Call, params: dict[str, str]) -> Response:
            """Run the view; under a key, store a business refusal as the first response."""
            try:
                result = view(call, **params)
            except DomainError as error:
                if call.gate is not None and error.replayable:
                    request_gate.finish(call.gate, status_of(error), problem(error))
                raise
            code, result = (result.status, result.body) if isinstance(result, Reply) else (status, result)
            if code == 204:
                return Response(body="", status_code=204)
            return json_response(_dump(result), code)

        handle.__name__ = view.__name__
        handle.__doc__ = view.__doc__
        bp.route(path, methods=[method], content_types=_ROUTE_CONTENT_TYPES)(handle)
        return view

    return register


def _dump(result: Any) -> Any:
    return result.model_dump(mode="json", by_alias=True) if isinstance(result, BaseModel) else result


def _require_known_ids(params: dict[str, str]) -> None:
    for name, value in params.items():
        well_formed, detail = ID_SHAPES.get(name, (None, ""))
        if well_formed is not None and not well_formed(value):
            raise NotFound(detail)


def _is_json(content_type: str) -> bool:
    """`application/json`, optionally with `; charset=utf-8` (contract, Errors); nothing else."""
    media_type, *parameters = [part.strip().lower() for part in content_type.split(";")]
    return media_type == "application/json" and all(p.replace(" ", "") in ("charset=utf-8", 'charset="utf-8"', "")
                                                    for p in parameters)


def _json_object(raw_body: bytes | None, headers: dict[str, str]) -> dict[str, Any]:
    raw_body = raw_body or b""
    if len(raw_body) > get_settings().max_body_bytes:
        raise PayloadTooLarge(f"the request body exceeds {get_settings().max_body_bytes} bytes")
    if not _is_json(headers.get("content-type", "application/json")):
        raise UnsupportedMediaType("send the request body as application/json (optionally ; charset=utf-8)")
    if not raw_body.strip():
        return {}
    try:
        value = json.loads(raw_body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        # RecursionError: nesting deeper than the parser's recursion limit (64 KiB of "[" is enough)
        raise ValidationFailed("the request body is not valid JSON",
                               errors=[{"loc": ["body"], "msg": "malformed or too deeply nested JSON",
                                        "type": "json_invalid"}]) from exc
    if not isinstance(value, dict):
        raise ValidationFailed("the request body must be a JSON object",
                               errors=[{"loc": ["body"], "msg": "not an object", "type": "object_type"}])
    return value


def _validate(model: type[BaseModel], value: dict[str, Any], where: str) -> BaseModel:
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        errors = [{"loc": [where, *e["loc"]], "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        raise ValidationFailed(f"the request {where} is not valid", errors=errors) from exc


def _idempotency_key(headers: dict[str, str], policy: str | None) -> str | None:
    key = headers.get("idempotency-key")
    if key is None or policy is None:
        if policy == REQUIRED:
            raise IdempotencyKeyRequired("send an Idempotency-Key header (1..255 printable characters)")
        return None
    if not 1 <= len(key) <= 255 or not key.isprintable() or not key.isascii():
        raise ValidationFailed("Idempotency-Key must be 1..255 printable characters",
                               errors=[{"loc": ["header", "Idempotency-Key"], "msg": "1..255 printable characters",
                                        "type": "string_pattern_mismatch"}])
    return key


def _fingerprint(method: str, path: str, params: dict[str, str], body: dict[str, Any] | None) -> str:
    """What "the same request" means under one key: method, route, path parameters and body."""
    canonical = json.dumps([method, path, params, body], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
