"""`omnicard verify-card` as a customer's auditor runs it: a separate process against the local
stack's API over a real socket (a token, not the tables), paging through every transaction; and
the README's few lines of Python reaching the same verdict from the same JSON."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request

import boto3

from local.server import Stack
from tests.conftest import ROOT, money, tokens
from tests.local.http import Http


def _verify(stack: Stack, card_id: str, token: str, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    return subprocess.run([sys.executable, "-m", "chalicelib.ops.cli", "verify-card", card_id, "--url", stack.url,
                           "--token", token, *extra], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def _ok(status_body: tuple[int, object], status: int = 201) -> dict:
    code, body = status_body
    assert code == status, body
    return body  # type: ignore[return-value]


def _readme_verify():
    """The README's snippet, as a third party would paste it."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Verifiable ledger"):]
    namespace: dict = {}
    exec(re.search(r"```python\n(.*?)```", section, re.S).group(1), namespace)  # noqa: S102 - our own README
    return namespace["verify"]


def test_verify_card_recomputes_the_whole_chain_over_the_api_and_reports_the_first_broken_link(stack: Stack):
    http = Http(stack.url)
    member = _ok(http.call("POST", "/v1/members", tokens.service(), {"name": "Audited", "email": "audit@example.com"}))
    owner = tokens.customer(member["member_id"], "app")
    card = _ok(http.call("POST", "/v1/cards", owner, {"member_id": member["member_id"]}))["card_id"]
    other = _ok(http.call("POST", "/v1/cards", tokens.agent(), {}))["card_id"]
    _ok(http.call("POST", f"/v1/cards/{card}/reloads", owner, {"amount": money(5_000), "payment_ref": "psp"}))
    payment = _ok(http.call("POST", f"/v1/cards/{card}/payments", tokens.pos("S1"), {"amount": money(1_250)}))
    _ok(http.call("POST", f"/v1/transactions/{payment['tx_id']}/refunds", tokens.pos("S1"), {"amount": money(250)}))
    _ok(http.call("POST", f"/v1/cards/{card}/transfers", tokens.agent(), {"to_card_id": other, "amount": money(700)}))
    _ok(http.call("POST", f"/v1/cards/{card}/payments", tokens.pos("S2"), {"amount": money(99)}))

    # The card's own chain: five transactions, three pages of two, checked in a separate process
    clean = _verify(stack, card, owner, "--page-size", "2")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    head = _ok(http.call("GET", f"/v1/cards/{card}", owner), 200)["ledger_head"]
    assert clean.stdout.strip() == f"{card}: chain of 5 transactions verified; ledger_head {head}"
    # the receiving card is a chain of its own (its transfer_in is its first transaction)
    assert _verify(stack, other, tokens.agent()).returncode == 0

    # The README's snippet agrees, from the JSON the API serves
    items = _ok(http.call("GET", f"/v1/cards/{card}/transactions?limit=100", owner), 200)["items"][::-1]
    assert _readme_verify()(items, head) == "ok"

    # When one transaction is edited in the table (outside the API) — the second one's store
    state = json.loads(stack.state_path.read_text())
    dynamodb = boto3.client("dynamodb", endpoint_url=state["aws_endpoint"])
    key = {"PK": {"S": f"CARD#{card}"}, "SK": {"S": f"TX#{2:012d}"}}
    dynamodb.update_item(TableName=state["ledger_table"], Key=key, UpdateExpression="SET store_id = :s",
                         ExpressionAttributeValues={":s": {"S": "S9"}})
    try:
        broken = _verify(stack, card, owner, "--page-size", "2")
        assert broken.returncode == 1, broken.stdout + broken.stderr
        assert f"chain BROKEN at transaction 2 (oldest = 1), {payment['tx_id']}" in broken.stdout
        edited = _ok(http.call("GET", f"/v1/cards/{card}/transactions?limit=100", owner), 200)["items"][::-1]
        assert _readme_verify()(edited, head) == f"broken at {payment['tx_id']}"
    finally:
        dynamodb.update_item(TableName=state["ledger_table"], Key=key, UpdateExpression="SET store_id = :s",
                             ExpressionAttributeValues={":s": {"S": "S1"}})
    assert _verify(stack, card, owner).returncode == 0


def test_verify_card_exits_2_when_it_cannot_read_the_card(stack: Stack):
    unknown = _verify(stack, "crd_00000000000000000000", tokens.agent())
    assert unknown.returncode == 2, unknown.stdout + unknown.stderr
    assert "HTTP 404" in unknown.stderr
    assert _verify(stack, "crd_00000000000000000000", "not-a-token").returncode == 2
