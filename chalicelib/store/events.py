"""Change events onto the EventBridge bus, with a marker so a redelivered change is not sent again.

The marker is written after the bus accepted the event: a crash in between sends the event a
second time with the same `event_id`, which consumers de-duplicate on (at least once, never lost)."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

from chalicelib.domain.events import SOURCE, ChangeEvent
from chalicelib.settings import get_settings
from chalicelib.store import keys
from chalicelib.store.client import dynamodb, events, to_attributes

MARKER_DAYS = 7  # longer than stream retention (24 hours); TTL on `expires_at`


class PublishFailed(RuntimeError):
    """The bus refused the event; the stream record fails and is delivered again."""


def already_published(event_id: str) -> bool:
    response = dynamodb().get_item(TableName=get_settings().views_table, Key=to_attributes(keys.published(event_id)),
                                   ConsistentRead=True)
    return "Item" in response


def publish(event: ChangeEvent, now: datetime) -> None:
    """Put the event on the bus and remember it was sent; PublishFailed if the bus refused it."""
    response = events().put_events(Entries=[{
        "Source": SOURCE, "DetailType": event.detail_type, "EventBusName": get_settings().event_bus,
        "Detail": json.dumps(event.detail, separators=(",", ":")), "Time": now,
    }])
    if response.get("FailedEntryCount"):
        entry = response["Entries"][0]
        raise PublishFailed(f"event {event.event_id}: {entry.get('ErrorCode')} {entry.get('ErrorMessage')}")
    dynamodb().put_item(TableName=get_settings().views_table, Item=to_attributes({
        **keys.published(event.event_id), "detail_type": event.detail_type,
        "expires_at": int((now + timedelta(days=MARKER_DAYS)).timestamp())}))
