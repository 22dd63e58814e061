"""The stream pump hands the handler what Lambda would, with ReportBatchItemFailures semantics."""
from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent
from chalice.app import DynamoDBEvent

from chalicelib.settings import Settings
from local.pump import StreamPump

BLOB = b"\x00\xffcard-token"


class Handler:
    """Records every batch it is given; fails the records whose PK is in `poison`."""

    def __init__(self, poison: set[str] | None = None, fail_times: int | None = None, raise_first: bool = False):
        self.batches: list[list[dict[str, Any]]] = []
        self.poison = poison or set()
        self.fail_times = fail_times
        self.raise_first = raise_first

    def __call__(self, event: dict[str, Any]) -> dict[str, Any]:
        records = event["Records"]
        self.batches.append(records)
        if self.raise_first and len(self.batches) == 1:
            raise RuntimeError("handler crashed")
        failures = [r["dynamodb"]["SequenceNumber"] for r in records if _pk(r) in self.poison]
        if self.fail_times is not None and self.deliveries_of(*self.poison) > self.fail_times:
            failures = []
        return {"batchItemFailures": [{"itemIdentifier": sequence} for sequence in failures]}

    def deliveries_of(self, *pks: str) -> int:
        return sum(1 for batch in self.batches for record in batch if _pk(record) in pks)


def _pk(record: dict[str, Any]) -> str:
    return str(record["dynamodb"]["Keys"]["PK"]["S"])


def _put(dynamodb: Any, settings: Settings, pk: str) -> None:
    dynamodb.put_item(TableName=settings.ledger_table, Item={"PK": {"S": pk}, "SK": {"S": "META"}})


def test_put_then_update_reach_the_handler_as_lambda_shaped_records(dynamodb, streams, settings, ledger_stream_arn):
    # Given a card written with binary values at every depth, then updated
    dynamodb.put_item(TableName=settings.ledger_table, Item={
        "PK": {"S": "CARD#1"}, "SK": {"S": "META"}, "token": {"B": BLOB}, "balance": {"N": "500"},
        "fingerprints": {"BS": [BLOB, b"\x01"]},
        "device": {"M": {"key": {"B": BLOB}, "history": {"L": [{"B": BLOB}, {"S": "plain"}]}}},
    })
    dynamodb.update_item(TableName=settings.ledger_table, Key={"PK": {"S": "CARD#1"}, "SK": {"S": "META"}},
                         UpdateExpression="SET balance = :b", ExpressionAttributeValues={":b": {"N": "700"}})
    handler = Handler()

    # When the pump drains the stream
    delivered = StreamPump(streams, ledger_stream_arn, handler).drain()

    # Then both records arrive in order, in the shape Lambda gives, and JSON-serialisable
    assert delivered == 2
    [batch] = handler.batches
    event = {"Records": batch}
    json.dumps(event)
    insert, modify = batch
    assert (insert["eventName"], modify["eventName"]) == ("INSERT", "MODIFY")
    for record in batch:
        assert record["eventSourceARN"] == ledger_stream_arn
        assert (record["eventSource"], record["eventVersion"]) == ("aws:dynamodb", "1.1")
        assert record["awsRegion"] == "us-east-1"
        assert record["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
        assert record["dynamodb"]["SizeBytes"] > 0
        created = record["dynamodb"]["ApproximateCreationDateTime"]
        assert isinstance(created, int) and abs(created - time.time()) < 60
    image = modify["dynamodb"]["NewImage"]
    assert image["token"] == {"B": base64.b64encode(BLOB).decode()}
    assert set(image["fingerprints"]["BS"]) == {base64.b64encode(BLOB).decode(), "AQ=="}
    assert image["device"]["M"]["key"] == {"B": base64.b64encode(BLOB).decode()}
    assert image["device"]["M"]["history"]["L"] == [{"B": base64.b64encode(BLOB).decode()}, {"S": "plain"}]
    assert modify["dynamodb"]["OldImage"]["balance"] == {"N": "500"}
    assert image["balance"] == {"N": "700"}
    # and both Powertools and Chalice read it as they would in Lambda (binary stays base64 text)
    powertools_record = list(DynamoDBStreamEvent(event).records)[1]
    assert base64.b64decode(powertools_record.dynamodb.new_image["token"]) == BLOB
    assert powertools_record.dynamodb.new_image["balance"] == 700
    assert powertools_record.event_source_arn == ledger_stream_arn
    chalice_record = list(DynamoDBEvent(event, None))[1]
    assert chalice_record.table_name == settings.ledger_table
    assert chalice_record.timestamp.year >= 2024


def test_drain_resumes_after_what_was_already_delivered(dynamodb, streams, settings, ledger_stream_arn):
    handler = Handler()
    pump = StreamPump(streams, ledger_stream_arn, handler)
    _put(dynamodb, settings, "CARD#1")
    assert pump.drain() == 1

    assert pump.drain() == 0
    _put(dynamodb, settings, "CARD#2")
    assert pump.drain() == 1

    assert [_pk(record) for batch in handler.batches for record in batch] == ["CARD#1", "CARD#2"]


def test_poison_record_is_retried_then_parked_and_the_rest_is_delivered_once(
        dynamodb, streams, settings, ledger_stream_arn, tmp_path: Path):
    # Given a record the handler always reports as failed, between two good ones
    for pk in ("CARD#A", "CARD#POISON", "CARD#B"):
        _put(dynamodb, settings, pk)
    handler = Handler(poison={"CARD#POISON"})
    parked_path = tmp_path / "state" / "parked.jsonl"
    pump = StreamPump(streams, ledger_stream_arn, handler, batch_size=1, max_attempts=3, parked_path=parked_path)

    # When the pump drains
    delivered = pump.drain()

    # Then the poison record was tried max_attempts times and parked; the others went through once
    assert delivered == 2
    assert handler.deliveries_of("CARD#POISON") == 3
    assert handler.deliveries_of("CARD#A") == 1
    assert handler.deliveries_of("CARD#B") == 1
    assert [_pk(entry["record"]) for entry in pump.parked] == ["CARD#POISON"]
    [line] = parked_path.read_text().splitlines()
    parked = json.loads(line)
    assert parked["attempts"] == 3
    assert parked["record"]["eventSourceARN"] == ledger_stream_arn
    # and it stays parked: nothing is re-delivered later
    assert pump.drain() == 0
    assert handler.deliveries_of("CARD#POISON") == 3


def test_reported_failure_redelivers_from_that_record_and_not_before(dynamodb, streams, settings, ledger_stream_arn):
    # Given one batch whose middle record fails once (a transient error)
    for pk in ("CARD#A", "CARD#FLAKY", "CARD#B"):
        _put(dynamodb, settings, pk)
    handler = Handler(poison={"CARD#FLAKY"}, fail_times=1)
    pump = StreamPump(streams, ledger_stream_arn, handler)

    delivered = pump.drain()

    # Then, as with Lambda, the retry starts at the failed record: the one before it is not sent again
    assert [[_pk(r) for r in batch] for batch in handler.batches] == [
        ["CARD#A", "CARD#FLAKY", "CARD#B"], ["CARD#FLAKY", "CARD#B"]]
    assert delivered == 3
    assert pump.parked == []


def test_handler_exception_retries_the_whole_batch(dynamodb, streams, settings, ledger_stream_arn):
    for pk in ("CARD#A", "CARD#B"):
        _put(dynamodb, settings, pk)
    handler = Handler(raise_first=True)
    pump = StreamPump(streams, ledger_stream_arn, handler)

    assert pump.drain() == 2

    assert [[_pk(r) for r in batch] for batch in handler.batches] == [["CARD#A", "CARD#B"]] * 2
    assert pump.parked == []


def test_unknown_item_identifier_fails_the_whole_batch(dynamodb, streams, settings, ledger_stream_arn):
    _put(dynamodb, settings, "CARD#A")
    responses = iter([{"batchItemFailures": [{"itemIdentifier": "not-a-sequence-number"}]}, None])
    batches: list[list[dict[str, Any]]] = []

    def handler(event: dict[str, Any]) -> dict[str, Any] | None:
        batches.append(event["Records"])
        return next(responses)

    assert StreamPump(streams, ledger_stream_arn, handler).drain() == 1
    assert len(batches) == 2


class TwoShardStream:
    """A closed parent shard and its open child, the child listed first (moto only has one shard)."""

    meta = SimpleNamespace(region_name="eu-west-1")

    def __init__(self) -> None:
        self.shards = {"child": ("parent", ["CARD#3"], False), "parent": (None, ["CARD#1", "CARD#2"], True)}

    def describe_stream(self, StreamArn: str) -> dict[str, Any]:  # noqa: N803 (boto3's names)
        return {"StreamDescription": {"StreamViewType": "KEYS_ONLY", "Shards": [
            {"ShardId": shard_id, **({"ParentShardId": parent} if parent else {})}
            for shard_id, (parent, _, _) in self.shards.items()]}}

    def get_shard_iterator(self, StreamArn: str, ShardId: str, ShardIteratorType: str,  # noqa: N803
                           SequenceNumber: str | None = None) -> dict[str, str]:  # noqa: N803
        position = 0 if ShardIteratorType == "TRIM_HORIZON" else self._index(ShardId, SequenceNumber) + 1
        return {"ShardIterator": f"{ShardId}|{position}"}

    def get_records(self, ShardIterator: str, Limit: int) -> dict[str, Any]:  # noqa: N803
        shard_id, position = ShardIterator.split("|")
        _, pks, closed = self.shards[shard_id]
        start = int(position)
        page = pks[start:start + Limit]
        records = [{"eventID": pk, "eventName": "INSERT", "dynamodb": {
            "Keys": {"PK": {"S": pk}}, "SequenceNumber": self._sequence(shard_id, start + offset), "SizeBytes": 9,
            "ApproximateCreationDateTime": datetime(2026, 1, 1, tzinfo=UTC)}} for offset, pk in enumerate(page)]
        end = start + len(page)
        done = closed and end == len(pks)
        return {"Records": records, **({} if done else {"NextShardIterator": f"{shard_id}|{end}"})}

    def _sequence(self, shard_id: str, index: int) -> str:
        return str((200 if shard_id == "child" else 100) + index)

    def _index(self, shard_id: str, sequence: str | None) -> int:
        return int(sequence or 0) - (200 if shard_id == "child" else 100)


def test_a_child_shard_is_read_only_after_its_parent():
    handler = Handler()
    pump = StreamPump(TwoShardStream(), "arn:aws:dynamodb:eu-west-1:1:table/t/stream/x", handler, batch_size=1)

    assert pump.drain() == 3

    records = [record for batch in handler.batches for record in batch]
    assert [_pk(record) for record in records] == ["CARD#1", "CARD#2", "CARD#3"]
    assert {(r["awsRegion"], r["dynamodb"]["StreamViewType"]) for r in records} == {("eu-west-1", "KEYS_ONLY")}
    assert records[0]["dynamodb"]["ApproximateCreationDateTime"] == 1767225600
