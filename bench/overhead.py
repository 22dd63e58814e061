"""App overhead per request: the whole request through the app (auth, validation, idempotency,
planning, commit, audit and rate limit, logs and metrics) against the time spent in the bare
DynamoDB calls it makes, on moto in-process (Chalice's test client, no socket).

Run: .venv/bin/python -m bench.overhead [--requests 150]

The DynamoDB time is measured around each botocore call of the app's client (before-call to
after-call: serialising, moto's work, parsing), so `total − DynamoDB` is what the app itself adds.
A FixedClock moves one minute per request, so reload limits and the rate limit never refuse one."""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
os.environ["AWS_ACCOUNT_ID_ENDPOINT_MODE"] = "disabled"
os.environ.setdefault("OMNICARD_JWT_SECRET", "bench-secret-0123456789-0123456789")

ROOT = Path(__file__).resolve().parent.parent
WARM_UP = 10


class DynamoTimer:
    """Sums the time spent inside the app client's DynamoDB calls, per thread."""

    def __init__(self) -> None:
        self.local = threading.local()
        self.total = 0.0
        self.calls = 0

    def before(self, **_: Any) -> None:
        self.local.started = time.perf_counter()

    def after(self, **_: Any) -> None:
        self.total += time.perf_counter() - self.local.started
        self.calls += 1

    def reset(self) -> None:
        self.total, self.calls = 0.0, 0


def measure(requests: int) -> dict[str, dict[str, float]]:
    import boto3
    from chalice.test import Client
    from moto import mock_aws

    from app import app
    from chalicelib import clock
    from chalicelib.settings import reset_settings
    from chalicelib.store.client import dynamodb, reset_clients
    from local.moto_transactions import patch_moto_transactions
    from local.tables import create_tables
    from local.tokens import make_token

    patch_moto_transactions()  # as the local stack runs moto
    fixed = clock.FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc))
    clock.use_clock(fixed)
    secret = os.environ["OMNICARD_JWT_SECRET"]
    results: dict[str, dict[str, float]] = {}
    with mock_aws():
        reset_settings()
        reset_clients()
        create_tables(boto3.client("dynamodb"))
        timer = DynamoTimer()
        dynamodb().meta.events.register("before-call.dynamodb", timer.before)
        dynamodb().meta.events.register("after-call.dynamodb", timer.after)
        service, agent = make_token("service", secret=secret), make_token("agent", secret=secret, agent_id="A1")
        pos = make_token("pos", secret=secret, store_id="S1", terminal_id="T1")
        with Client(app, stage_name="local", project_dir=str(ROOT)) as client, \
                contextlib.redirect_stdout(io.StringIO()):

            def call(method: str, path: str, token: str, body: Any = None) -> Any:
                headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
                if method == "POST":
                    headers["Idempotency-Key"] = uuid.uuid4().hex
                response = client.http.request(method, path, headers=headers,
                                               body=json.dumps(body) if body is not None else None)
                assert response.status_code < 300, response.body
                return json.loads(response.body)

            member = call("POST", "/v1/members", service, {"name": "Bench", "email": "bench@example.com"})
            card = call("POST", "/v1/cards", agent, {"member_id": member["member_id"]})["card_id"]
            payer = call("POST", "/v1/cards", agent, {"member_id": member["member_id"]})["card_id"]
            call("POST", f"/v1/cards/{payer}/reloads", agent, {"amount": {"amount": 50_000, "currency": "USD"},
                                                               "payment_ref": "bench"})
            operations: dict[str, Callable[[], Any]] = {
                "payment with stars (POS)": lambda: call("POST", f"/v1/cards/{payer}/payments", pos,
                                                         {"amount": {"amount": 100, "currency": "USD"}}),
                "reload (agent)": lambda: call("POST", f"/v1/cards/{card}/reloads", agent,
                                               {"amount": {"amount": 500, "currency": "USD"}, "payment_ref": "b"}),
                "balance read (POS)": lambda: call("GET", f"/v1/cards/{card}", pos),
            }
            for name, operation in operations.items():
                totals, in_dynamo, calls = [], [], []
                for number in range(requests + WARM_UP):
                    fixed.advance(timedelta(minutes=7))  # past the hourly reload count and the rate limit
                    timer.reset()
                    started = time.perf_counter()
                    operation()
                    elapsed = time.perf_counter() - started
                    if number >= WARM_UP:
                        totals.append(elapsed * 1000)
                        in_dynamo.append(timer.total * 1000)
                        calls.append(timer.calls)
                total, dynamo = statistics.median(totals), statistics.median(in_dynamo)
                results[name] = {"total": total, "dynamodb": dynamo, "overhead": total - dynamo,
                                 "calls": statistics.median(calls)}
    clock.use_clock(clock.SystemClock())
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=150)
    requests = parser.parse_args().requests
    print(f"medians of {requests} requests each, in-process (Chalice test client, moto)")
    print("| request | total ms | in its DynamoDB calls ms (floor) | app overhead ms | total / floor |")
    print("|---|---|---|---|---|")
    for name, row in measure(requests).items():
        print(f"| {name} ({row['calls']:.0f} calls) | {row['total']:.1f} | {row['dynamodb']:.1f} | "
              f"{row['overhead']:.1f} | ×{row['total'] / row['dynamodb']:.2f} |")


if __name__ == "__main__":
    main()
