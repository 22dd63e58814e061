"""Published change events made visible on the local stack: one readable line each in the
server's log, and every event appended as JSON to local/.state/events-<port>.jsonl (`make events`
follows that file).

Same path as a deployed consumer: an EventBridge rule on the bus (source `omnicard`) targets an
SQS queue, which a thread of the local server reads. Nothing in chalicelib knows about it."""
from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any

from chalicelib.domain.events import SOURCE

logger = logging.getLogger("local.events")

RULE = "omnicard-local-tail"
QUEUE = "omnicard-local-events"
POLL_SECONDS = 0.5


def describe(event: dict[str, Any]) -> str:
    """One line for an EventBridge event from the bus: its detail type and what changed."""
    detail = event.get("detail") or {}
    kind = event.get("detail-type", "?")
    money = detail.get("amount") or detail.get("balance") or {}
    amount = f" {money.get('amount')} {money.get('currency')}" if isinstance(money, dict) and money else ""
    fields = [f"{name}={detail[name]}" for name in
              ("kind", "tx_id", "card_id", "member_id", "adjustment_id", "state", "status", "version")
              if detail.get(name) not in (None, "")]
    return f"{kind}{amount} " + " ".join(fields)


class EventTail:
    """Subscribes a queue to the bus and reads it until stop() (a daemon thread)."""

    def __init__(self, events_client: Any, sqs_client: Any, bus: str, log_path: Path) -> None:
        self._events, self._sqs, self._bus, self.log_path = events_client, sqs_client, bus, log_path
        self._queue_url = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="event-tail", daemon=True)
        self.seen = 0

    def start(self) -> EventTail:
        self._queue_url = self._sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
        queue_arn = self._sqs.get_queue_attributes(QueueUrl=self._queue_url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        self._events.put_rule(Name=RULE, EventBusName=self._bus, EventPattern=json.dumps({"source": [SOURCE]}))
        self._events.put_targets(Rule=RULE, EventBusName=self._bus, Targets=[{"Id": "tail", "Arn": queue_arn}])
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path.write_text("", encoding="utf-8")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.read_once()
            except Exception:  # noqa: BLE001 - a local display must not die; say why and go on
                logger.exception("reading the event queue failed")
            self._stop.wait(POLL_SECONDS)

    def read_once(self) -> int:
        """Log and record what is in the queue now (no long poll: moto would hold its lock)."""
        read = 0
        while True:
            messages = self._sqs.receive_message(QueueUrl=self._queue_url, MaxNumberOfMessages=10,
                                                 WaitTimeSeconds=0).get("Messages", [])
            if not messages:
                return read
            with self.log_path.open("a", encoding="utf-8") as log:
                for message in messages:
                    event = json.loads(message["Body"])
                    logger.info("event %s", describe(event))
                    log.write(json.dumps(event, sort_keys=True) + "\n")
            self._sqs.delete_message_batch(QueueUrl=self._queue_url, Entries=[
                {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]} for index, message in enumerate(messages)])
            read += len(messages)
            self.seen += len(messages)
