"""Fixtures: moto-backed tables created from infra/template.json, the Chalice test client,
tokens per role, and a stream pump that delivers moto's real stream records to the handler."""
from __future__ import annotations

import json
import os
import threading
import uuid
from pathlib import Path
from typing import Any, Iterator

import boto3
import hypothesis
import pytest
from chalice.test import Client
from moto import mock_aws

ROOT = Path(__file__).resolve().parent.parent
TEST_SECRET = "test-secret-for-hs256-tokens-0123456789"

os.environ.update({
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    "OMNICARD_JWT_SECRET": TEST_SECRET,
    "OMNICARD_AUTH_MODE": "hs256",
})
for variable in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_PROFILE"):
    os.environ.pop(variable, None)

from app import app as chalice_app  # noqa: E402  (environment first)
from chalicelib.settings import reset_settings  # noqa: E402
from chalicelib.store.client import reset_clients  # noqa: E402
from local.moto_threads import serialize_moto_requests  # noqa: E402
from local.moto_transactions import patch_moto_transactions  # noqa: E402
from local.pump import StreamPump  # noqa: E402
from local.tables import create_tables
from local.webhooks import create_webhook_key  # noqa: E402
from local.tokens import make_token  # noqa: E402


serialize_moto_requests()
patch_moto_transactions()  # moto as the local stack runs it: streams survive cancelled transactions


class _RequestPerThread(chalice_app.__class__):
    """Lambda serves one request per process; chalice.test's Client keeps the current request in
    one attribute of the app, so threads racing through it (tests/races, the concurrency tests)
    could read each other's headers and body. Keep it per thread, as `chalice local` does."""

    _requests = threading.local()

    @property  # type: ignore[override]
    def current_request(self):  # type: ignore[override]
        return getattr(self._requests, "request", None)

    @current_request.setter
    def current_request(self, value) -> None:
        self._requests.request = value


chalice_app.__class__ = _RequestPerThread


@pytest.fixture
def aws(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """A fresh moto account with Omnicard's tables; yields {logical id: stream ARN}. Afterwards the
    ledger invariants (`omnicard reconcile`, without the views) must hold, whatever the test did."""
    with mock_aws():
        reset_settings()
        reset_clients()
        streams = create_tables(boto3.client("dynamodb"))
        boto3.client("events").create_event_bus(Name="omnicard")
        create_webhook_key(boto3.client("kms"), "alias/omnicard-webhooks")
        yield streams
        if not request.node.get_closest_marker("corrupts_ledger"):
            from tests.reconciled import assert_reconciled
            assert_reconciled(views=False, history=False)
    reset_clients()
    reset_settings()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--slow", action="store_true", help="long runs of the model-based, race and fuzz tests")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "corrupts_ledger: the test breaks ledger invariants on purpose")
    # `make test` (CI) replays the same examples on every run, so main stays green or red for a
    # reason in the code; `--slow` explores new examples each run (with hypothesis' database) to
    # hunt for bugs — any failure it finds becomes an explicit @example or a unit test.
    hypothesis.settings.register_profile("ci", derandomize=True, database=None)
    hypothesis.settings.register_profile("explore", derandomize=False)
    hypothesis.settings.load_profile("explore" if config.getoption("--slow", default=False) else "ci")


@pytest.fixture
def client(aws: dict[str, str]) -> Iterator[Client]:
    with Client(chalice_app, stage_name="local", project_dir=str(ROOT)) as test_client:
        yield test_client


class Api:
    """HTTP calls as a channel would make them."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def request(self, method: str, path: str, token: str | None = None, body: Any = None, *,
                key: str | None = None, headers: dict[str, str] | None = None, raw: bytes | str | None = None):
        sent = {"Content-Type": "application/json", **(headers or {})}
        if token:
            sent["Authorization"] = f"Bearer {token}"
        if key:
            sent["Idempotency-Key"] = key
        payload = raw if raw is not None else (json.dumps(body) if body is not None else None)
        response = self.client.http.request(method, path, headers=sent, body=payload)
        response.json = json.loads(response.body) if response.body else None
        return response

    def get(self, path: str, token: str | None = None, **kwargs: Any):
        return self.request("GET", path, token, **kwargs)

    def post(self, path: str, token: str | None, body: Any = None, *, key: str | None = "auto", **kwargs: Any):
        """POST with a fresh Idempotency-Key unless `key` is given (None sends none)."""
        return self.request("POST", path, token, body if body is not None else {},
                            key=uuid.uuid4().hex if key == "auto" else key, **kwargs)

    # --- journeys used by many tests ---
    def enrol(self, email: str | None = None, name: str = "Ada Lovelace") -> dict[str, Any]:
        email = email or f"{uuid.uuid4().hex[:10]}@example.com"
        response = self.post("/v1/members", tokens.service(), {"name": name, "email": email})
        assert response.status_code == 201, response.body
        return response.json

    def issue(self, member_id: str | None = None, token: str | None = None) -> dict[str, Any]:
        body = {"member_id": member_id} if member_id else {}
        response = self.post("/v1/cards", token or tokens.agent(), body)
        assert response.status_code == 201, response.body
        return response.json

    def reload(self, card_id: str, amount: int, token: str | None = None, **kwargs: Any):
        return self.post(f"/v1/cards/{card_id}/reloads", token or tokens.agent(),
                         {"amount": money(amount), "payment_ref": "psp-1"}, **kwargs)

    def pay(self, card_id: str, amount: int, token: str | None = None, **kwargs: Any):
        return self.post(f"/v1/cards/{card_id}/payments", token or tokens.pos(), {"amount": money(amount)}, **kwargs)

    # Test reads go through a till: staff reads are audited (they write), a till's are not.
    def balance(self, card_id: str) -> int:
        return self.get(f"/v1/cards/{card_id}", tokens.pos()).json["balance"]["amount"]

    def ledger(self, card_id: str) -> list[dict[str, Any]]:
        items, cursor = [], None
        while True:
            path = f"/v1/cards/{card_id}/transactions?limit=100" + (f"&cursor={cursor}" if cursor else "")
            page = self.get(path, tokens.pos()).json
            items += page["items"]
            cursor = page["next_cursor"]
            if not cursor:
                return items


def money(amount: int, currency: str = "USD") -> dict[str, Any]:
    return {"amount": amount, "currency": currency}


class tokens:  # noqa: N801  (a namespace of token factories)
    @staticmethod
    def customer(member_id: str, channel: str = "app") -> str:
        return make_token("customer", secret=TEST_SECRET, member_id=member_id, channel=channel)

    @staticmethod
    def pos(store_id: str = "S1", terminal_id: str = "T1") -> str:
        return make_token("pos", secret=TEST_SECRET, store_id=store_id, terminal_id=terminal_id)

    @staticmethod
    def agent(agent_id: str = "A1") -> str:
        return make_token("agent", secret=TEST_SECRET, agent_id=agent_id)

    @staticmethod
    def supervisor(agent_id: str = "S-1") -> str:
        return make_token("supervisor", secret=TEST_SECRET, agent_id=agent_id)

    @staticmethod
    def service() -> str:
        return make_token("service", secret=TEST_SECRET)


@pytest.fixture
def api(client: Client) -> Api:
    return Api(client)


@pytest.fixture
def drain(client: Client, aws: dict[str, str]):
    """Deliver every pending stream record to the app's stream handler, as Lambda would."""
    pump = StreamPump(boto3.client("dynamodbstreams"), aws["LedgerTable"],
                      lambda event: client.lambda_.invoke("on_ledger_change", event).payload)

    def run() -> int:
        return pump.drain()

    run.pump = pump  # type: ignore[attr-defined]
    return run


@pytest.fixture
def clock():
    """A settable clock installed as the one clock every rule reads."""
    from datetime import datetime, timezone

    from chalicelib import clock as clock_module

    fixed = clock_module.FixedClock(datetime(2026, 1, 15, 12, 0, tzinfo=timezone.utc))
    clock_module.use_clock(fixed)
    yield fixed
    clock_module.use_clock(clock_module.SystemClock())


BROWSER_SKIP_PREFIX = "browser tests skipped:"


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """One closing line when the browser tests were skipped for want of Chromium (the reason is set
    in tests/browser/conftest.py; here because xdist's workers do not write the summary)."""
    for report in terminalreporter.stats.get("skipped", []):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reason = reason.removeprefix("Skipped: ")
        if reason.startswith(BROWSER_SKIP_PREFIX):
            terminalreporter.write_line(reason)
            return
