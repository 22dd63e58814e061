"""`make demo` (local/demo.py): the Makefile target against `python -m local.server` (what `make run`
starts) over a real socket, ending with `make reconcile` (ledger, views and stream history) on that
stack's tables; then every printed token is used as its role would."""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local import demo
from tests.conftest import ROOT

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


@pytest.fixture
def make_run(tmp_path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """`python -m local.server` on a free PORT, as `make run` starts it: (port, its environment)."""
    port = free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith(("MAKE", "MFLAGS"))}
    env["PORT"] = str(port)
    log_path = tmp_path / "server.log"
    with log_path.open("w") as log:
        server = subprocess.Popen([sys.executable, "-m", "local.server"], cwd=ROOT, env=env, stdout=log,
                                  stderr=subprocess.STDOUT)
        try:
            _wait_for_health(port, log_path)
            yield port, env
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)


def test_make_demo_on_make_run_reconciles_and_prints_tokens_that_work_for_every_role(make_run, capsys, monkeypatch):
    port, env = make_run
    base_url = f"http://127.0.0.1:{port}"
    with monkeypatch.context() as other_secret:  # tokens the stack cannot verify: refused, nothing written
        other_secret.setenv("OMNICARD_JWT_SECRET", "not-the-stack-secret-0123456789abcdef")
        assert demo.main(["--url", base_url]) == 1
    assert "same OMNICARD_JWT_SECRET" in capsys.readouterr().err

    # The Makefile's own target, with this interpreter's venv (no .venv set-up from inside a test);
    # its `make reconcile` reads the stream history too.
    result = subprocess.run(["make", "--no-print-directory", "demo", f"PORT={port}", "ARGS=--stream",
                             f"BIN={Path(sys.executable).parent}", "STAMP="],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    assert "all invariants hold" in result.stdout
    assert re.search(r"ok +versions_gapless_in_history", result.stdout), result.stdout[-3000:]
    printed = exported(result.stdout)
    assert printed["OMNICARD_URL"] == base_url  # from PORT, as `make run` serves

    status, wallet = call(base_url, "GET", f"/v1/members/{printed['MEMBER_ID']}", printed["CUSTOMER_TOKEN"])
    assert status == 200 and printed["CARD_ID"] in [card["card_id"] for card in wallet["cards"]]
    status, found = call(base_url, "GET", f"/v1/cards?number={printed['CARD_NUMBER']}", printed["POS_TOKEN"])
    assert status == 200 and [card["card_id"] for card in found["items"]] == [printed["CARD_ID"]]
    status, card = call(base_url, "GET", f"/v1/cards/{printed['CARD_ID']}", printed["AGENT_TOKEN"])
    assert status == 200 and card["balance"] == {"amount": 4_085, "currency": "USD"}

    # The agent asked for the pending adjustment; the printed supervisor is another agent_id, so may approve it.
    status, applied = call(base_url, "POST", f"/v1/adjustments/{printed['ADJUSTMENT_ID']}/approve",
                           printed["SUPERVISOR_TOKEN"], key="approve-1")
    assert status == 200, applied
    assert applied["kind"] == "adjustment" and applied["amount"] == {"amount": 7_500, "currency": "USD"}

    # A day on every channel, tills at three stores.
    status, report = call(base_url, "GET", "/v1/reports/channels", printed["SUPERVISOR_TOKEN"])
    assert status == 200
    kinds = {row["channel"]: {kind["kind"] for kind in row["kinds"]} for row in report["channels"]}
    assert kinds["app"] >= {"reload", "payment", "transfer_out", "transfer_in"}
    assert kinds["web"] >= {"reload", "payment"}
    assert kinds["phone"] >= {"reload", "adjustment"}
    assert kinds["pos"] >= {"reload", "payment", "purchase", "redemption", "refund"}
    tills = next(row for row in report["channels"] if row["channel"] == "pos")
    assert {store["store_id"] for store in tills["stores"]} == {"S1", "S2", "S3"}


def test_demo_without_a_running_stack_says_to_start_make_run(capsys):
    assert demo.main(["--url", f"http://127.0.0.1:{free_port()}"]) == 1
    message = capsys.readouterr().err
    assert "no Omnicard stack answers" in message and "make run" in message


@pytest.mark.parametrize("minor, text", [(4_085, "40.85 USD"), (-5, "-0.05 USD"), (0, "0.00 USD")])
def test_demo_shows_minor_units_as_decimals_without_floats(minor: int, text: str):
    assert demo.shown({"amount": minor, "currency": "USD"}) == text


def _wait_for_health(port: int, log_path: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with OPENER.open(f"http://127.0.0.1:{port}/v1/health", timeout=2):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"python -m local.server did not answer on port {port} within {timeout:.0f} s:\n"
                         + log_path.read_text()[-3000:])
