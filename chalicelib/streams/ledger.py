"""The ledger table's stream handler: every projection, with partial batch failure.

A record that fails is reported in `batchItemFailures` and the rest of the batch is applied; the
event source mapping retries from it (bisecting, bounded) and then parks it on the on-failure
queue, so a poison record never blocks the shard. Every step is idempotent (version-gated views,
counted-once counters, an idempotency record per auto-reload), so a redelivered record changes
nothing; its event is sent again with the same event_id. Events go last, so a record whose view
step fails has sent nothing yet."""
from __future__ import annotations

from typing import Any, Callable

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from chalicelib.streams import activity, auto_reload, changes, events, reports, wallet
from chalicelib.streams.changes import AdjustmentFiled, CardChange, EntryAdded, EntryLinked, MemberChange

# A batch whose every record failed is reported record by record too (rather than raised): the
# event source mapping retries it from the first failure either way, and the report names them all.
_processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)

_STEPS: dict[type, tuple[Callable[[Any], None], ...]] = {
    CardChange: (lambda change: wallet.project(change.item), activity.on_card, reports.on_card, auto_reload.on_card,
                 events.on_card),
    MemberChange: (lambda change: wallet.project(change.item), reports.on_member, events.on_member),
    EntryAdded: (activity.on_entry, reports.on_entry, events.on_entry),
    EntryLinked: (activity.on_linked,),  # no new money, stars or event: the feed shows the links
    AdjustmentFiled: (events.on_adjustment,),
}


def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=apply_change, processor=_processor, context=context)


def apply_change(record: DynamoDBRecord) -> None:
    """Feed one record's change to every view, the auto-reload rule and the event bus."""
    change = changes.from_record(record.raw_event)
    if change is None:
        return
    for step in _STEPS[type(change)]:
        step(change)
