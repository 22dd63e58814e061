"""The answers around the routes, as the function gives them (so the same locally and deployed):
405 for a method a path does not serve, and CORS for the stage's allowed origins — on every path of
the route registry, so a new route gets both without a new test."""
from __future__ import annotations

import json
import re

import pytest

from app import app as chalice_app
from chalicelib.api import edges
from chalicelib.api.http import REGISTRY
from chalicelib.settings import Settings, SettingsError, get_settings, reset_settings
from tests.conftest import ROOT, tokens

PATHS = sorted({spec.path for spec in REGISTRY})
STAGE_ORIGINS = {name: stage["environment_variables"].get("OMNICARD_CORS_ALLOWED_ORIGINS", "")
                 for name, stage in json.loads((ROOT / ".chalice" / "config.json").read_text())["stages"].items()}
ALLOWED = STAGE_ORIGINS["local"].split(",")[0]  # the test client runs the local stage


@pytest.fixture(autouse=True)
def local_stage_origins(monkeypatch):
    """The local stage's origins in the environment before the `aws` fixture reads the settings (the
    test client sets a stage's variables only during a request, after the settings are cached)."""
    monkeypatch.setenv("OMNICARD_CORS_ALLOWED_ORIGINS", STAGE_ORIGINS["local"])
    reset_settings()
    yield
    reset_settings()


def _concrete(path: str) -> str:
    """A well-formed path of this template (ids in the shape the server mints; they need not exist)."""
    shapes = {"card_id": "crd_" + "0" * 20, "member_id": "mem_" + "0" * 20, "adjustment_id": "adj_" + "0" * 20,
              "tx_id": "tx_crd_" + "0" * 20 + "_1", "reward_id": "rw_25"}
    return re.sub(r"{(\w+)}", lambda match: shapes.get(match.group(1), "x"), path)


def _unserved(path: str) -> list[str]:
    return [method for method in edges.ROUTABLE if method not in edges.served_methods(path)]


@pytest.mark.parametrize("path,method", [(path, method) for path in PATHS for method in _unserved(path)])
def test_every_method_a_path_does_not_serve_is_405_problem_json_with_allow(api, path, method):
    response = api.request(method, _concrete(path), tokens.agent())
    assert response.status_code == 405
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json["code"] == "method_not_allowed"
    allowed = set(response.headers["Allow"].split(", "))
    assert allowed == {*edges.served_methods(path), "OPTIONS"} and method not in allowed
    assert tokens.agent() not in response.body.decode()


def test_every_path_serves_every_routable_method_and_options():
    """API Gateway answers a method a resource lacks like an unknown path; so none is lacking."""
    for path in PATHS:
        assert set(chalice_app.routes[path]) == {*edges.ROUTABLE, "OPTIONS"}, path


@pytest.mark.parametrize("path", PATHS)
def test_a_preflight_from_an_allowed_origin_names_the_paths_methods_and_headers(api, path):
    response = api.request("OPTIONS", _concrete(path), headers={
        "Origin": ALLOWED, "Access-Control-Request-Method": edges.served_methods(path)[0],
        "Access-Control-Request-Headers": "authorization,content-type,idempotency-key"})
    assert response.status_code == 204
    headers = response.headers
    assert headers["Access-Control-Allow-Origin"] == ALLOWED
    assert set(headers["Access-Control-Allow-Methods"].split(", ")) == {*edges.served_methods(path), "OPTIONS"}
    assert {h.strip() for h in headers["Access-Control-Allow-Headers"].split(",")} == {
        "Authorization", "Content-Type", "Idempotency-Key"}
    assert int(headers["Access-Control-Max-Age"]) > 0
    assert headers["Vary"] == "Origin"
    assert "Access-Control-Allow-Credentials" not in headers  # bearer tokens, never cookies


@pytest.mark.parametrize("origin", ["https://evil.example", "http://localhost:3001", "http://localhost:3000.evil.example",
                                    "null", "HTTP://LOCALHOST:3000", ALLOWED + "/", ""])
def test_a_preflight_from_another_origin_gets_no_cors_header(api, origin):
    response = api.request("OPTIONS", "/v1/cards", headers={"Origin": origin, "Access-Control-Request-Method": "POST"})
    assert not [name for name in response.headers if name.lower().startswith("access-control-")]


def test_an_allowed_origin_reads_successes_and_problems_alike(api):
    card = api.issue()["card_id"]
    answers = {
        "ok": api.get(f"/v1/cards/{card}", tokens.pos(), headers={"Origin": ALLOWED}),
        "unauthorized": api.get(f"/v1/cards/{card}", headers={"Origin": ALLOWED}),
        "not_found": api.get("/v1/cards/crd_" + "0" * 20, tokens.pos(), headers={"Origin": ALLOWED}),
        "unsupported": api.request("POST", f"/v1/cards/{card}/reloads", tokens.agent(), key="k", raw="x",
                                   headers={"Origin": ALLOWED, "Content-Type": "text/plain"}),
        "invalid": api.post(f"/v1/cards/{card}/reloads", tokens.agent(), {"amount": 5}, headers={"Origin": ALLOWED}),
        "method": api.request("DELETE", f"/v1/cards/{card}", tokens.agent(), headers={"Origin": ALLOWED}),
    }
    assert {name: r.status_code for name, r in answers.items()} == {
        "ok": 200, "unauthorized": 401, "not_found": 404, "unsupported": 415, "invalid": 422, "method": 405}
    for name, response in answers.items():
        assert response.headers["Access-Control-Allow-Origin"] == ALLOWED, name
        assert response.headers["Vary"] == "Origin", name
        exposed = {h.strip() for h in response.headers["Access-Control-Expose-Headers"].split(",")}
        assert {"Idempotent-Replayed", "Retry-After", "Allow"} <= exposed, name


def test_another_origin_gets_the_answer_but_no_cors_header(api):
    response = api.get("/v1/health", headers={"Origin": "https://evil.example"})
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response.headers
    assert response.headers["Vary"] == "Origin"


@pytest.mark.parametrize("stage", sorted(STAGE_ORIGINS))
def test_every_stage_configures_its_allowed_origins(stage):
    origins = Settings(jwt_secret="x", cors_allowed_origins=STAGE_ORIGINS[stage]).cors_allowed_origins
    assert origins, f"stage {stage} allows no browser origin"
    if stage != "local":
        assert all(origin.startswith("https://") for origin in origins)


@pytest.mark.parametrize("bad", ["*", "https://*.omnicard.example", "https://web.example/", "https://web.example/app",
                                 "http://web.example", "HTTPS://WEB.EXAMPLE", "web.example", "https://web.example,*"])
def test_a_malformed_or_wildcard_origin_stops_start_up(monkeypatch, bad):
    monkeypatch.setenv("OMNICARD_CORS_ALLOWED_ORIGINS", bad)
    reset_settings()
    with pytest.raises(SettingsError, match="not an origin"):
        get_settings()
