"""The OpenAPI 3.1 document, generated from the route registry and the pydantic models."""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from chalicelib.api.http import REGISTRY, REQUIRED, EndpointSpec

_REF = "#/components/schemas/{model}"
_ERROR_TEXT = {400: "Idempotency-Key missing", 401: "Missing, invalid or expired token", 403: "Outside the caller's rights",
               404: "Not found", 409: "Business refusal or conflict", 413: "Body larger than 64 KiB",
               415: "Body is not JSON", 422: "Validation error or business limit", 429: "Rate limited",
               503: "Temporarily unavailable; retry with the same Idempotency-Key"}


class Problem(BaseModel):
    """application/problem+json (RFC 9457)."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    errors: list[dict[str, Any]] | None = None


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    models: list[tuple[type[BaseModel], str]] = [(Problem, "serialization")]
    for spec in REGISTRY:
        if spec.body:
            models.append((spec.body, "validation"))
        if spec.response:
            models.append((spec.response, "serialization"))
        models += [(model, "serialization") for _, model in spec.alternatives]
    refs, defs = models_json_schema(list(dict.fromkeys(models)), ref_template=_REF)
    paths: dict[str, dict[str, Any]] = {}
    for spec in REGISTRY:
        paths.setdefault(spec.path, {})[spec.method.lower()] = _operation(spec, refs)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Omnicard API", "version": "1.0.0",
                 "description": "Stored-value and loyalty cards. Money is integer minor units."},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }


def _query_value(schema: dict[str, Any]) -> dict[str, Any]:
    """A query value is a string or absent, never null: an optional parameter's `anyOf [T, null]`
    is documented as T (absence is `required: false`)."""
    options = [option for option in schema.get("anyOf", []) if option.get("type") != "null"]
    if len(options) != 1 or len(options) == len(schema.get("anyOf", [])):
        return schema
    rest = {key: value for key, value in schema.items() if key != "anyOf" and not (key == "default" and value is None)}
    return {**options[0], **rest}


def _tag(path: str) -> str:
    """The resource an operation belongs to, for grouping in the docs page: /v1/cards/... is "cards";
    the API's own routes (health, this document) are "meta"."""
    resource = path.split("/")[2]
    return "meta" if resource in ("health", "openapi.json") else resource


def _operation(spec: EndpointSpec, refs: dict[Any, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = {"operationId": spec.name, "summary": spec.summary, "tags": [_tag(spec.path)],
                                 "parameters": []}
    for name in re.findall(r"{(\w+)}", spec.path):
        operation["parameters"].append({"name": name, "in": "path", "required": True, "schema": {"type": "string"}})
    if spec.query:
        for name, field in spec.query.model_fields.items():
            schema = _query_value(spec.query.model_json_schema()["properties"][name])
            operation["parameters"].append({"name": name, "in": "query", "required": field.is_required(), "schema": schema})
    if spec.idempotency:
        operation["parameters"].append({
            "name": "Idempotency-Key", "in": "header", "required": spec.idempotency == REQUIRED,
            "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -~]{1,255}$"}})
    if spec.body:
        operation["requestBody"] = {"required": True, "content": {
            "application/json": {"schema": refs[(spec.body, "validation")]}}}
    success: dict[str, Any] = {"description": "OK"}
    if spec.response:
        success["content"] = {"application/json": {"schema": refs[(spec.response, "serialization")]}}
    operation["responses"] = {str(spec.status): success}
    for code, model in spec.alternatives:
        operation["responses"][str(code)] = {"description": model.__doc__.strip().splitlines()[0] if model.__doc__ else "OK",
                                             "content": {"application/json": {"schema": refs[(model, "serialization")]}}}
    problem = {"application/problem+json": {"schema": refs[(Problem, "serialization")]}}
    # A malformed Idempotency-Key is a 422 and a key in use a 409, on routes where the key is optional too.
    codes = set(spec.errors) | ({422} if spec.body or spec.query or spec.idempotency else set())
    if spec.idempotency:
        codes |= {409}
    if "{" in spec.path:  # an id outside the shape the server mints names nothing (api/http.py ID_SHAPES)
        codes |= {404}
    if not spec.public:
        codes |= {401, 429}
        operation["security"] = [{"bearer": []}]
    else:
        operation["security"] = []
    if spec.body:
        codes |= {413, 415}
    if spec.idempotency == REQUIRED:
        codes |= {400, 409, 503}
    for code in sorted(codes):
        operation["responses"][str(code)] = {"description": _ERROR_TEXT[code], "content": problem}
    return operation
