"""`make demo` (local/demo.py) over a real socket: against the local stack served in this process
(so the whole reconcile — ledger, views, stream history — can check the day it wrote) and against
`python -m local.server` itself, as a developer runs it."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any

import pytest

from local import demo
from tests.conftest import ROOT
from tests.reconciled import assert_reconciled
from tests.stack import fresh_stack, served

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def exported(output: str) -> dict[str, str]:
    """The `export NAME=value` lines the demo prints, as a dict."""
    lines = [line.removeprefix("export ") for line in output.splitlines() if line.startswith("export ")]
    return dict(line.split("=", 1) for line in lines)


def call(base_url: str, method: str, path: str, token: str, *, key: str | None = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    if key:
        headers["Idempotency-Key"] = key
    request = urllib.request.Request(base_url + path, headers=headers, method=method)
    try:
        with OPENER.open(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_demo_writes_a_mixed_channel_day_that_reconciles_and_prints_tokens_that_work(capsys, monkeypatch):
    with fresh_stack(start=None) as stack, served(stack, pump_every=0.05) as base_url:
        with monkeypatch.context() as other_secret:  # tokens the stack cannot verify: refused, nothing written
            other_secret.setenv("OMNICARD_JWT_SECRET", "not-the-stack-secret-0123456789abcdef")
            assert demo.main(["--url", base_url, "--run-id", "t0"]) == 1
        assert "same OMNICARD_JWT_SECRET" in capsys.readouterr().err

        assert demo.main(["--url", base_url, "--run-id", "t1"]) == 0
        output = capsys.readouterr().out
        env = exported(output)
        assert env["OMNICARD_URL"] == base_url

        status, wallet = call(base_url, "GET", f"/v1/members/{env['MEMBER_ID']}", env["CUSTOMER_TOKEN"])
        assert status == 200 and env["CARD_ID"] in [card["card_id"] for card in wallet["cards"]]
        status, found = call(base_url, "GET", f"/v1/cards?number={env['CARD_NUMBER']}", env["POS_TOKEN"])
        assert status == 200 and [card["card_id"] for card in found["items"]] == [env["CARD_ID"]]
        status, card = call(base_url, "GET", f"/v1/cards/{env['CARD_ID']}", env["AGENT_TOKEN"])
        assert status == 200 and card["balance"] == {"amount": 4_085, "currency": "USD"}

        # The agent asked for the pending adjustment; the printed supervisor is another agent_id, so may approve it.
        status, applied = call(base_url, "POST", f"/v1/adjustments/{env['ADJUSTMENT_ID']}/approve",
                               env["SUPERVISOR_TOKEN"], key="approve-1")
        assert status == 200, applied
        assert applied["kind"] == "adjustment" and applied["amount"] == {"amount": 7_500, "currency": "USD"}

        status, report = call(base_url, "GET", "/v1/reports/channels", env["SUPERVISOR_TOKEN"])
        assert status == 200
        kinds = {row["channel"]: {kind["kind"] for kind in row["kinds"]} for row in report["channels"]}
        assert kinds["app"] >= {"reload", "payment", "transfer_out", "transfer_in"}
        assert kinds["web"] >= {"reload", "payment"}
        assert kinds["phone"] >= {"reload", "adjustment"}
        assert kinds["pos"] >= {"reload", "payment", "purchase", "redemption", "refund"}
        assert {store["store_id"] for store in next(row for row in report["channels"] if row["channel"] == "pos")
                ["stores"]} == {"S1", "S2", "S3"}

        assert_reconciled(drain=stack.drain)  # ledger, every view, and the stream history


def test_demo_against_the_make_run_server_completes_and_its_customer_token_works(tmp_path):
    port = free_port()
    env = {name: value for name, value in os.environ.items() if name != "OMNICARD_URL"}
    env.update(PORT=str(port), POWERTOOLS_LOG_LEVEL="WARNING")
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen([sys.executable, "-m", "local.server"], cwd=ROOT, env=env, stdout=log,
                              stderr=subprocess.STDOUT)
    try:
        result = subprocess.run([sys.executable, "-m", "local.demo"], cwd=ROOT, env=_waiting_for(port, env),
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr + (tmp_path / "server.log").read_text()[-3000:]
        printed = exported(result.stdout)
        assert printed["OMNICARD_URL"] == f"http://127.0.0.1:{port}"  # from PORT, as `make demo` passes it
        status, card = call(printed["OMNICARD_URL"], "GET", f"/v1/cards/{printed['CARD_ID']}", printed["CUSTOMER_TOKEN"])
        assert status == 200 and card["card_id"] == printed["CARD_ID"]
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        log.close()


def _waiting_for(port: int, env: dict[str, str], timeout: float = 60.0) -> dict[str, str]:
    """`env` once the server answers its health check (the demo itself refuses to start early)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with OPENER.open(f"http://127.0.0.1:{port}/v1/health", timeout=2):
                return env
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"python -m local.server did not answer on port {port} within {timeout:.0f} s")


def test_demo_without_a_running_stack_says_to_start_make_run(capsys):
    assert demo.main(["--url", f"http://127.0.0.1:{free_port()}"]) == 1
    message = capsys.readouterr().err
    assert "no Omnicard stack answers" in message and "make run" in message


@pytest.mark.parametrize("minor, text", [(4_085, "40.85 USD"), (-5, "-0.05 USD"), (0, "0.00 USD")])
def test_demo_shows_minor_units_as_decimals_without_floats(minor: int, text: str):
    assert demo.shown({"amount": minor, "currency": "USD"}) == text

