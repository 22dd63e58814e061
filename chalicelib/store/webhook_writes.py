"""Webhook subscriptions, the writing side (the API's): seal a new secret, create, delete."""
from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from chalicelib.domain.webhooks import Webhook
from chalicelib.settings import get_settings
from chalicelib.store import keys
from chalicelib.store.client import dynamodb, to_attributes
from chalicelib.store.webhooks import context, kms


def _table() -> str:
    return get_settings().webhooks_table


def encrypt_secret(webhook_id: str, secret: str) -> bytes:
    blob: bytes = kms().encrypt(KeyId=get_settings().webhook_key, Plaintext=secret.encode("ascii"),
                                EncryptionContext=context(webhook_id))["CiphertextBlob"]
    return blob


def put_new(webhook: Webhook, secret_ciphertext: bytes) -> dict[str, Any]:
    """The TransactWriteItems element creating a subscription (never overwriting one)."""
    item = {**keys.webhook(webhook.webhook_id), **webhook.model_dump(mode="json"), "secret": secret_ciphertext}
    return {"Put": {"TableName": _table(), "Item": to_attributes(item), "ConditionExpression": "attribute_not_exists(PK)"}}


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
