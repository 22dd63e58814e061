"""DynamoDB round trips and items written per operation, counted at the botocore layer.

Run: make bench-round-trips   (or .venv/bin/python -m bench.round_trips)
moto's ReturnConsumedCapacity is fixed constants, so we count calls and items ourselves."""
from __future__ import annotations

import json
import os
import uuid
from collections import Counter
from datetime import datetime, timezone

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
os.environ["AWS_ACCOUNT_ID_ENDPOINT_MODE"] = "disabled"
os.environ.setdefault("OMNICARD_JWT_SECRET", "bench-secret-0123456789-0123456789")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")

import boto3  # noqa: E402
from chalice.test import Client  # noqa: E402
from moto import mock_aws  # noqa: E402

WRITES = {"PutItem": 1, "UpdateItem": 1, "DeleteItem": 1}


class Meter:
    """Counts DynamoDB calls and items written by every client in the process."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.items_written = 0

    def __call__(self, model, params, **_):  # botocore 'provide-client-params' style hook
        name = model.name
        self.calls[name] += 1
        if name in WRITES:
            self.items_written += 1
        elif name == "TransactWriteItems":
            self.items_written += sum(1 for item in params["TransactItems"] if "ConditionCheck" not in item)
        elif name == "BatchWriteItem":
            self.items_written += sum(len(v) for v in params["RequestItems"].values())

    def reset(self) -> None:
        self.calls.clear()
        self.items_written = 0

    def summary(self) -> dict:
        return {"round_trips": sum(self.calls.values()), "items_written": self.items_written, "calls": dict(self.calls)}


def measure() -> dict[str, dict]:
    from app import app
    from chalicelib.settings import reset_settings
    from chalicelib.store.client import dynamodb, reset_clients
    from local.tables import create_tables
    from local.tokens import make_token

    results: dict[str, dict] = {}
    with mock_aws():
        reset_settings()
        reset_clients()
        create_tables(boto3.client("dynamodb"))
        meter = Meter()
        dynamodb().meta.events.register("provide-client-params.dynamodb", lambda model, params, **kw: meter(model, params))
        secret = os.environ["OMNICARD_JWT_SECRET"]
        agent = make_token("agent", secret=secret, agent_id="A1")
        pos = make_token("pos", secret=secret, store_id="S1", terminal_id="T1")
        service = make_token("service", secret=secret)
        with Client(app, stage_name="local", project_dir=os.path.dirname(os.path.dirname(os.path.abspath(__file__)))) as client:
            def post(path, token, body):
                headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                           "Idempotency-Key": uuid.uuid4().hex}
                return json.loads(client.http.post(path, headers=headers, body=json.dumps(body)).body)

            def get(path, token):
                return json.loads(client.http.get(path, headers={"Authorization": f"Bearer {token}"}).body)

            def measured(name, action):
                meter.reset()
                result = action()
                results[name] = meter.summary()
                return result

            member = measured("enrol member", lambda: post("/v1/members", service, {"name": "A", "email": "a@example.com"}))
            card = measured("issue card", lambda: post("/v1/cards", agent, {"member_id": member["member_id"]}))
            other = post("/v1/cards", agent, {"member_id": member["member_id"]})
            reload_body = {"amount": {"amount": 5000, "currency": "USD"}, "payment_ref": "p"}
            measured("reload", lambda: post(f"/v1/cards/{card['card_id']}/reloads", agent, reload_body))
            gift = post("/v1/cards", pos, {})
            post(f"/v1/cards/{gift['card_id']}/reloads", pos, reload_body)
            measured("payment, gift card (no stars)", lambda: post(f"/v1/cards/{gift['card_id']}/payments", pos, {"amount": {"amount": 500, "currency": "USD"}}))
            payment = measured("payment with stars", lambda: post(f"/v1/cards/{card['card_id']}/payments", pos, {"amount": {"amount": 2000, "currency": "USD"}}))
            from chalicelib.store import cards as card_store
            card_store._MEMBER_OF_CARD.clear()  # a process that has never read this card (a fresh Lambda instance)
            measured("payment with stars, card new to the process", lambda: post(f"/v1/cards/{card['card_id']}/payments", pos, {"amount": {"amount": 100, "currency": "USD"}}))
            for size in (1, 10, 100):  # spread over the member's card and the gift card, new to the process
                card_store._MEMBER_OF_CARD.clear()
                taken = datetime.now(timezone.utc).isoformat()
                sales = [{"item_key": f"bench-{size}-{i}", "card_number": (card if i % 2 else gift)["card_number"],
                          "amount": {"amount": 1, "currency": "USD"}, "occurred_at": taken} for i in range(size)]
                measured(f"offline batch, {size} item{'s' if size > 1 else ''}",
                         lambda: post("/v1/pos/batches", pos, {"items": sales}))
            measured("purchase (stars only)", lambda: post(f"/v1/members/{member['member_id']}/purchases", pos, {"amount": {"amount": 1000, "currency": "USD"}, "tender": "cash"}))
            measured("redemption", lambda: post(f"/v1/members/{member['member_id']}/redemptions", pos, {"reward_id": "rw_25"}))
            measured("refund (partial, with stars)", lambda: post(f"/v1/transactions/{payment['tx_id']}/refunds", agent, {"amount": {"amount": 1000, "currency": "USD"}}))
            measured("transfer", lambda: post(f"/v1/cards/{card['card_id']}/transfers", agent, {"to_card_id": other["card_id"]}))
            hold_body = {"amount": {"amount": 1500, "currency": "USD"}}
            post(f"/v1/cards/{card['card_id']}/reloads", agent, reload_body)
            held = measured("hold (pre-authorization)", lambda: post(f"/v1/cards/{card['card_id']}/holds", pos, hold_body))
            measured("hold read (GET hold)", lambda: get(f"/v1/holds/{held['hold_id']}", pos))
            measured("capture with stars (part of the hold)", lambda: post(f"/v1/holds/{held['hold_id']}/capture", pos, {"amount": {"amount": 1200, "currency": "USD"}}))
            other_hold = post(f"/v1/cards/{card['card_id']}/holds", pos, hold_body)
            measured("void", lambda: post(f"/v1/holds/{other_hold['hold_id']}/void", pos, {}))
            third = post(f"/v1/cards/{card['card_id']}/holds", pos, hold_body)
            card_store._MEMBER_OF_CARD.clear()
            measured("capture with stars, card new to the process", lambda: post(f"/v1/holds/{third['hold_id']}/capture", pos, {}))
            # Reads as a till: a staff member's read also files its audit record (one write, by design).
            measured("balance read (GET card)", lambda: get(f"/v1/cards/{card['card_id']}", pos))
            card_store._MEMBER_OF_CARD.clear()
            measured("balance read, card new to the process (member read apart)", lambda: get(f"/v1/cards/{card['card_id']}", pos))
            measured("card by number", lambda: get(f"/v1/cards?number={card['card_number']}", pos))
            measured("transactions page", lambda: get(f"/v1/cards/{card['card_id']}/transactions", pos))
            measured("balance read, as staff (audited)", lambda: get(f"/v1/cards/{card['card_id']}", agent))
            measured("wallet read (GET member)", lambda: get(f"/v1/members/{member['member_id']}", agent))
    return results


def main() -> None:
    results = measure()
    print("| operation | DynamoDB round trips | items written | calls |")
    print("|---|---|---|---|")
    for name, row in results.items():
        calls = ", ".join(f"{k} {v}" for k, v in sorted(row["calls"].items()))
        print(f"| {name} | {row['round_trips']} | {row['items_written']} | {calls} |")


if __name__ == "__main__":
    main()
