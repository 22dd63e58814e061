"""The per-principal request rate, enforced at the edge (WAF deployed, local/edges.py locally), over
a real socket against the local stack: no DynamoDB call is spent on it."""
from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from datetime import timedelta

import pytest
from chalice.cli.factory import CLIFactory

from chalicelib.settings import reset_settings
from local.edges import create_local_server
from tests.conftest import ROOT, chalice_app, tokens
from tests.stack import fresh_stack


@pytest.fixture
def edge(tmp_path, monkeypatch):
    rules = json.loads((ROOT / "chalicelib" / "rules.json").read_text())
    rules["limits"]["requests_per_principal_per_minute"] = 30
    (tmp_path / "rules.json").write_text(json.dumps(rules))
    monkeypatch.setenv("OMNICARD_RULES_FILE", str(tmp_path / "rules.json"))
    reset_settings()
    with fresh_stack() as stack:
        config = CLIFactory(str(ROOT), environ={}).create_config_obj(chalice_stage_name="local")
        app_class = chalice_app.__class__
        server = create_local_server(chalice_app, config, "127.0.0.1", 0)
        threading.Thread(target=server.server.serve_forever, name="edge-test", daemon=True).start()
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

        def get(path: str, token: str | None = None):
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            request = urllib.request.Request(f"http://127.0.0.1:{server.server.server_address[1]}{path}", headers=headers)
            try:
                with opener.open(request, timeout=10) as response:
                    return response.status, dict(response.headers), json.loads(response.read())
            except urllib.error.HTTPError as error:
                return error.code, dict(error.headers), json.loads(error.read())

        try:
            yield stack, get
        finally:
            server.shutdown()
            server.server.server_close()
            chalice_app.__class__ = app_class


def test_a_principal_past_its_rate_gets_429_problem_with_retry_after_and_others_are_not_limited(edge):
    stack, get = edge
    card = stack.api.issue()["card_id"]
    token = tokens.agent("A9")  # one token: the edge counts per Authorization value, as WAF does
    statuses = [get(f"/v1/cards/{card}", token)[0] for _ in range(31)]
    assert statuses == [200] * 30 + [429]
    status, headers, body = get(f"/v1/cards/{card}", token)
    assert (status, body["code"], headers["Content-Type"]) == (429, "rate_limited", "application/problem+json")
    assert 1 <= int(headers["Retry-After"]) <= 60
    assert get(f"/v1/cards/{card}", tokens.agent("A8"))[0] == 200
    assert get("/v1/health")[0] == get("/v1/health", token)[0] == 200  # never limited
    stack.clock.advance(timedelta(minutes=1))
    assert get(f"/v1/cards/{card}", token)[0] == 200
