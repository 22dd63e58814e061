"""The ledger table's stream handler: every projection, with partial batch failure.

A record that fails is reported in `batchItemFailures` and the rest of the batch is applied; the
event source mapping retries from it (bisecting, bounded) and then parks it on the on-failure
queue, so a poison record never blocks the shard."""
from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from chalicelib.store.client import from_attributes
from chalicelib.streams import wallet

_processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=apply_change, processor=_processor, context=context)


def apply_change(record: DynamoDBRecord) -> None:
    image = record.raw_event["dynamodb"].get("NewImage")
    if not image:  # a REMOVE (expired idempotency record): nothing to project
        return
    wallet.project(from_attributes(image))
