"""The webhook delivery function: SQS batches of change events (an EventBridge rule on the bus
feeds the queue) → one signed POST per event and matching subscription.

Retries are per subscriber: the subscribers that failed get a new message on the same queue,
delayed by the retry schedule (settings.webhook_retry_delays) and naming only them, so a dead
endpoint neither holds back nor duplicates the others' deliveries. Once the retry window
(settings.webhook_retry_seconds) is over, or for an address delivery refuses, the event goes to the
dead-letter queue naming the subscribers it never reached; moving it back to the delivery queue
(README, "Webhooks") retries exactly those. A message this function cannot handle at all (or
cannot pass on) is reported as a batch item failure: SQS redelivers it after the visibility timeout
and parks it on the dead-letter queue after maxReceiveCount. Every path is at least once;
receivers de-duplicate on `webhook-id` (the event's `event_id`)."""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib import clock
from chalicelib.domain import webhooks as rules
from chalicelib.observability import logger
from chalicelib.settings import get_settings
from chalicelib.store import webhooks as webhook_store
from chalicelib.store.client import CONFIG, process_client
from chalicelib.store.webhooks import Subscription
from chalicelib.webhooks import sender

_MAX_PARALLEL_POSTS = 16


@process_client
def sqs() -> Any:
    """SQS, for retries (back to the delivery queue, delayed) and dead letters."""
    return boto3.client("sqs", config=CONFIG)


@dataclass(frozen=True)
class Delivery:
    """One event to deliver: the EventBridge event as the rule sent it, which attempt this is, and
    (on a retry) the only subscribers still to reach."""

    message_id: str
    event: dict[str, Any]
    attempt: int
    first_attempt_at: datetime
    webhook_ids: list[str] | None

    @property
    def detail_type(self) -> str:
        return str(self.event["detail-type"])

    @property
    def event_id(self) -> str:
        return str(self.event["detail"]["event_id"])


def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """An SQS batch → {"batchItemFailures": [...]} (the messages SQS should deliver again)."""
    now = clock.now()
    failures: list[str] = []
    deliveries = []
    for record in event.get("Records", []):
        delivery = parse(record, now)
        if delivery is None:
            logger.error("webhook delivery: a message that is not a change event", extra={"message_id": record.get("messageId")})
            failures.append(record.get("messageId", ""))
        else:
            deliveries.append(delivery)
    if deliveries:
        failures += deliver(deliveries, webhook_store.subscriptions(consistent=False))
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failures]}


def parse(record: dict[str, Any], now: datetime) -> Delivery | None:
    """An SQS record's body: an EventBridge event, or a retry (or a dead letter moved back)."""
    try:
        body = json.loads(record["body"])
        retry = body.get("retry") if "event" in body else None
        envelope = body["event"] if "event" in body else body
        if not isinstance(envelope.get("detail"), dict) or not envelope["detail"].get("event_id") \
                or envelope.get("detail-type") not in rules.EVENT_TYPES:
            return None
        first = retry.get("first_attempt_at") if retry else None
        return Delivery(message_id=record["messageId"], event=envelope,
                        attempt=int(retry["attempt"]) if retry else 1,
                        first_attempt_at=datetime.fromisoformat(first) if first else now,
                        webhook_ids=list(retry["webhook_ids"]) if retry and retry.get("webhook_ids") is not None else None)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def deliver(deliveries: list[Delivery], subscriptions: list[Subscription]) -> list[str]:
    """POST every delivery to its subscribers in parallel, schedule the failed ones again; the
    message ids that could not be passed on (SQS redelivers those whole)."""
    settings = get_settings()
    secrets: dict[str, str] = {}
    tasks = []
    for delivery in deliveries:
        for subscription in subscriptions:
            webhook = subscription.webhook
            if webhook.wants(delivery.detail_type) and (delivery.webhook_ids is None or webhook.webhook_id in delivery.webhook_ids):
                if webhook.webhook_id not in secrets:  # one KMS call per subscriber and batch
                    secrets[webhook.webhook_id] = webhook_store.decrypt_secret(webhook.webhook_id, subscription.secret_ciphertext)
                tasks.append((delivery, webhook))
    with ThreadPoolExecutor(max_workers=max(1, min(_MAX_PARALLEL_POSTS, len(tasks)))) as pool:
        outcomes = list(pool.map(lambda task: _attempt(task[0], task[1], secrets[task[1].webhook_id]), tasks))

    failed: dict[str, tuple[list[str], list[str]]] = {}  # message id → (to retry, refused)
    for (delivery, webhook), outcome in zip(tasks, outcomes):
        if not outcome.delivered:
            failed.setdefault(delivery.message_id, ([], []))[0 if outcome.retry else 1].append(webhook.webhook_id)
    unsent = []
    for delivery in deliveries:
        retry, refused = failed.get(delivery.message_id, ([], []))
        try:
            _schedule(delivery, retry, refused, settings)
        except (BotoCoreError, ClientError):
            logger.exception("webhook delivery: could not queue the retry; SQS will redeliver the whole event",
                             extra={"event_id": delivery.event_id})
            unsent.append(delivery.message_id)
    return unsent


def _attempt(delivery: Delivery, webhook: rules.Webhook, secret: str) -> sender.Outcome:
    settings = get_settings()
    payload = rules.body(delivery.detail_type, delivery.event.get("time") or clock.rfc3339(clock.now()),
                         delivery.event["detail"])
    outcome = sender.post(webhook.url, payload, rules.headers(secret, delivery.event_id, clock.now(), payload),
                          timeout=settings.webhook_timeout_seconds, loopback=settings.webhook_http_loopback)
    logger.info("webhook attempt", extra={"webhook_id": webhook.webhook_id, "event_id": delivery.event_id,
                                          "detail_type": delivery.detail_type, "attempt": delivery.attempt,
                                          "delivered": outcome.delivered, "outcome": outcome.detail})
    return outcome


def _schedule(delivery: Delivery, retry: list[str], refused: list[str], settings: Any) -> None:
    """Send the failed subscribers' next attempt after the schedule's delay, or dead-letter them."""
    given_up = list(refused)
    if retry:
        delay = rules.next_delay(delivery.attempt, delivery.first_attempt_at, clock.now(),
                                 settings.webhook_retry_delays, settings.webhook_retry_seconds)
        if delay is None:
            given_up += retry
        else:
            sqs().send_message(QueueUrl=settings.webhook_queue_url, DelaySeconds=delay, MessageBody=json.dumps({
                "event": delivery.event, "retry": {"attempt": delivery.attempt + 1, "webhook_ids": retry,
                                                   "first_attempt_at": delivery.first_attempt_at.isoformat()}}))
    if given_up:
        logger.warning("webhook delivery given up; the event is on the dead-letter queue",
                       extra={"event_id": delivery.event_id, "webhook_ids": given_up, "attempts": delivery.attempt})
        # Moved back to the delivery queue, this retries exactly these subscribers, with a new window.
        sqs().send_message(QueueUrl=settings.webhook_dead_letter_url, MessageBody=json.dumps({
            "event": delivery.event, "retry": {"attempt": 1, "webhook_ids": given_up},
            "dead_letter": {"attempts": delivery.attempt, "refused": refused,
                            "first_attempt_at": delivery.first_attempt_at.isoformat()}}))
