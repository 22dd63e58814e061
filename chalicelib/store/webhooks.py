"""Data access for webhook subscriptions, the reading side (the delivery function's; writes are in
webhook_writes.py): their own small table (not streamed: a subscription is
no change of the ledger), each secret encrypted with KMS under an encryption context naming its
webhook, so a ciphertext copied onto another subscription does not decrypt. Plaintext secrets are
never stored, logged or put in an event."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3

from chalicelib.domain.webhooks import Webhook
from chalicelib.settings import get_settings
from chalicelib.store import keys
from chalicelib.store.client import CONFIG, dynamodb, from_attributes, process_client, to_attributes

_FIELDS = set(Webhook.model_fields)


@dataclass(frozen=True)
class Subscription:
    """A webhook with its still-encrypted secret (decrypt only to sign)."""

    webhook: Webhook
    secret_ciphertext: bytes


@process_client
def kms() -> Any:
    """KMS, for the signing secrets (sealed by the API, opened to sign)."""
    return boto3.client("kms", config=CONFIG)


def _table() -> str:
    return get_settings().webhooks_table


def context(webhook_id: str) -> dict[str, str]:
    return {"omnicard:webhook_id": webhook_id}


def decrypt_secret(webhook_id: str, ciphertext: bytes) -> str:
    plaintext: bytes = kms().decrypt(CiphertextBlob=ciphertext, EncryptionContext=context(webhook_id))["Plaintext"]
    return plaintext.decode("ascii")


def subscriptions(*, consistent: bool) -> list[Subscription]:
    """Every subscription, oldest id first (one partition: subscribers are few)."""
    query: dict[str, Any] = {"TableName": _table(), "ConsistentRead": consistent,
                             "KeyConditionExpression": "PK = :pk",
                             "ExpressionAttributeValues": to_attributes({":pk": keys.WEBHOOKS})}
    found = []
    while True:
        response = dynamodb().query(**query)
        for raw in response.get("Items", []):
            item = from_attributes(raw)
            found.append(Subscription(Webhook.model_validate({"event_types": None, **{k: v for k, v in item.items() if k in _FIELDS}}),
                                      bytes(item["secret"])))
        if "LastEvaluatedKey" not in response:
            return found
        query["ExclusiveStartKey"] = response["LastEvaluatedKey"]
