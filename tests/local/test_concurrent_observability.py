"""Observability never answers for a committed request, and concurrent requests on the local
server's threads each flush their own metrics (issue: a committed redemption answered 500 because
another request's flush emptied the process-wide metric set)."""
from __future__ import annotations

import json
import threading
import uuid
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from aws_lambda_powertools.metrics.exceptions import SchemaValidationError
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider
from chalice.cli.factory import CLIFactory

from tests.conftest import ROOT, chalice_app, tokens
from tests.local.http import Http, serve_app

CLIENTS = 8
REQUESTS_PER_CLIENT = 6


@pytest.fixture
def served(aws: dict[str, str]) -> Iterator[Http]:
    """The app behind the local server's HTTP server (a thread per request), on a free port."""
    config = CLIFactory(str(ROOT), environ={}).create_config_obj(chalice_stage_name="local")
    with serve_app(chalice_app, config) as http:
        yield http


def _emf_blobs(text: str) -> list[dict[str, Any]]:
    return [blob for blob in (json.loads(line) for line in text.splitlines() if line.startswith('{"_aws"'))]


def test_concurrent_requests_each_flush_their_own_metrics_and_none_is_answered_500(
        served: Http, capsys: pytest.CaptureFixture[str]):
    # Given cards to reload and read, from several clients at once
    service = tokens.service()
    cards = []
    for _ in range(CLIENTS):
        status, member = served.call("POST", "/v1/members", service,
                                     {"name": "Concurrent", "email": f"{uuid.uuid4().hex[:10]}@example.com"})
        assert status == 201
        status, card = served.call("POST", "/v1/cards", tokens.agent(), {"member_id": member["member_id"]})
        cards.append(card["card_id"])
    capsys.readouterr()
    statuses: list[tuple[str, int]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(CLIENTS)

    def client(index: int) -> None:
        barrier.wait()
        for number in range(REQUESTS_PER_CLIENT):
            if number % 2 == 0:
                status, _ = served.call("POST", f"/v1/cards/{cards[index]}/reloads", tokens.agent(),
                                        {"amount": {"amount": 1000, "currency": "USD"}, "payment_ref": "p"})
                operation = "reload_card"
            else:
                status, _ = served.call("GET", f"/v1/cards/{cards[index]}", tokens.pos())
                operation = "get_card"
            with lock:
                statuses.append((operation, status))

    # When they all call at once (the local server runs each request on its own thread)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        threads = [threading.Thread(target=client, args=(index,)) for index in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    # Then every request was answered as itself: reloads committed, reads served, no 5xx
    assert sorted(statuses) == sorted([("get_card", 200)] * (CLIENTS * REQUESTS_PER_CLIENT // 2)
                                      + [("reload_card", 201)] * (CLIENTS * REQUESTS_PER_CLIENT // 2))
    # and each request flushed one metric set of its own: one count per request, by its operation
    requests = [blob for blob in _emf_blobs(capsys.readouterr().out) if "Requests" in blob]
    assert len(requests) == CLIENTS * REQUESTS_PER_CLIENT
    assert all(blob["Requests"] == [1.0] and blob["Failures"] == [0.0] for blob in requests)
    assert sorted((blob["operation"], blob.get("Reloads")) for blob in requests) == sorted(
        [("get_card", None)] * (CLIENTS * REQUESTS_PER_CLIENT // 2)
        + [("reload_card", [1.0])] * (CLIENTS * REQUESTS_PER_CLIENT // 2))
    # and Powertools warned about nothing (no dimension overwritten by another request)
    assert [str(w.message) for w in caught if "imension" in str(w.message) or "metrics" in str(w.message)] == []


def test_a_failing_metrics_flush_after_the_commit_does_not_turn_the_request_into_a_500(
        api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture):
    card = api.issue(api.enrol()["member_id"])["card_id"]

    def broken_flush(self: AmazonCloudWatchEMFProvider, raise_on_empty_metrics: bool = False) -> None:
        raise SchemaValidationError("Must contain at least one metric.")

    monkeypatch.setattr(AmazonCloudWatchEMFProvider, "flush_metrics", broken_flush)

    response = api.reload(card, 2500)

    # the money moved, and the client is told so
    assert response.status_code == 201, response.body
    assert api.balance(card) == 2500
