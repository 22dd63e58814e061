"""Local stand-in for Lambda's DynamoDB event source mapping (with ReportBatchItemFailures).

moto streams records but invokes nothing (and attaching a moto event source mapping clears the
stream), so the local server and the tests read the stream themselves and hand the handler the
same event Lambda would, with the same retry-from-the-first-failure semantics.
"""
from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

logger = logging.getLogger(__name__)

Deliver = Callable[[dict[str, Any]], dict[str, Any] | None]


@dataclass
class _ShardCursor:
    """Where we are in one shard: `checkpoint` is the last sequence number handled (or parked)."""

    shard_id: str
    parent_shard_id: str | None
    iterator: str | None = None
    checkpoint: str | None = None
    closed: bool = False
    failing_sequence: str | None = None
    failures: int = 0
    checkpoint_event: str | None = None  # the eventID of the record at the checkpoint
    checked_at: float = 0.0  # when an empty read was last confirmed by a fresh iterator


class StreamPump:
    """Reads a DynamoDB stream and delivers Lambda-shaped batches to `deliver`, in shard order."""

    def __init__(self, streams_client: Any, stream_arn: str, deliver: Deliver, *,
                 batch_size: int = 100, max_attempts: int = 3, parked_path: Path | str | None = None,
                 stale_check_seconds: float = 1.0) -> None:
        if batch_size < 1 or max_attempts < 1:
            raise ValueError("batch_size and max_attempts must be at least 1")
        self._client = streams_client
        self.stream_arn = stream_arn
        self._deliver = deliver
        self.batch_size = batch_size
        self.max_attempts = max_attempts
        self.parked_path = Path(parked_path) if parked_path is not None else None
        self.parked: list[dict[str, Any]] = []
        self._region = streams_client.meta.region_name
        self._view_type = ""
        self.stale_check_seconds = stale_check_seconds
        # Times a held iterator had gone silent while records were waiting (see _read_or_recheck).
        self.stale_iterators = 0
        self._shards: dict[str, _ShardCursor] = {}
        self._lock = threading.Lock()

    def drain(self, max_batches: int = 1000) -> int:
        """Deliver everything now in the stream; returns how many records the handler accepted.

        Re-deliveries and parked records are not counted. Stops early after `max_batches` calls
        to `deliver`, so a handler that keeps failing cannot hang a test.
        """
        with self._lock:
            accepted = 0
            batches = 0
            shard_closed = True
            while shard_closed and batches < max_batches:
                # A shard that closes may have children to read next: look again.
                self._discover_shards()
                shard_closed = False
                for cursor in self._readable_shards():
                    while batches < max_batches:
                        records, next_iterator = self._read_or_recheck(cursor)
                        if not records:
                            cursor.iterator = next_iterator
                            if next_iterator is None:
                                cursor.closed = shard_closed = True
                            break
                        batches += 1
                        accepted += self._deliver_batch(cursor, records, next_iterator)
            return accepted

    def run(self, stop_event: threading.Event, interval: float = 0.05) -> None:
        """Poll until `stop_event` is set (the body of the local server's daemon thread)."""
        while not stop_event.is_set():
            try:
                self.drain()
            except (BotoCoreError, ClientError):
                # A stream read failing must not kill the pump thread; log it and poll again.
                logger.exception("reading stream %s failed", self.stream_arn)
            stop_event.wait(interval)

    # -- reading ---------------------------------------------------------------------------

    def _discover_shards(self) -> None:
        start: str | None = None
        while True:
            kwargs: dict[str, Any] = {"StreamArn": self.stream_arn}
            if start:
                kwargs["ExclusiveStartShardId"] = start
            description = self._client.describe_stream(**kwargs)["StreamDescription"]
            self._view_type = description.get("StreamViewType", self._view_type)
            for shard in description.get("Shards", []):
                if shard["ShardId"] not in self._shards:
                    self._shards[shard["ShardId"]] = _ShardCursor(shard["ShardId"], shard.get("ParentShardId"))
            start = description.get("LastEvaluatedShardId")
            if not start:
                return

    def _readable_shards(self) -> list[_ShardCursor]:
        """Open shards whose parent is finished (or trimmed away): a key's records stay in order."""
        return [cursor for cursor in self._shards.values()
                if not cursor.closed
                and (cursor.parent_shard_id is None
                     or cursor.parent_shard_id not in self._shards
                     or self._shards[cursor.parent_shard_id].closed)]

    def _read_or_recheck(self, cursor: _ShardCursor) -> tuple[list[dict[str, Any]], str | None]:
        """Read from the held iterator; when it has nothing, at most every `stale_check_seconds`
        confirm that from the checkpoint with a fresh iterator.

        Real DynamoDB never needs the check. An emulator can: moto as released swaps a table's
        stream shard for a copy when it cancels a transaction, and an iterator taken before then
        reads the old shard (the cancelled writes' records included) and then nothing, forever,
        silently. local/moto_transactions.py fixes that at the source; this check catches any
        emulator still doing it, logs it, counts it in `stale_iterators`, and reads on."""
        fresh = cursor.iterator is None
        records, next_iterator = self._read(cursor)
        now = time.monotonic()
        if records or fresh or now - cursor.checked_at < self.stale_check_seconds:
            return records, next_iterator
        cursor.checked_at = now
        recheck = self._recheck(cursor)
        if recheck is None or next_iterator is None:
            return records, next_iterator
        # Records after the checkpoint: stale only if the held iterator still does not see them
        # (they may simply have been written since its empty read).
        cursor.iterator = next_iterator
        records, next_iterator = self._read(cursor)
        if records:
            return records, next_iterator
        self.stale_iterators += 1
        logger.warning("stream pump: the shard iterator of %s had gone stale (the stream changed under it "
                       "after sequence number %s); reading on with a fresh iterator (%d time(s) so far)",
                       cursor.shard_id, cursor.checkpoint, self.stale_iterators)
        return recheck

    def _recheck(self, cursor: _ShardCursor) -> tuple[list[dict[str, Any]], str | None] | None:
        """The records a fresh iterator sees after the checkpoint, or None if there are none.

        It starts AT the checkpoint to see that the record there is still the one delivered."""
        kwargs: dict[str, Any] = {"StreamArn": self.stream_arn, "ShardId": cursor.shard_id}
        if cursor.checkpoint is None:
            kwargs["ShardIteratorType"] = "TRIM_HORIZON"
        else:
            kwargs.update(ShardIteratorType="AT_SEQUENCE_NUMBER", SequenceNumber=cursor.checkpoint)
        try:
            iterator = self._client.get_shard_iterator(**kwargs)["ShardIterator"]
            page = self._client.get_records(ShardIterator=iterator, Limit=self.batch_size)
        except ClientError:
            return None  # trimmed or gone: nothing to compare with; the held iterator stays
        records = page.get("Records", [])
        if cursor.checkpoint is not None and records and records[0].get("eventID") == cursor.checkpoint_event:
            records = records[1:]
        if not records:
            return None
        return records, page.get("NextShardIterator")

    def _read(self, cursor: _ShardCursor) -> tuple[list[dict[str, Any]], str | None]:
        if cursor.iterator is None:
            cursor.iterator = self._shard_iterator(cursor)
        try:
            page = self._client.get_records(ShardIterator=cursor.iterator, Limit=self.batch_size)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ExpiredIteratorException":
                raise
            cursor.iterator = self._shard_iterator(cursor)
            page = self._client.get_records(ShardIterator=cursor.iterator, Limit=self.batch_size)
        return page.get("Records", []), page.get("NextShardIterator")

    def _shard_iterator(self, cursor: _ShardCursor) -> str:
        kwargs: dict[str, Any] = {"StreamArn": self.stream_arn, "ShardId": cursor.shard_id}
        if cursor.checkpoint is None:
            kwargs["ShardIteratorType"] = "TRIM_HORIZON"
        else:
            kwargs.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=cursor.checkpoint)
        iterator: str = self._client.get_shard_iterator(**kwargs)["ShardIterator"]
        return iterator

    # -- delivering ------------------------------------------------------------------------

    def _deliver_batch(self, cursor: _ShardCursor, records: list[dict[str, Any]], next_iterator: str | None) -> int:
        # The shard id, as the event source mapping gives it with a tumbling window (README, "Scale"):
        # the stream handler counts each shard's records once by it.
        event = {"Records": [self.to_lambda_record(record) for record in records], "shardId": cursor.shard_id}
        try:
            response = self._deliver(event)
        except Exception:  # noqa: BLE001 - Lambda retries the whole batch on any handler error
            logger.warning("stream handler raised; the batch will be retried", exc_info=True)
            failed_at: int | None = 0
        else:
            failed_at = _first_failure(response, records)

        if failed_at is None:
            cursor.checkpoint = records[-1]["dynamodb"]["SequenceNumber"]
            cursor.checkpoint_event = records[-1].get("eventID")
            cursor.iterator = next_iterator
            cursor.failing_sequence, cursor.failures = None, 0
            if next_iterator is None:
                cursor.closed = True
            return len(records)

        if failed_at > 0:
            cursor.checkpoint = records[failed_at - 1]["dynamodb"]["SequenceNumber"]
            cursor.checkpoint_event = records[failed_at - 1].get("eventID")
        cursor.iterator = None  # re-read from just after the checkpoint
        failed = event["Records"][failed_at]
        sequence = failed["dynamodb"]["SequenceNumber"]
        if cursor.failing_sequence != sequence:
            cursor.failing_sequence, cursor.failures = sequence, 0
        cursor.failures += 1
        if cursor.failures >= self.max_attempts:
            self._park(cursor, failed)
            cursor.checkpoint, cursor.checkpoint_event = sequence, failed["eventID"]
            cursor.failing_sequence, cursor.failures = None, 0
        return failed_at

    def _park(self, cursor: _ShardCursor, record: dict[str, Any]) -> None:
        """Set a record aside after max_attempts, like an on-failure destination, and move on."""
        entry = {"parked_at": datetime.now(UTC).isoformat(), "stream_arn": self.stream_arn,
                 "shard_id": cursor.shard_id, "attempts": cursor.failures, "record": record}
        self.parked.append(entry)
        logger.warning("parked stream record %s (%s) after %d attempts",
                       record["dynamodb"]["SequenceNumber"], record["eventName"], cursor.failures)
        if self.parked_path is not None:
            self.parked_path.parent.mkdir(parents=True, exist_ok=True)
            with self.parked_path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(entry, sort_keys=True) + "\n")

    def to_lambda_record(self, record: dict[str, Any]) -> dict[str, Any]:
        """A boto3 get_records record → the record Lambda puts in a DynamoDB stream event."""
        source = record["dynamodb"]
        dynamodb: dict[str, Any] = {}
        created = source.get("ApproximateCreationDateTime")
        if created is not None:
            dynamodb["ApproximateCreationDateTime"] = _epoch_seconds(created)
        for image in ("Keys", "NewImage", "OldImage"):
            if image in source:
                dynamodb[image] = {name: _lambda_value(value) for name, value in source[image].items()}
        dynamodb["SequenceNumber"] = source["SequenceNumber"]
        dynamodb["SizeBytes"] = source.get("SizeBytes", len(json.dumps(dynamodb)))
        dynamodb["StreamViewType"] = source.get("StreamViewType", self._view_type)
        converted = {
            "eventID": record["eventID"],
            "eventName": record["eventName"],
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": self._region,
            "dynamodb": dynamodb,
            "eventSourceARN": self.stream_arn,
        }
        identity = record.get("userIdentity")
        if identity:  # TTL deletions: boto3 says PrincipalId/Type, Lambda principalId/type
            converted["userIdentity"] = {"type": identity.get("Type"), "principalId": identity.get("PrincipalId")}
        return converted


def _first_failure(response: Any, records: list[dict[str, Any]]) -> int | None:
    """Index of the first record to retry, per ReportBatchItemFailures; None if all succeeded."""
    if not isinstance(response, dict) or not response.get("batchItemFailures"):
        return None
    positions = {record["dynamodb"]["SequenceNumber"]: index for index, record in enumerate(records)}
    indexes = []
    for failure in response["batchItemFailures"]:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if identifier not in positions:
            # Lambda treats a missing or unknown identifier as a failure of the whole batch.
            return 0
        indexes.append(positions[identifier])
    return min(indexes)


def _epoch_seconds(value: datetime | float | int) -> int:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return int(value.timestamp())
    return int(value)


def _lambda_value(value: dict[str, Any]) -> dict[str, Any]:
    """Binary as base64 text (as in Lambda events), recursing into maps and lists."""
    kind, inner = next(iter(value.items()))
    if kind == "B":
        return {"B": _b64(inner)}
    if kind == "BS":
        return {"BS": [_b64(item) for item in inner]}
    if kind == "M":
        return {"M": {name: _lambda_value(item) for name, item in inner.items()}}
    if kind == "L":
        return {"L": [_lambda_value(item) for item in inner]}
    return {kind: inner}


def _b64(data: bytes | str) -> str:
    return data if isinstance(data, str) else base64.b64encode(data).decode("ascii")
