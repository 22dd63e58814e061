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
import statistics
import threading
import time
from collections import Counter
from typing import Any

from bench.stack import local_stack
from chalicelib.domain.ledger import parse_tx_id

WARM_UP = 5
TIMEOUT_SECONDS = 10.0


def measure(writes: int) -> tuple[dict[str, list[float]], dict[str, float]]:
    """(lags in ms by what they measure, stream handler calls per write by operation)."""
    import boto3

    from chalicelib.settings import get_settings
    from chalicelib.store import keys
    from chalicelib.store.client import dynamodb as app_dynamodb
    from chalicelib.store.client import events as app_events
    from chalicelib.store.client import from_attributes, to_attributes
    from local.tokens import make_token

    with local_stack() as stack:
        http, secret, pump_thread = stack.http, stack.secret, stack.pump
        settings = get_settings()
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
            _, seq = parse_tx_id(tx["tx_id"])
            feed = dynamodb.get_item(TableName=views_table, Key=to_attributes(
                keys.activity_item(member_id, tx["created_at"], keys.ledger_partition(card_id), seq)))
            if "Item" not in feed:
                return False
            wallet = dynamodb.get_item(TableName=views_table, Key=to_attributes(keys.wallet_card(member_id, card_id)))
            # The wallet keeps the card record (balance in minor units; held/available computed at read).
            return "Item" in wallet and from_attributes(wallet["Item"])["doc"]["balance"] == tx["balance_after"]["amount"]

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
        per_write = {name: count / writes for name, count in sorted(handler_calls.items())}
        return {"write acknowledged → visible": from_ack, "write sent → visible": from_send}, per_write


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
