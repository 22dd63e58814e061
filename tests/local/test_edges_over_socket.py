"""The local stack as `make run` serves it (`python -m local.server` on a free port, a real socket):
every edge answers the contract's problem+json and never echoes a request header; CORS for the
origins the local stage allows (.chalice/config.json)."""
from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import ROOT, money, tokens

LOCAL_ORIGIN = "http://localhost:3000"  # allowed in the local stage (.chalice/config.json)
OTHER_ORIGIN = "https://evil.example"
SECRET_TOKEN = tokens.agent()


@dataclass
class Answer:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Served:
    port: int

    def call(self, method: str, path: str, *, token: str | None = None, body: bytes | None = None,
             headers: dict[str, str] | None = None) -> Answer:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        sent = dict(headers or {})
        if token:
            sent["Authorization"] = f"Bearer {token}"
        try:
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
        finally:
            connection.close()

    def post(self, path: str, token: str, payload: dict[str, Any]) -> Answer:
        return self.call("POST", path, token=token, body=json.dumps(payload).encode(),
                         headers={"Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex})


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    """`python -m local.server` (what `make run` runs) on a free port, until the module ends."""
    port = _free_port()
    env = {**os.environ, "PORT": str(port), "POWERTOOLS_LOG_LEVEL": "WARNING"}
    env.pop("OMNICARD_CORS_ALLOWED_ORIGINS", None)  # the local stage's own list
    process = subprocess.Popen([sys.executable, "-m", "local.server"], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    server = Served(port)
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, process.stderr.read().decode()[-3000:]
            try:
                if server.call("GET", "/v1/health").status == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the local server did not answer /v1/health within 90 s"
            time.sleep(0.2)
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stderr.close()


@pytest.fixture(scope="module")
def card_id(served: Served) -> str:
    answer = served.post("/v1/cards", tokens.agent(), {})
    assert answer.status == 201, answer.body
    return answer.json["card_id"]


def _assert_problem(answer: Answer, status: int, code: str) -> None:
    assert answer.status == status, answer.body
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json["code"] == code and answer.json["status"] == status
    assert set(answer.json) >= {"type", "title", "status", "detail", "code"}
    assert SECRET_TOKEN not in answer.body.decode()
    assert not any(SECRET_TOKEN in value for value in answer.headers.values())


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"])
@pytest.mark.parametrize("path", ["/nowhere", "/v1/cardz", "/v1/cards/crd_x/secret", "/", "/v2/health",
                                  "/v1/health/extra?q=1"])
@pytest.mark.parametrize("with_token", [True, False], ids=["token", "no-token"])
def test_an_unknown_path_is_404_problem_json_that_never_echoes_the_token(served, method, path, with_token):
    answer = served.call(method, path, token=SECRET_TOKEN if with_token else None,
                         headers={"X-Secret": SECRET_TOKEN, "Cookie": f"s={SECRET_TOKEN}"})
    _assert_problem(answer, 404, "not_found")


@pytest.mark.parametrize("method,path,allow", [
    ("DELETE", "/v1/health", "GET, OPTIONS"),
    ("POST", "/v1/health", "GET, OPTIONS"),
    ("PUT", "/v1/cards/crd_00000000000000000000", "GET, OPTIONS"),
    ("PATCH", "/v1/cards", "POST, GET, OPTIONS"),
    ("GET", "/v1/transactions/tx_crd_00000000000000000000_1/refunds", "POST, OPTIONS"),
    ("TRACE", "/v1/health", "GET, OPTIONS"),
    ("TRACE", "/v1/cards/crd_00000000000000000000", "GET, OPTIONS"),
    ("CONNECT", "/v1/health", "GET, OPTIONS"),
    ("BREW", "/v1/members", "POST, GET, OPTIONS"),
])
def test_a_known_path_with_a_method_it_does_not_serve_is_405_problem_json(served, method, path, allow):
    answer = served.call(method, path, token=SECRET_TOKEN)
    _assert_problem(answer, 405, "method_not_allowed")
    assert set(answer.headers["allow"].split(", ")) == set(allow.split(", "))


def test_head_is_answered_with_headers_only_and_the_connection_stays_usable(served):
    connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=30)
    try:
        connection.request("HEAD", "/v1/health")
        head = connection.getresponse()
        assert head.read() == b""
        assert (head.status, head.getheader("Allow")) == (405, "GET, OPTIONS")
        connection.request("GET", "/v1/health")  # same connection: no stray body in the stream
        follow = connection.getresponse()
        assert (follow.status, json.loads(follow.read())) == (200, {"status": "ok"})
    finally:
        connection.close()


@pytest.mark.parametrize("content_type", ["text/plain", "application/octet-stream", "application/xml",
                                          "application/x-www-form-urlencoded", "application/vnd.api+json"])
def test_a_body_of_another_content_type_is_415_problem_json(served, card_id, content_type):
    body = json.dumps({"amount": money(1_000), "payment_ref": "p"}).encode()
    answer = served.call("POST", f"/v1/cards/{card_id}/reloads", token=SECRET_TOKEN, body=body,
                         headers={"Content-Type": content_type, "Idempotency-Key": uuid.uuid4().hex})
    _assert_problem(answer, 415, "validation_error")
    balance = served.call("GET", f"/v1/cards/{card_id}", token=tokens.pos()).json["balance"]["amount"]
    assert balance == 0


def test_a_preflight_from_an_allowed_origin_gets_the_cors_headers(served, card_id):
    answer = served.call("OPTIONS", f"/v1/cards/{card_id}/reloads", headers={
        "Origin": LOCAL_ORIGIN, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type, idempotency-key"})
    assert answer.status == 204
    assert answer.headers["access-control-allow-origin"] == LOCAL_ORIGIN
    assert "POST" in answer.headers["access-control-allow-methods"]
    assert {"authorization", "content-type", "idempotency-key"} <= {
        h.strip().lower() for h in answer.headers["access-control-allow-headers"].split(",")}
    assert "origin" in answer.headers["vary"].lower()


def test_a_preflight_from_another_origin_gets_no_cors_header(served, card_id):
    answer = served.call("OPTIONS", f"/v1/cards/{card_id}/reloads",
                         headers={"Origin": OTHER_ORIGIN, "Access-Control-Request-Method": "POST"})
    assert not [name for name in answer.headers if name.startswith("access-control-")]


@pytest.mark.parametrize("method,path,status", [
    ("GET", "/v1/health", 200),
    ("GET", "/nowhere", 404),                          # answered by the local gateway edge
    ("DELETE", "/v1/health", 405),                     # answered by the app
    ("TRACE", "/v1/health", 405),                      # answered by the local gateway edge
    ("GET", "/v1/cards/crd_00000000000000000000", 401),
])
def test_an_allowed_origin_can_read_every_answer_errors_included(served, method, path, status):
    answer = served.call(method, path, headers={"Origin": LOCAL_ORIGIN})
    assert answer.status == status
    assert answer.headers["access-control-allow-origin"] == LOCAL_ORIGIN
    other = served.call(method, path, headers={"Origin": OTHER_ORIGIN})
    assert other.status == status
    assert "access-control-allow-origin" not in other.headers


def test_the_edge_bodies_are_the_apps_problem_bodies(served):
    """One source for the texts the gateway responses copy (chalicelib/api/problems.py)."""
    from chalicelib.api.problems import UNKNOWN_PATH, UNSERVED_METHOD, problem

    assert served.call("GET", "/nowhere").json == problem(UNKNOWN_PATH)
    assert served.call("TRACE", "/v1/health").json == problem(UNSERVED_METHOD)
    assert served.call("DELETE", "/v1/health").json == problem(UNSERVED_METHOD)
