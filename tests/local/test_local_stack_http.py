"""The local stack as its users meet it: `make run`'s stack (local.server.running_stack) over a
real socket — many connections at once, views that keep up across cancelled transactions, and
the operator commands (`make reconcile`, `make expire-stars`, events) reaching its tables."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from typing import Any

import boto3
import pytest

from local.server import Stack
from tests.conftest import ROOT, tokens
from tests.local.http import Http, at_once

CONNECTIONS = 64
PAYMENTS = 30


@pytest.fixture(scope="module")
def http(stack: Stack) -> Http:
    return Http(stack.url)


def _member_with_card(http: Http, email: str | None = None) -> tuple[str, str, str]:
    email = email or f"{uuid.uuid4().hex[:10]}@example.com"
    status, member = http.call("POST", "/v1/members", tokens.service(), {"name": "Local", "email": email})
    assert status == 201, member
    status, card = http.call("POST", "/v1/cards", tokens.agent(), {"member_id": member["member_id"]})
    assert status == 201, card
    return member["member_id"], card["card_id"], email


def _reload(http: Http, card: str, amount: int) -> None:
    status, body = http.call("POST", f"/v1/cards/{card}/reloads", tokens.agent(),
                             {"amount": {"amount": amount, "currency": "USD"}, "payment_ref": "psp"})
    assert status == 201, body


def test_64_connections_at_once_are_all_answered_and_30_payments_on_one_card_let_exactly_20_through(http: Http):
    # Given a card with 20.00 and 30 tills ready to take 1.00 each, among 64 clients
    _, card, _ = _member_with_card(http)
    _reload(http, card, 2000)

    def client(index: int) -> tuple[str, int, Any]:
        if index < PAYMENTS:
            status, body = http.call("POST", f"/v1/cards/{card}/payments", tokens.pos("S1", f"T{index}"),
                                     {"amount": {"amount": 100, "currency": "USD"}}, timeout=120)
            return "payment", status, body
        status, body = http.call("GET", f"/v1/cards/{card}", tokens.pos(), timeout=120)
        return "read", status, body

    # When all 64 connect at the same moment
    results = at_once(CONNECTIONS, client)

    # Then no connection was reset or refused, and exactly balance / amount payments went through
    assert [result for result in results if isinstance(result, Exception)] == []
    payments = [status for kind, status, _ in results if kind == "payment"]
    assert sorted(payments) == [201] * 20 + [409] * 10
    assert {body["code"] for kind, status, body in results if kind == "payment" and status == 409} == {
        "insufficient_funds"}
    assert [status for kind, status, _ in results if kind == "read"] == [200] * (CONNECTIONS - PAYMENTS)
    assert http.call("GET", f"/v1/cards/{card}", tokens.pos())[1]["balance"]["amount"] == 0


def _wallet_matches_cards(http: Http, member_id: str, cards: list[str]) -> bool:
    token = tokens.agent()
    truth = {card: http.call("GET", f"/v1/cards/{card}", tokens.pos())[1]["balance"]["amount"] for card in cards}
    wallet = http.call("GET", f"/v1/members/{member_id}", token)[1]
    return {entry["card_id"]: entry["balance"]["amount"] for entry in wallet["cards"]} == truth


def test_views_keep_up_over_http_across_cancelled_transactions(http: Http, stack: Stack):
    # Given members whose writes are interleaved with cancelled transactions
    members = [_member_with_card(http) for _ in range(3)]
    for round_number in range(2):
        for member_id, card, email in members:
            _reload(http, card, 1000)
            assert http.call("POST", "/v1/members", tokens.service(),
                             {"name": "Again", "email": email})[0] == 409  # cancelled by the email guard
            paid = at_once(4, lambda i: http.call("POST", f"/v1/cards/{card}/payments",
                                                   tokens.pos("S2", f"R{round_number}-{i}"),
                                                   {"amount": {"amount": 300, "currency": "USD"}}))
            assert sorted(status for status, _ in paid).count(201) >= 3

    # Then the stack's one pump brings every wallet level with its card, within seconds
    deadline = time.monotonic() + 60
    pending = list(members)
    while pending and time.monotonic() < deadline:
        pending = [(m, c, e) for m, c, e in pending if not _wallet_matches_cards(http, m, [c])]
        time.sleep(0.2)
    assert pending == []
    assert stack.pump.stale_iterators == 0


def _ops(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    port = stack.url.rsplit(":", 1)[1]
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_ENDPOINT_URL")}
    return subprocess.run([sys.executable, "-m", "local.ops", "--port", port, *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_reconcile_reads_the_running_stack_and_exits_1_on_a_breach(http: Http, stack: Stack):
    _, card, _ = _member_with_card(http)
    _reload(http, card, 1500)

    clean = _ops(stack, "reconcile", "--confirm", "0", "--json")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert json.loads(clean.stdout)["ok"] is True

    # When a card's balance is changed outside a transaction (through the stack's AWS endpoint)
    state = json.loads(stack.state_path.read_text())
    dynamodb = boto3.client("dynamodb", endpoint_url=state["aws_endpoint"])
    [item] = [i for i in dynamodb.scan(TableName=state["ledger_table"])["Items"]
              if i.get("card_id", {}).get("S") == card and "balance" in i]
    dynamodb.update_item(TableName=state["ledger_table"], Key={"PK": item["PK"], "SK": item["SK"]},
                         UpdateExpression="SET balance = balance + :one",
                         ExpressionAttributeValues={":one": {"N": "1"}})

    breach = _ops(stack, "reconcile", "--confirm", "0", "--no-views")
    assert breach.returncode == 1, breach.stdout + breach.stderr
    assert "card_balance_equals_ledger" in breach.stdout
    dynamodb.update_item(TableName=state["ledger_table"], Key={"PK": item["PK"], "SK": item["SK"]},
                         UpdateExpression="SET balance = balance - :one",
                         ExpressionAttributeValues={":one": {"N": "1"}})


def test_expiry_runs_now_and_published_events_are_shown(http: Http, stack: Stack):
    expiry = _ops(stack, "expire-stars")
    assert expiry.returncode == 0, expiry.stdout + expiry.stderr
    assert set(json.loads(expiry.stdout.strip().splitlines()[-1])) == {
        "members_checked", "members_expired", "stars_expired"}

    deadline = time.monotonic() + 30
    while stack.events.seen == 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    shown = _ops(stack, "events")
    assert shown.returncode == 0, shown.stderr
    assert "transaction.created" in shown.stdout and "card.updated" in shown.stdout


def test_the_commands_say_when_no_stack_runs_on_the_port():
    result = subprocess.run([sys.executable, "-m", "local.ops", "--port", "1", "reconcile"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "no local stack on port 1" in result.stderr
