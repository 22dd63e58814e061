"""Data access for webhook subscriptions: their own small table (not streamed: a subscription is
no change of the ledger), each secret encrypted with KMS under an encryption context naming its
webhook, so a ciphertext copied onto another subscription does not decrypt. Plaintext secrets are
never stored, logged or put in an event."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.domain.webhooks import Webhook
from chalicelib.settings import get_settings
from chalicelib.store import keys
from chalicelib.store.client import dynamodb, from_attributes, kms, to_attributes

_FIELDS = set(Webhook.model_fields)


@dataclass(frozen=True)
class Subscription:
    """A webhook with its still-encrypted secret (decrypt only to sign)."""

    webhook: Webhook
    secret_ciphertext: bytes


def _table() -> str:
    return get_settings().webhooks_table


def _context(webhook_id: str) -> dict[str, str]:
    return {"omnicard:webhook_id": webhook_id}


def encrypt_secret(webhook_id: str, secret: str) -> bytes:
    blob: bytes = kms().encrypt(KeyId=get_settings().webhook_key, Plaintext=secret.encode("ascii"),
                                EncryptionContext=_context(webhook_id))["CiphertextBlob"]
    return blob


def decrypt_secret(webhook_id: str, ciphertext: bytes) -> str:
    plaintext: bytes = kms().decrypt(CiphertextBlob=ciphertext, EncryptionContext=_context(webhook_id))["Plaintext"]
    return plaintext.decode("ascii")


def put_new(webhook: Webhook, secret_ciphertext: bytes) -> dict[str, Any]:
    """The TransactWriteItems element creating a subscription (never overwriting one)."""
    item = {**keys.webhook(webhook.webhook_id), **webhook.model_dump(mode="json"), "secret": secret_ciphertext}
    return {"Put": {"TableName": _table(), "Item": to_attributes(item), "ConditionExpression": "attribute_not_exists(PK)"}}


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


def delete(webhook_id: str) -> bool:
    """Remove a subscription; False if there was none."""
    try:
        dynamodb().delete_item(TableName=_table(), Key=to_attributes(keys.webhook(webhook_id)),
                               ConditionExpression="attribute_exists(PK)")
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        return False
    return True
