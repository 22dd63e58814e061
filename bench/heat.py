"""Heat of a simulated day: every write per DynamoDB partition key, API side and stream side.

Run: .venv/bin/python -m bench.heat [--ops 500] [--stream-shards 8] [--seed 7]

A day of mixed traffic over 20 stores (till and order-ahead payments, gift-card payments,
reloads, purchases, redemptions, refunds, balance, wallet and activity reads) goes through the
app in-process on moto (chalice.test.Client); its stream records are then delivered to the real
stream handler the way the event source mapping does under load: the records are spread over
`--stream-shards` simulated stream shards by partition key (DynamoDB keeps one key's records on
one shard, in order) and each shard is delivered in order in full batches of 100. Every DynamoDB
write is counted per partition key in write request units (bench/metering.py), and the hottest
key's WRU per payment gives the payments per second at which it reaches one partition's
1,000 WCU/s. Set-up (members, cards, first reloads) happens before the day and is not counted."""
from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import random
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bench import metering

import boto3  # noqa: E402
from chalice.test import Client  # noqa: E402
from moto import mock_aws  # noqa: E402

PARTITION_WCU = 1000
STORES = [f"S{n}" for n in range(1, 21)]
BATCH = 100


class Day:
    def __init__(self, client: Client, meter: metering.Meter, secret: str, rng: random.Random) -> None:
        from local.tokens import make_token

        self.client, self.meter, self.rng = client, meter, rng
        self.token = lambda role, **claims: make_token(role, secret=secret, **claims)
        self.service = self.token("service")
        self.agent = self.token("agent", agent_id="A1")
        self.pos = {store: self.token("pos", store_id=store, terminal_id="T1") for store in STORES}
        self.payments = 0
        self.statuses: Counter = Counter()
        self.paid: list[tuple[str, str]] = []  # (tx_id, store) of payments that can be refunded

    def call(self, method: str, path: str, token: str, body: Any = None, op: str = "") -> Any:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        if method == "POST":
            headers["Idempotency-Key"] = uuid.uuid4().hex
        self.meter.begin("api")
        try:
            response = self.client.http.request(method, path, headers=headers,
                                                body=json.dumps(body) if body is not None else None)
        finally:
            self.meter.end()
        self.statuses[(op or path.split("/")[-1], response.status_code)] += 1
        return response.status_code, json.loads(response.body) if response.body else None

    def set_up(self, members: int, gift_cards: int) -> None:
        self.members: list[tuple[str, str, str]] = []  # (member_id, card_id, customer token)
        for n in range(members):
            _, member = self.call("POST", "/v1/members", self.service, {"name": f"M{n}", "email": f"m{n}-{uuid.uuid4().hex[:6]}@example.com"})
            _, card = self.call("POST", "/v1/cards", self.agent, {"member_id": member["member_id"]})
            channel = "app" if n % 3 else "web"
            token = self.token("customer", member_id=member["member_id"], channel=channel)
            self.members.append((member["member_id"], card["card_id"], token))
            self.call("POST", f"/v1/cards/{card['card_id']}/reloads", token, self._reload(30000))
        self.gifts = []
        for _ in range(gift_cards):
            store = self.rng.choice(STORES)
            _, card = self.call("POST", "/v1/cards", self.pos[store], {})
            self.gifts.append(card["card_id"])
            self.call("POST", f"/v1/cards/{card['card_id']}/reloads", self.pos[store], self._reload(20000))

    @staticmethod
    def _reload(amount: int) -> dict[str, Any]:
        return {"amount": {"amount": amount, "currency": "USD"}, "payment_ref": "psp-bench"}

    def one(self) -> None:
        rng = self.rng
        member_id, card_id, customer = rng.choice(self.members)
        store = rng.choice(STORES)
        roll = rng.random()
        amount = {"amount": rng.randrange(150, 1800), "currency": "USD"}
        if roll < 0.45:  # payment at the till, stars
            status, body = self.call("POST", f"/v1/cards/{card_id}/payments", self.pos[store], {"amount": amount}, "payment at till")
            self._paid(status, body, store)
        elif roll < 0.60:  # order ahead in the app, picked up at a store
            status, body = self.call("POST", f"/v1/cards/{card_id}/payments", customer, {"amount": amount, "store_id": store}, "payment ahead")
            self._paid(status, body, store)
        elif roll < 0.65:  # a gift card at the till
            status, body = self.call("POST", f"/v1/cards/{rng.choice(self.gifts)}/payments", self.pos[store], {"amount": amount}, "gift card payment")
            self._paid(status, body, None)
        elif roll < 0.77:  # reload in the app, on the web or at a till
            token = customer if rng.random() < 0.7 else self.pos[store]
            self.call("POST", f"/v1/cards/{card_id}/reloads", token, self._reload(rng.choice([2500, 5000])), "reload")
        elif roll < 0.82:  # a purchase paid another way, stars only
            self.call("POST", f"/v1/members/{member_id}/purchases", self.pos[store], {"amount": amount, "tender": "cash"}, "purchase")
        elif roll < 0.86:
            self.call("POST", f"/v1/members/{member_id}/redemptions", self.pos[store], {"reward_id": "rw_25"}, "redemption")
        elif roll < 0.90 and self.paid:
            tx_id, paid_at = self.paid.pop(rng.randrange(len(self.paid)))
            token = self.pos[paid_at] if paid_at else self.agent
            self.call("POST", f"/v1/transactions/{tx_id}/refunds", token, {"amount": {"amount": 100, "currency": "USD"}}, "refund")
        elif roll < 0.95:
            self.call("GET", f"/v1/cards/{card_id}", self.pos[store], op="balance read")
        elif roll < 0.98:
            self.call("GET", f"/v1/members/{member_id}", customer, op="wallet read")
        else:
            self.call("GET", f"/v1/members/{member_id}/activity", customer, op="activity read")

    def _paid(self, status: int, body: Any, store: str | None) -> None:
        if status == 201:
            self.payments += 1
            self.paid.append((body["tx_id"], store))


class Stream:
    """Collects the stream's records and delivers them per simulated shard in full batches."""

    def __init__(self, client: Client, meter: metering.Meter, stream_arn: str, shards: int) -> None:
        from local.pump import StreamPump

        self.client, self.meter, self.shards = client, meter, shards
        self.collected: list[dict[str, Any]] = []
        self.pump = StreamPump(boto3.client("dynamodbstreams"), stream_arn, self._collect, batch_size=1000)
        self.batches = 0
        self.records = 0
        self.failures = 0

    def _collect(self, event: dict[str, Any]) -> dict[str, Any]:
        self.collected += copy.deepcopy(event["Records"])
        return {"batchItemFailures": []}

    def deliver(self, counted: bool = True) -> None:
        """Everything in the stream (and whatever the handler writes in turn, e.g. auto-reloads)."""
        while True:
            self.collected = []
            self.pump.drain()
            if not self.collected:
                return
            per_shard: dict[int, list[dict[str, Any]]] = {}
            for record in self.collected:
                pk = record["dynamodb"]["Keys"]["PK"]["S"]
                shard = int(hashlib.sha256(pk.encode()).hexdigest(), 16) % self.shards
                per_shard.setdefault(shard, []).append(record)
            for shard, records in sorted(per_shard.items()):
                for start in range(0, len(records), BATCH):
                    batch = records[start:start + BATCH]
                    event = {"Records": batch, "shardId": f"shardId-bench-{shard:04d}"}
                    if counted:
                        self.meter.begin("stream", len(batch))
                    try:
                        payload = self.client.lambda_.invoke("on_ledger_change", event).payload
                    finally:
                        self.meter.end()
                    self.batches += counted
                    self.records += len(batch) if counted else 0
                    self.failures += len(payload.get("batchItemFailures") or []) if isinstance(payload, dict) else 0


@contextmanager
def metered_app(stream_shards: int, rng: random.Random) -> Iterator[tuple["Day", "Stream", metering.Meter]]:
    """The app in-process on a fresh moto account with every call metered: a Day to drive traffic
    through it, the Stream that delivers its records to the handler, and the Meter (bench/cost.py too)."""
    from app import app
    from chalicelib.settings import reset_settings
    from chalicelib.store.client import dynamodb, events, reset_clients
    from local.moto_transactions import patch_moto_transactions
    from local.tables import create_tables

    patch_moto_transactions()  # as the local stack and the tests run moto: a transaction backs up its items only
    with mock_aws():
        reset_settings()
        reset_clients()
        streams = create_tables(boto3.client("dynamodb"))
        boto3.client("events").create_event_bus(Name="omnicard")
        meter = metering.Meter(boto3.client("dynamodb"))
        meter.install(dynamodb(), events())
        project = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        with Client(app, stage_name="local", project_dir=project) as client:
            yield (Day(client, meter, os.environ["OMNICARD_JWT_SECRET"], rng),
                   Stream(client, meter, streams["LedgerTable"], stream_shards), meter)


def run(ops: int, members: int, gift_cards: int, stream_shards: int, seed: int) -> dict[str, Any]:
    with metered_app(stream_shards, random.Random(seed)) as (day, stream, meter):
        day.set_up(members, gift_cards)
        stream.deliver(counted=False)
        meter.reset()  # count the day only
        day.statuses.clear()
        for _ in range(ops):
            day.one()
        stream.deliver()
    return {"meter": meter, "day": day, "stream": stream}


def report(result: dict[str, Any], top: int = 8) -> dict[str, Any]:
    meter, day, stream = result["meter"], result["day"], result["stream"]
    payments = day.payments
    keys = meter.by_partition_key()
    total = sum(keys.values())
    shapes: Counter = Counter()
    hottest_of_shape: dict[str, tuple[str, int]] = {}
    for pk, units in keys.items():
        family = metering.shape(pk)
        shapes[family] += units
        if units > hottest_of_shape.get(family, ("", 0))[1]:
            hottest_of_shape[family] = (pk, units)
    hottest_pk, hottest_units = keys.most_common(1)[0]
    per_payment = hottest_units / payments
    rows = [{"key": pk, "shape": metering.shape(pk), "share": units / total, "wru_per_payment": units / payments,
             "ceiling_payments_per_s": PARTITION_WCU / (units / payments)}
            for pk, units in keys.most_common(top)]
    items = [{"item": f"{pk} / {sk}", "share": units / total, "wru_per_payment": units / payments}
             for (pk, sk), units in meter.item_wru.most_common(top)]
    return {
        "payments": payments, "operations": sum(day.statuses.values()),
        "stream_batches": stream.batches, "stream_records": stream.records, "stream_failures": stream.failures,
        "wru_total": total, "wru_per_payment_api": meter.wru_by_phase["api"] / payments,
        "wru_per_payment_stream": meter.wru_by_phase["stream"] / payments,
        "hottest_key": hottest_pk, "hottest_wru_per_payment": per_payment,
        "ceiling_payments_per_s": PARTITION_WCU / per_payment,
        "top_keys": rows, "top_items": items,
        "families": [{"shape": family, "share": units / total, "hottest": hottest_of_shape[family][0],
                      "hottest_wru_per_payment": hottest_of_shape[family][1] / payments}
                     for family, units in shapes.most_common(top)],
        "statuses": {f"{op} {status}": n for (op, status), n in sorted(day.statuses.items())},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=500)
    parser.add_argument("--members", type=int, default=400)
    parser.add_argument("--gift-cards", type=int, default=40)
    parser.add_argument("--stream-shards", type=int, default=8)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    summary = report(run(args.ops, args.members, args.gift_cards, args.stream_shards, args.seed))
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(f"{summary['operations']} operations, {summary['payments']} payments; stream: {summary['stream_records']} "
          f"records in {summary['stream_batches']} batches over {args.stream_shards} shards "
          f"({summary['stream_failures']} failed records)")
    print(f"WRU per payment: API {summary['wru_per_payment_api']:.1f}, stream {summary['wru_per_payment_stream']:.1f}")
    print(f"hottest partition key {summary['hottest_key']}: {summary['hottest_wru_per_payment']:.2f} WRU per payment "
          f"→ reaches {PARTITION_WCU} WCU/s at {summary['ceiling_payments_per_s']:,.0f} payments/s\n")
    print("| partition key | share of all writes | WRU per payment | payments/s at 1,000 WCU/s |\n|---|---|---|---|")
    for row in summary["top_keys"]:
        print(f"| `{row['key']}` | {row['share']:.1%} | {row['wru_per_payment']:.2f} | {row['ceiling_payments_per_s']:,.0f} |")
    print("\n| key family | share | hottest key of it | its WRU per payment |\n|---|---|---|---|")
    for row in summary["families"]:
        print(f"| `{row['shape']}` | {row['share']:.1%} | `{row['hottest']}` | {row['hottest_wru_per_payment']:.2f} |")
    print("\n| item | share | WRU per payment |\n|---|---|---|")
    for row in summary["top_items"]:
        print(f"| `{row['item']}` | {row['share']:.1%} | {row['wru_per_payment']:.2f} |")
    print("\nstatuses:", ", ".join(f"{k}: {v}" for k, v in summary["statuses"].items()))


if __name__ == "__main__":
    main()
