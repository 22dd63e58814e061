"""The OpenAPI document is valid OpenAPI 3 and covers every route the app serves but its pages for
people (the console and the docs page, chalicelib/api/pages.py)."""
from openapi_spec_validator import validate

from app import app
from chalicelib.api import edges
from chalicelib.api.pages import PAGES


def test_openapi_document_is_valid_and_covers_every_route(api):
    document = api.get("/v1/openapi.json").json
    validate(document)
    served = {(path, method.lower()) for path, methods in app.routes.items() for method, entry in methods.items()
              if not edges.is_edge(entry)}  # OPTIONS and the 405s of methods a path does not serve
    documented = {(path, method) for path, operations in document["paths"].items() for method in operations}
    pages = {(path, method.lower()) for path, method in PAGES}
    assert served == documented | pages
    assert not documented & pages


def test_every_operation_is_grouped_under_a_tag(api):
    document = api.get("/v1/openapi.json").json
    tags = {operation["tags"][0] for operations in document["paths"].values() for operation in operations.values()}
    assert {"cards", "members", "adjustments", "meta"} <= tags


def test_value_moving_operations_document_the_idempotency_key_and_problems(api):
    document = api.get("/v1/openapi.json").json
    reload = document["paths"]["/v1/cards/{card_id}/reloads"]["post"]
    key = next(p for p in reload["parameters"] if p["name"] == "Idempotency-Key")
    assert key["required"] is True
    assert {"201", "400", "401", "409", "422"} <= set(reload["responses"])
    assert "application/problem+json" in reload["responses"]["409"]["content"]
    money = document["components"]["schemas"]["PositiveMoney"]["properties"]["amount"]
    assert money["type"] == "integer"
