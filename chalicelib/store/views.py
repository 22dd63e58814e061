"""Projections kept current by the stream handlers (the Views table).

Each view item remembers the version of the source item it reflects; a write carries a condition
so that a redelivered or older change never overwrites a newer one."""
from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from chalicelib.settings import get_settings
from chalicelib.store import keys
from chalicelib.store.client import dynamodb, from_attributes, to_attributes


def _table() -> str:
    return get_settings().views_table


def project(key: dict[str, str], document: dict[str, Any], source_version: int, as_of: str) -> bool:
    """Upsert a view item unless it already reflects `source_version` or newer. True if written."""
    try:
        dynamodb().put_item(
            TableName=_table(),
            Item=to_attributes({**key, "doc": document, "source_version": source_version, "as_of": as_of}),
            ConditionExpression="attribute_not_exists(PK) OR source_version < :version",
            ExpressionAttributeValues=to_attributes({":version": source_version}),
        )
        return True
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise


def read_wallet(member_id: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]], str | None]:
    """(member document, card documents, as_of) of a member's wallet view: one Query."""
    response = dynamodb().query(
        TableName=_table(), KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues=to_attributes({":pk": keys.wallet_partition(member_id)}),
    )
    member, cards, as_of = None, [], None
    for item in (from_attributes(raw) for raw in response.get("Items", [])):
        as_of = max(as_of or item["as_of"], item["as_of"])
        if item["SK"] == keys.MEMBER:
            member = item["doc"]
        else:
            cards.append(item["doc"])
    return member, cards, as_of
