"""What an operator sees for each request and stream batch: JSON log lines carrying the ids that tie
them together (and never a card number or token), and EMF metrics per operation and channel."""
from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from chalicelib.observability import logger, tracer
from tests.conftest import money, tokens


class _CurrentStdout:
    """Writes to whatever sys.stdout is now (Powertools' handler keeps the stream it started with)."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


class Output:
    """Everything the function wrote to stdout: Powertools log lines and EMF metric blobs, in order."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys
        self.text = ""

    def lines(self) -> list[dict[str, Any]]:
        """The JSON lines written since the last call."""
        new = self.capsys.readouterr().out
        self.text += new
        return [json.loads(line) for line in new.splitlines() if line.startswith("{")]

    def all_text(self) -> str:
        self.lines()
        return self.text


@pytest.fixture
def output(capsys: pytest.CaptureFixture[str]) -> Iterator[Output]:
    handler = logger.registered_handler
    previous = handler.setStream(_CurrentStdout())
    try:
        yield Output(capsys)
    finally:
        handler.setStream(previous)


def _served(lines: list[dict[str, Any]]) -> dict[str, Any]:
    [served] = [line for line in lines if line.get("message") == "request served"]
    return served


def _metrics(lines: list[dict[str, Any]]) -> dict[str, Any]:
    [blob] = [line for line in lines if "_aws" in line]
    return blob


@pytest.mark.parametrize("who, channel", [("customer", "app"), ("agent", "phone"), ("pos", "pos")])
def test_a_reload_is_logged_with_its_ids_and_counted_for_its_channel(api, output, who, channel):
    member = api.enrol()
    card = api.issue(member["member_id"])
    token = {"customer": tokens.customer(member["member_id"]), "agent": tokens.agent(), "pos": tokens.pos()}[who]
    output.lines()

    response = api.reload(card["card_id"], 2500, token=token, key=f"reload-{who}")

    assert response.status_code == 201
    lines = output.lines()
    served = _served(lines)
    assert {key: served[key] for key in ("operation", "channel", "role", "card_id", "idempotency_key", "tx_id",
                                         "status", "http_method", "route")} == {
        "operation": "reload_card", "channel": channel, "role": who, "card_id": card["card_id"],
        "idempotency_key": f"reload-{who}", "tx_id": response.json["tx_id"], "status": 201,
        "http_method": "POST", "route": "/v1/cards/{card_id}/reloads"}
    assert served["correlation_id"] and served["function_request_id"] and served["cold_start"] in (True, False)
    assert served["level"] == "INFO" and served["service"] == "omnicard"
    metrics = _metrics(lines)
    assert metrics["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Omnicard"
    assert metrics["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["operation", "channel", "service"]]
    assert (metrics["operation"], metrics["channel"]) == ("reload_card", channel)
    assert (metrics["Requests"], metrics["Reloads"], metrics["Failures"], metrics["Refusals"]) == ([1.0], [1.0], [0.0], [0.0])


def test_a_payment_counts_a_payment_and_a_replay_counts_nothing_new(api, output):
    card = api.issue(api.enrol()["member_id"])
    api.reload(card["card_id"], 5000)
    output.lines()

    first = api.pay(card["card_id"], 1200, key="till-1")
    first_metrics = _metrics(output.lines())
    replay = api.pay(card["card_id"], 1200, key="till-1")
    replay_lines = output.lines()

    assert first.status_code == replay.status_code == 201
    assert (first_metrics["channel"], first_metrics["Payments"]) == ("pos", [1.0])
    assert "Payments" not in _metrics(replay_lines)
    assert _served(replay_lines)["replayed"] is True


def test_a_refused_payment_is_a_refusal_not_a_failure(api, output):
    card = api.issue(api.enrol()["member_id"])
    output.lines()

    response = api.pay(card["card_id"], 1200)

    assert response.status_code == 409
    metrics = _metrics(output.lines())
    assert (metrics["Refusals"], metrics["Failures"]) == ([1.0], [0.0])
    assert "Payments" not in metrics


def test_a_bug_is_a_failure_logged_with_the_requests_ids(api, output, monkeypatch):
    from chalicelib.services import cards

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(cards, "get_card", broken)

    response = api.get("/v1/cards/crd_00000000000000000123", tokens.agent())

    assert response.status_code == 500
    lines = output.lines()
    [error] = [line for line in lines if line.get("message") == "unhandled error"]
    assert error["level"] == "ERROR" and error["card_id"] == "crd_00000000000000000123" and error["operation"] == "get_card"
    assert "RuntimeError" in error["exception"]
    assert _metrics(lines)["Failures"] == [1.0]


def test_no_card_number_or_token_is_ever_written(api, output):
    member = api.enrol()
    token = tokens.customer(member["member_id"])

    issued = api.post("/v1/cards", token, {"member_id": member["member_id"]}, key="issue-1")
    looked_up = api.get(f"/v1/cards?number={issued.json['card_number']}", tokens.agent())

    assert issued.status_code == 201 and looked_up.status_code == 200
    written = output.all_text()
    assert issued.json["card_number"] not in written
    assert token not in written and tokens.agent() not in written
    assert "Bearer" not in written


def test_a_stream_batch_reports_records_failures_and_lag(api, drain, output):
    api.issue(api.enrol()["member_id"])
    output.lines()

    delivered = drain()

    assert delivered > 0
    lines = output.lines()
    blobs = [line for line in lines if "_aws" in line]
    assert blobs and all(blob["StreamRecordFailures"] == [0.0] for blob in blobs)
    assert sum(blob["StreamRecords"][0] for blob in blobs) >= delivered
    assert all(blob["StreamLag"][0] >= 0 for blob in blobs)
    assert blobs[0]["_aws"]["CloudWatchMetrics"][0]["Metrics"][0] == {"Name": "StreamLag", "Unit": "Milliseconds"}
    processed = [line for line in lines if line.get("message") == "stream batch processed"]
    assert processed and processed[0]["first_sequence_number"] and processed[0]["records"] >= 1


def test_an_invocation_without_metrics_flushes_nothing_and_warns_nothing(client, output):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        client.lambda_.invoke("expire_stars", client.events.generate_cw_event(
            source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]))

    assert [str(w.message) for w in caught if "metrics" in str(w.message).lower()] == []
    assert not [line for line in output.lines() if "_aws" in line]


def test_call_tracing_is_off_unless_the_stage_asks_and_off_outside_lambda_anyway():
    assert tracer is None or tracer.disabled


def test_an_auto_reload_from_the_stream_is_counted_where_it_commits(api, drain, output):
    member = api.enrol()["member_id"]
    card = api.issue(member)["card_id"]
    api.reload(card, 3_000)
    api.request("PUT", f"/v1/cards/{card}/auto-reload", tokens.customer(member),
                {"threshold": money(2_000), "amount": money(2_500), "payment_ref": "psp-auto"})
    api.pay(card, 1_500, tokens.pos())
    output.lines()

    drain()

    blobs = [line for line in output.lines() if "_aws" in line]
    assert sum(blob.get("AutoReloads", [0])[0] for blob in blobs) == 1


def test_the_expiry_run_counts_each_stars_expired_transaction(api, client, clock, output):
    member = api.enrol()["member_id"]
    api.post(f"/v1/members/{member}/purchases", tokens.pos(), {"amount": money(5_000), "tender": "cash"})
    clock.advance(timedelta(days=200))
    output.lines()

    client.lambda_.invoke("expire_stars", client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]))

    [blob] = [line for line in output.lines() if "_aws" in line]
    assert blob["StarsExpirations"] == [1.0]
