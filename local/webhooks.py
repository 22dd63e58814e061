"""Webhook delivery on the local stack, the deployed way: the template's rule (same event pattern)
sends the bus's events to an SQS queue in moto, and a thread of the server's process — not the
stream pump's thread, so a dead endpoint never slows the ledger stream — reads that queue and calls
the app's own `deliver_webhooks` handler with the event Lambda's SQS poller would build. Failed
subscribers come back through the same queue, delayed per the local stage's retry schedule
(.chalice/config.json: OMNICARD_WEBHOOK_RETRY_DELAYS / _SECONDS); given-up events land on the
dead-letter queue. The KMS key that seals signing secrets is a moto key under the default alias."""
from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from local.tables import load_template

logger = logging.getLogger("local.webhooks")

QUEUE = "omnicard-webhook-deliveries"
DEAD_LETTER_QUEUE = "omnicard-webhook-dead-letters"
RULE = "omnicard-webhook-deliveries"
# Locally a message whose handler call failed as a whole comes back after 5 s (deployed: 720 s).
VISIBILITY_SECONDS = 5
MAX_RECEIVES = 5
POLL_SECONDS = 0.2

Deliver = Callable[[dict[str, Any]], dict[str, Any] | None]


@dataclass(frozen=True)
class WebhookQueues:
    queue_url: str
    queue_arn: str
    dead_letter_url: str


def create_webhook_key(kms: Any, alias: str) -> None:
    """The KMS key webhook secrets are encrypted with, under `alias` (kept if it exists)."""
    if any(a["AliasName"] == alias for a in kms.list_aliases().get("Aliases", [])):
        return
    key_id = kms.create_key(Description="omnicard local webhook secrets")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName=alias, TargetKeyId=key_id)


def create_webhook_queues(events: Any, sqs: Any, bus: str) -> WebhookQueues:
    """The delivery queue (with its dead-letter queue) and the rule feeding it from the bus."""
    dead_letter_url = sqs.create_queue(QueueName=DEAD_LETTER_QUEUE)["QueueUrl"]
    dead_letter_arn = _arn(sqs, dead_letter_url)
    queue_url = sqs.create_queue(QueueName=QUEUE, Attributes={
        "VisibilityTimeout": str(VISIBILITY_SECONDS),
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": str(MAX_RECEIVES)})})["QueueUrl"]
    queue_arn = _arn(sqs, queue_url)
    pattern = load_template()["Resources"]["WebhookEventsRule"]["Properties"]["EventPattern"]
    events.put_rule(Name=RULE, EventBusName=bus, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=RULE, EventBusName=bus, Targets=[{"Id": "webhook-deliveries", "Arn": queue_arn}])
    return WebhookQueues(queue_url, queue_arn, dead_letter_url)


def _arn(sqs: Any, url: str) -> str:
    arn: str = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return arn


class WebhookPump:
    """Lambda's SQS event source mapping, locally: batches of up to 10 to `deliver`, messages the
    handler reports in batchItemFailures (or all, if it raises) left to come back."""

    def __init__(self, sqs: Any, queues: WebhookQueues, deliver: Deliver) -> None:
        self._sqs, self.queues, self._deliver = sqs, queues, deliver
        self._region = sqs.meta.region_name

    def drain(self) -> int:
        """Hand everything visible now to the handler; how many messages it finished."""
        finished = 0
        while True:
            messages = self._sqs.receive_message(QueueUrl=self.queues.queue_url, MaxNumberOfMessages=10,
                                                 WaitTimeSeconds=0, AttributeNames=["All"]).get("Messages", [])
            if not messages:
                return finished
            event = {"Records": [self._record(message) for message in messages]}
            try:
                response = self._deliver(event)
                failed = {f["itemIdentifier"] for f in (response or {}).get("batchItemFailures", [])}
            except Exception:  # noqa: BLE001 - Lambda leaves the whole batch on the queue on any error
                logger.warning("webhook handler raised; the batch comes back after the visibility timeout", exc_info=True)
                failed = {message["MessageId"] for message in messages}
            done = [m for m in messages if m["MessageId"] not in failed]
            if done:
                self._sqs.delete_message_batch(QueueUrl=self.queues.queue_url, Entries=[
                    {"Id": str(index), "ReceiptHandle": m["ReceiptHandle"]} for index, m in enumerate(done)])
            finished += len(done)
            if failed:
                return finished  # the failed ones are invisible for now; poll again later

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.drain()
            except (BotoCoreError, ClientError):
                logger.exception("reading the webhook queue failed")
            stop.wait(POLL_SECONDS)

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        return {"messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"], "body": message["Body"],
                "attributes": message.get("Attributes", {}), "messageAttributes": {},
                "md5OfBody": message.get("MD5OfBody", ""), "eventSource": "aws:sqs",
                "eventSourceARN": self.queues.queue_arn, "awsRegion": self._region}
