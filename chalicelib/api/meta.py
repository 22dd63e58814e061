"""Health and the API's own description."""
from __future__ import annotations

from chalice import Blueprint
from pydantic import BaseModel

from chalicelib.api import openapi
from chalicelib.api.http import Call, endpoint

bp = Blueprint(__name__)


class Health(BaseModel):
    status: str


@endpoint(bp, "GET", "/v1/health", summary="Liveness", response=Health, public=True)
def health(call: Call) -> Health:
    return Health(status="ok")


@endpoint(bp, "GET", "/v1/openapi.json", summary="This API's OpenAPI 3 document", public=True)
def openapi_document(call: Call) -> dict:
    return openapi.document()
