"""Change events onto the EventBridge bus.

Delivery is at least once, end to end: a redelivered stream record publishes its change again,
and EventBridge itself delivers to targets at least once, so consumers de-duplicate on the
change's stable `event_id`. (A per-event "already sent" marker would cost two more DynamoDB calls
per change and still could not make delivery exactly once.) A stream batch's events go out in
PutEvents calls of up to 10 entries (the API's limit), in the order of their changes."""
from __future__ import annotations

import json
from datetime import datetime

from chalicelib.domain.events import SOURCE, ChangeEvent
from chalicelib.settings import get_settings
from chalicelib.store.client import events

PUT_EVENTS_MAX = 10


class PublishFailed(RuntimeError):
    """The bus refused the event; the stream record fails and is delivered again."""


def publish(event: ChangeEvent, now: datetime) -> None:
    """Put one event on the bus; PublishFailed if the bus refused it."""
    refused = publish_many([event], now)
    if refused:
        raise PublishFailed(f"event {event.event_id}: {refused[0]}")


def publish_many(batch: list[ChangeEvent], now: datetime) -> dict[int, str]:
    """Put the events on the bus, 10 per call; returns {index: error} of those the bus refused
    (the others are on the bus). A call that fails as a whole raises."""
    refused: dict[int, str] = {}
    bus = get_settings().event_bus
    for start in range(0, len(batch), PUT_EVENTS_MAX):
        chunk = batch[start:start + PUT_EVENTS_MAX]
        response = events().put_events(Entries=[{
            "Source": SOURCE, "DetailType": event.detail_type, "EventBusName": bus,
            "Detail": json.dumps(event.detail, separators=(",", ":")), "Time": now,
        } for event in chunk])
        if response.get("FailedEntryCount"):
            for offset, entry in enumerate(response.get("Entries", [])):
                if entry.get("ErrorCode") or "EventId" not in entry:
                    refused[start + offset] = f"{entry.get('ErrorCode')} {entry.get('ErrorMessage')}"
    return refused
