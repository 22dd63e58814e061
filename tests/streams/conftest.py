"""Helpers for stream tests: record what the pump delivers, replay records to the handler,
snapshot and wipe the Views table, and read the events that reached the bus."""
from __future__ import annotations

import copy
import json
from typing import Any

import boto3
import pytest

from chalicelib.settings import get_settings
from chalicelib.store.client import from_attributes


@pytest.fixture
def deliveries(drain):
    """drain() that also returns every record it delivered, in delivery order (copies)."""
    pump = drain.pump
    original = pump._deliver

    def run() -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []

        def recording(event: dict[str, Any]) -> Any:
            records.extend(copy.deepcopy(event["Records"]))
            return original(event)

        pump._deliver = recording
        try:
            drain()
        finally:
            pump._deliver = original
        return records

    return run


@pytest.fixture
def handler(client, aws):
    """Hand these records to the stream handler as one Lambda batch from the ledger stream's shard
    (the shard id the event source mapping names, as the pump does); returns its response."""
    streams = boto3.client("dynamodbstreams")
    shard = streams.describe_stream(StreamArn=aws["LedgerTable"])["StreamDescription"]["Shards"][0]["ShardId"]

    def invoke(records: list[dict[str, Any]]) -> dict[str, Any]:
        event = {"Records": copy.deepcopy(records), "shardId": shard}
        return client.lambda_.invoke("on_ledger_change", event).payload

    return invoke


@pytest.fixture
def views(aws):
    """The Views table: snapshot() every projection item, wipe() them all."""

    class Views:
        def __init__(self) -> None:
            self.client = boto3.client("dynamodb")
            self.table = get_settings().views_table

        def items(self) -> list[dict[str, Any]]:
            found, kwargs = [], {"TableName": self.table}
            while True:
                page = self.client.scan(**kwargs)
                found += [from_attributes(item) for item in page["Items"]]
                if "LastEvaluatedKey" not in page:
                    return found
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

        def snapshot(self) -> dict[tuple[str, str], dict[str, Any]]:
            return {(item["PK"], item["SK"]): item for item in self.items()}

        def summed(self) -> dict[tuple[str, ...], Any]:
            """snapshot() with the sharded counters summed over their shards (how they are read),
            and without the stream shards' progress items (how far each delivery counted)."""
            found: dict[tuple[str, ...], Any] = {}
            for (pk, sk), item in self.snapshot().items():
                family = pk.split("#")[0]
                if family == "PROGRESS":
                    continue
                if family not in ("REPORT", "LIABILITY"):
                    found[(pk, sk)] = item
                    continue
                where = (family, pk.split("#")[1] if family == "REPORT" else "", sk)
                if sk == "AS_OF":
                    found[where] = max(found.get(where, ""), item["as_of"])
                    continue
                totals = found.setdefault(where, {})
                for name, value in item.items():
                    if isinstance(value, int):
                        totals[name] = totals.get(name, 0) + value
                    elif name not in ("PK", "SK"):
                        totals[name] = value
            return found

        def wipe(self, prefix: str = "") -> None:
            for item in self.items():
                if item["PK"].startswith(prefix):
                    self.client.delete_item(TableName=self.table, Key={"PK": {"S": item["PK"]}, "SK": {"S": item["SK"]}})

    return Views()


@pytest.fixture
def bus(aws):
    """An SQS queue subscribed to everything with source omnicard on the omnicard bus.
    `bus.received()` returns every event delivered so far (accumulated across calls)."""
    events, sqs = boto3.client("events"), boto3.client("sqs")
    queue = sqs.create_queue(QueueName="omnicard-events-test")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    class Bus:
        def __init__(self) -> None:
            self.seen: list[dict[str, Any]] = []
            self.subscribe()

        def subscribe(self) -> None:
            bus_name = get_settings().event_bus
            events.put_rule(Name="everything", EventBusName=bus_name, EventPattern=json.dumps({"source": ["omnicard"]}))
            events.put_targets(Rule="everything", EventBusName=bus_name, Targets=[{"Id": "queue", "Arn": arn}])

        def received(self) -> list[dict[str, Any]]:
            while True:
                messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
                if not messages:
                    return list(self.seen)
                for message in messages:
                    self.seen.append(json.loads(message["Body"]))
                    sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])

    return Bus()


def entry_records(records: list[dict[str, Any]], kind: str | None = None) -> list[dict[str, Any]]:
    """The records of new ledger entries (optionally of one kind), in delivery order."""
    return [r for r in records if r["eventName"] == "INSERT" and r["dynamodb"]["Keys"]["SK"]["S"].startswith("TX#")
            and "tx_id" in r["dynamodb"].get("NewImage", {})
            and (kind is None or r["dynamodb"]["NewImage"]["kind"]["S"] == kind)]


def card_records(records: list[dict[str, Any]], card_id: str) -> list[dict[str, Any]]:
    return [r for r in records if r["dynamodb"]["Keys"] == {"PK": {"S": f"CARD#{card_id}"}, "SK": {"S": "CARD"}}]
