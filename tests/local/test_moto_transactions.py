"""The local stack's cheaper moto transaction backups keep DynamoDB's semantics."""
from __future__ import annotations

import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from chalicelib.settings import Settings
from local.moto_transactions import patch_moto_transactions
from local.pump import StreamPump


def _put(pk: str, table: str, condition: str | None = None) -> dict[str, Any]:
    put: dict[str, Any] = {"TableName": table, "Item": {"PK": {"S": pk}, "SK": {"S": "X"}}}
    if condition:
        put["ConditionExpression"] = condition
    return {"Put": put}


def _delivered_pks(streams: Any, arn: str) -> list[str]:
    batches: list[list[dict[str, Any]]] = []
    StreamPump(streams, arn, lambda event: batches.append(event["Records"])).drain()
    return [r["dynamodb"]["Keys"]["PK"]["S"] for batch in batches for r in batch]


def test_a_cancelled_transaction_still_leaves_no_stream_records(dynamodb, streams, settings: Settings,
                                                                 ledger_stream_arn):
    patch_moto_transactions()
    table = settings.ledger_table
    dynamodb.transact_write_items(TransactItems=[_put("A", table), _put("B", table)])
    with pytest.raises(ClientError):
        dynamodb.transact_write_items(TransactItems=[_put("C", table), _put("A", table, "attribute_not_exists(PK)")])
    dynamodb.transact_write_items(TransactItems=[_put("D", table)])

    with pytest.raises(ClientError):  # an update, then a failing condition on the same table
        dynamodb.transact_write_items(TransactItems=[
            {"Update": {"TableName": table, "Key": {"PK": {"S": "B"}, "SK": {"S": "X"}},
                        "UpdateExpression": "SET n = :n", "ExpressionAttributeValues": {":n": {"N": "2"}}}},
            _put("D", table, "attribute_not_exists(PK)")])

    assert _delivered_pks(streams, ledger_stream_arn) == ["A", "B", "D"]
    assert "Item" not in dynamodb.get_item(TableName=table, Key={"PK": {"S": "C"}, "SK": {"S": "X"}})
    assert "n" not in dynamodb.get_item(TableName=table, Key={"PK": {"S": "B"}, "SK": {"S": "X"}})["Item"]


def test_transactions_do_not_slow_down_as_the_stream_grows(dynamodb, settings: Settings, ledger_stream_arn):
    patch_moto_transactions()
    table = settings.ledger_table

    def transaction_seconds() -> float:
        started = time.perf_counter()
        for _ in range(20):
            dynamodb.transact_write_items(TransactItems=[_put("HOT", table), _put("HOT2", table)])
        return time.perf_counter() - started

    early = transaction_seconds()
    for index in range(1000):  # the stream grows by 1000 records; the table does not
        dynamodb.put_item(TableName=table, Item={"PK": {"S": "P"}, "SK": {"S": "X"}, "n": {"N": str(index)}})
    assert transaction_seconds() < early * 2 + 0.2
