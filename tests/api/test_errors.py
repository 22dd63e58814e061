"""Bad input is a clear problem+json 4xx that changes nothing — never a 500."""
import json

import pytest

from tests.conftest import money, tokens


@pytest.fixture
def card(api):
    return api.issue()


def _reload_path(card):
    return f"/v1/cards/{card['card_id']}/reloads"


@pytest.mark.parametrize("raw", ["{", "not json", "[1, 2]", '"text"', "null", "\xff\xfe"])
def test_malformed_or_non_object_json_is_a_validation_error(api, card, raw):
    response = api.request("POST", _reload_path(card), tokens.agent(), key="k", raw=raw)
    assert (response.status_code, response.json["code"]) == (422, "validation_error")
    assert response.headers["Content-Type"] == "application/problem+json"
    assert set(response.json) >= {"type", "title", "status", "detail", "code", "errors"}


def test_wrong_content_type_is_refused_as_a_problem(api, card):
    body = json.dumps({"amount": money(1000), "payment_ref": "p"})
    response = api.request("POST", _reload_path(card), tokens.agent(), key="k", raw=body,
                           headers={"Content-Type": "text/plain"})
    assert (response.status_code, response.json["code"]) == (415, "validation_error")
    assert api.balance(card["card_id"]) == 0


def test_oversize_body_is_413(api, card):
    body = json.dumps({"amount": money(1000), "payment_ref": "p" * (65 * 1024)})
    response = api.request("POST", _reload_path(card), tokens.agent(), key="k", raw=body)
    assert (response.status_code, response.json["code"]) == (413, "validation_error")


@pytest.mark.parametrize("body", [
    {"amount": money(1000)},
    {"amount": money(1000), "payment_ref": "p", "extra": 1},
    {"amount": {"amount": 1000, "currency": "usd"}, "payment_ref": "p"},
    {"amount": {"amount": 1000, "currency": "USD", "x": 1}, "payment_ref": "p"},
    {"amount": 1000, "payment_ref": "p"},
    {"amount": money(1000), "payment_ref": ""},
    {"amount": money(1000), "payment_ref": 7},
])
def test_invalid_reload_bodies_are_validation_errors_that_change_nothing(api, card, body):
    response = api.post(_reload_path(card), tokens.agent(), body)
    assert (response.status_code, response.json["code"]) == (422, "validation_error")
    assert response.json["errors"] and all(e["loc"][0] == "body" for e in response.json["errors"])
    assert api.balance(card["card_id"]) == 0


def test_health_and_openapi_need_no_token_but_everything_else_does(api, card):
    assert api.get("/v1/health").json == {"status": "ok"}
    assert api.get("/v1/openapi.json").status_code == 200
    response = api.get(f"/v1/cards/{card['card_id']}")
    assert (response.status_code, response.json["code"]) == (401, "unauthorized")
    assert response.headers["Content-Type"] == "application/problem+json"
