"""Propagation lag: an HTTP write → the stream-kept views showing it, on the local stack.

Run: .venv/bin/python -m bench.propagation [--writes 200]

Starts, in this process, what `make run` starts: moto, the tables from infra/template.json, the
event bus, the Chalice local server on a free port and the stream pump (polling every 50 ms, the
handler doing every projection, auto-reload check and event). Then it makes `--writes` writes over
real HTTP, one at a time — POS payments and app order-ahead payments, alternately, on one
registered card — and after each polls the Views table (GetItem every 2 ms) until the member's
activity feed holds the new transaction and the wallet shows the card's new balance. Lag is
measured from the write's response (the commit acknowledged) and from sending the request."""
from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from typing import Any

os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")

WARM_UP = 5
TIMEOUT_SECONDS = 10.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Http:
    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def call(self, method: str, path: str, token: str, body: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        if method == "POST":
            headers["Idempotency-Key"] = uuid.uuid4().hex
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, headers=headers, method=method)
        try:
            with self.opener.open(request, timeout=10) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"{method} {path}: {exc.code} {exc.read().decode()}") from exc


def measure(writes: int) -> tuple[dict[str, list[float]], dict[str, float]]:
    """(lags in ms by what they measure, stream handler calls per write by operation)."""
    from local import server as local_server

    local_server._set_environment()
    config = local_server._load_chalice_config()

    import boto3
    from chalice.local import create_local_server
    from moto import mock_aws

    from chalicelib.settings import get_settings, reset_settings
    from chalicelib.store import keys
    from chalicelib.store.client import dynamodb as app_dynamodb
    from chalicelib.store.client import events as app_events
    from chalicelib.store.client import from_attributes, reset_clients, to_attributes
    from local.moto_threads import serialize_moto_requests
    from local.moto_transactions import cheap_transaction_backups
    from local.tables import create_tables
    from local.tokens import make_token

    serialize_moto_requests()
    cheap_transaction_backups()
    mock = mock_aws()
    mock.start()
    stop = threading.Event()
    try:
        reset_settings()
        reset_clients()
        settings = get_settings()
        stream_arns = create_tables(boto3.client("dynamodb"), settings)
        local_server._create_event_bus(boto3.client("events"), settings.event_bus)
        app = config.chalice_app
        pump_thread = local_server._start_pump(app, stream_arns["LedgerTable"], stop)
        port = _free_port()
        httpd = create_local_server(app, config, "127.0.0.1", port)
        threading.Thread(target=httpd.serve_forever, name="http", daemon=True).start()

        secret = os.environ["OMNICARD_JWT_SECRET"]
        http = Http(f"http://127.0.0.1:{port}")
        member = http.call("POST", "/v1/members", make_token("service", secret=secret),
                           {"name": "Bench", "email": "bench@example.com"})
        member_id = member["member_id"]
        app_token = make_token("customer", secret=secret, member_id=member_id, channel="app")
        pos_token = make_token("pos", secret=secret, store_id="S1", terminal_id="T1")
        card = http.call("POST", "/v1/cards", app_token, {"member_id": member_id})
        card_id = card["card_id"]
        http.call("POST", f"/v1/cards/{card_id}/reloads", app_token,
                  {"amount": {"amount": 50_000, "currency": "USD"}, "payment_ref": "bench"})

        dynamodb = boto3.client("dynamodb")
        views_table = settings.views_table
        handler_calls: Counter[str] = Counter()

        def count_handler_call(model: Any, **_: Any) -> None:
            if threading.current_thread() is pump_thread:
                handler_calls[model.name] += 1

        for client in (app_dynamodb(), app_events()):
            client.meta.events.register("provide-client-params", count_handler_call)

        def visible(tx: dict[str, Any]) -> bool:
            seq = int(tx["tx_id"].rsplit("_", 1)[1])
            feed = dynamodb.get_item(TableName=views_table, Key=to_attributes(
                keys.activity_item(member_id, tx["created_at"], keys.ledger_partition(card_id), seq)))
            if "Item" not in feed:
                return False
            wallet = dynamodb.get_item(TableName=views_table, Key=to_attributes(keys.wallet_card(member_id, card_id)))
            return "Item" in wallet and from_attributes(wallet["Item"])["doc"]["balance"] == tx["balance_after"]

        from_ack, from_send = [], []
        for number in range(writes + WARM_UP):
            if number == WARM_UP:
                handler_calls.clear()
            sent = time.perf_counter()
            # A till payment and an order-ahead payment in the app, alternately (reloads are rate-limited per card).
            token = pos_token if number % 2 == 0 else app_token
            tx = http.call("POST", f"/v1/cards/{card_id}/payments", token, {"amount": {"amount": 100, "currency": "USD"}})
            acked = time.perf_counter()
            while not visible(tx):
                if time.perf_counter() - acked > TIMEOUT_SECONDS:
                    raise RuntimeError(f"{tx['tx_id']} not visible after {TIMEOUT_SECONDS} s")
                time.sleep(0.002)
            seen = time.perf_counter()
            if number >= WARM_UP:
                from_ack.append((seen - acked) * 1000)
                from_send.append((seen - sent) * 1000)
        httpd.shutdown()
        per_write = {name: count / writes for name, count in sorted(handler_calls.items())}
        return {"write acknowledged → visible": from_ack, "write sent → visible": from_send}, per_write
    finally:
        stop.set()
        if "pump_thread" in locals() and pump_thread is not None:
            pump_thread.join(timeout=10)
        mock.stop()


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=200)
    writes = parser.parse_args().writes
    results, per_write = measure(writes)
    print(f"{writes} writes, one at a time (POS and app order-ahead payments alternately), pump interval 50 ms")
    print("| lag (ms) | median | p90 | p99 | max |")
    print("|---|---|---|---|---|")
    for name, values in results.items():
        print(f"| {name} | {statistics.median(values):.0f} | {_percentile(values, 0.90):.0f} | "
              f"{_percentile(values, 0.99):.0f} | {max(values):.0f} |")
    print("stream handler calls per write (a payment with stars): " +
          ", ".join(f"{name} {count:.1f}" for name, count in per_write.items()))


if __name__ == "__main__":
    main()
