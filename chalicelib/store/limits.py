"""Per-principal request rate, counted atomically in DynamoDB (the Views table: not streamed).

Lambda runs many instances, so an in-memory counter would let a principal through N times over.
One conditional UpdateItem per request counts it in a fixed one-minute window."""
from __future__ import annotations

from datetime import datetime

from botocore.exceptions import ClientError

from chalicelib.domain.errors import RateLimited
from chalicelib.settings import get_settings
from chalicelib.store import keys
from chalicelib.store.client import dynamodb, to_attributes


def admit(principal_sub: str, now: datetime) -> None:
    """Count one request of `principal_sub`; RateLimited (with Retry-After) past the minute's limit."""
    limit = get_settings().rules.limits.requests_per_principal_per_minute
    if limit <= 0:
        return
    minute = now.strftime("%Y-%m-%dT%H:%M")
    try:
        dynamodb().update_item(
            TableName=get_settings().views_table, Key=to_attributes(keys.rate_window(principal_sub, minute)),
            UpdateExpression="ADD hits :one SET expires_at = :expires",
            ConditionExpression="attribute_not_exists(hits) OR hits < :limit",
            ExpressionAttributeValues=to_attributes({":one": 1, ":limit": limit,
                                                     ":expires": int(now.timestamp()) + 120}),
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        retry_after = 60 - now.second
        raise RateLimited(f"more than {limit} requests in a minute; retry in {retry_after} s",
                          headers={"Retry-After": str(retry_after)}) from exc
