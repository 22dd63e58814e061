"""Change events onto the EventBridge bus.

Delivery is at least once, end to end: a redelivered stream record publishes its change again,
and EventBridge itself delivers to targets at least once, so consumers de-duplicate on the
change's stable `event_id`. (A per-event "already sent" marker would cost two more DynamoDB calls
per change and still could not make delivery exactly once.)"""
from __future__ import annotations

import json
from datetime import datetime

from chalicelib.domain.events import SOURCE, ChangeEvent
from chalicelib.settings import get_settings
from chalicelib.store.client import events


class PublishFailed(RuntimeError):
    """The bus refused the event; the stream record fails and is delivered again."""


def publish(event: ChangeEvent, now: datetime) -> None:
    """Put the event on the bus; PublishFailed if the bus refused it."""
    response = events().put_events(Entries=[{
        "Source": SOURCE, "DetailType": event.detail_type, "EventBusName": get_settings().event_bus,
        "Detail": json.dumps(event.detail, separators=(",", ":")), "Time": now,
    }])
    if response.get("FailedEntryCount"):
        entry = response["Entries"][0]
        raise PublishFailed(f"event {event.event_id}: {entry.get('ErrorCode')} {entry.get('ErrorMessage')}")
