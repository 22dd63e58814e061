"""Counters behind the daily channel report and the liability totals (Views table).

Counters cannot be version-gated like a document, so each one is guarded by its own record of
what it already holds: a ledger entry is counted in its report row in the same transaction that
claims its `COUNTED#` marker; a card or member moves the liability totals in the same
transaction that advances its `LIABILITY#` contribution item, conditioned on the version that
contribution was read at. Redelivered, reordered or duplicated records therefore count once."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.domain.reports import ReportRow
from chalicelib.settings import get_settings
from chalicelib.store import keys
from chalicelib.store.client import dynamodb, from_attributes, to_attributes
from chalicelib.store.transactions import TransactionCancelled, transact

# A marker only has to outlive redelivery (stream records live 24 hours); TTL on `expires_at`.
MARKER_DAYS = 7
CONTRIBUTION_ATTEMPTS = 8


def _table() -> str:
    return get_settings().views_table


def count_entry(source_key: dict[str, str], row: ReportRow, day: str, created_at: str) -> bool:
    """Add one ledger entry to its report row, exactly once. True if this call counted it."""
    expires_at = int((datetime.fromisoformat(created_at.replace("Z", "+00:00")) + timedelta(days=MARKER_DAYS)).timestamp())
    labels = {"channel": row.channel, "kind": row.kind}
    sets = ["#channel = :channel", "#kind = :kind"]
    if row.store_id is not None:
        labels["store_id"] = row.store_id
        sets.append("#store_id = :store_id")
    if row.currency is not None:
        labels["currency"] = row.currency
        sets.append("#currency = :currency")
    values = {f":{name}": value for name, value in labels.items()}
    values.update({":count": row.count, ":amount": row.amount, ":stars": row.stars})
    try:
        transact([
            ("counted", {"Put": {"TableName": _table(),
                                 "Item": to_attributes({**keys.counted(source_key["PK"], source_key["SK"]),
                                                        "day": day, "expires_at": expires_at}),
                                 "ConditionExpression": "attribute_not_exists(PK)"}}),
            ("row", {"Update": {
                "TableName": _table(), "Key": to_attributes(keys.report_row(day, row.channel, row.store_id, row.kind,
                                                                            row.currency)),
                "UpdateExpression": "SET " + ", ".join(sets) + " ADD #count :count, #amount :amount, #stars :stars",
                "ExpressionAttributeNames": {"#count": "count", "#amount": "amount", "#stars": "stars",
                                             **{f"#{name}": name for name in labels}},
                "ExpressionAttributeValues": to_attributes(values),
            }}),
        ])
        counted = True
    except TransactionCancelled as exc:
        if "counted" not in exc.failed:
            raise
        counted = False
    # Also when already counted: the delivery that counted it may have stopped before this step.
    advance_as_of(keys.report_as_of(day), created_at)
    return counted


def read_report(day: str) -> tuple[list[ReportRow], str | None]:
    """The day's counters and as_of: one Query (paged for days with very many stores)."""
    rows, as_of = [], None
    for item in _partition(keys.report_partition(day)):
        if item["SK"] == keys.report_as_of(day)["SK"]:
            as_of = item["as_of"]
        else:
            rows.append(ReportRow(channel=item["channel"], store_id=item.get("store_id"), kind=item["kind"],
                                  currency=item.get("currency"), count=item.get("count", 0),
                                  amount=item.get("amount", 0), stars=item.get("stars", 0)))
    return rows, as_of


def contribute(source_pk: str, total_key: dict[str, str], field: str, value: int, version: int, as_of: str) -> bool:
    """Make the total at `total_key` reflect `value` for this source (a card's balance, a member's
    stars) at `version`, unless a newer version is already reflected. True if the totals moved."""
    source_key = keys.liability_source(source_pk)
    for _ in range(CONTRIBUTION_ATTEMPTS):
        response = dynamodb().get_item(TableName=_table(), Key=to_attributes(source_key), ConsistentRead=True)
        current = from_attributes(response["Item"]) if "Item" in response else None
        if current is not None and current["source_version"] >= version:
            advance_as_of(keys.liability_as_of(), as_of)  # in case the delivery that moved it stopped here
            return False
        delta = value - (current["value"] if current else 0)
        condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(PK)"}
        if current is not None:
            condition = {"ConditionExpression": "source_version = :seen",
                         "ExpressionAttributeValues": to_attributes({":seen": current["source_version"]})}
        items = [("source", {"Put": {"TableName": _table(), **condition, "Item": to_attributes(
            {**source_key, "value": value, "source_version": version, "as_of": as_of})}})]
        if delta:
            items.append(("total", {"Update": {
                "TableName": _table(), "Key": to_attributes(total_key), "UpdateExpression": "ADD #field :delta",
                "ExpressionAttributeNames": {"#field": field},
                "ExpressionAttributeValues": to_attributes({":delta": delta})}}))
        try:
            transact(items)
        except TransactionCancelled:
            continue  # another delivery moved this source first: read it again
        advance_as_of(keys.liability_as_of(), as_of)
        return True
    raise TransactionCancelled({"source"}, True)


def read_liability() -> tuple[dict[str, int], int, str | None]:
    """({currency: outstanding value}, outstanding stars, as_of): one Query."""
    value, stars, as_of = {}, 0, None
    for item in _partition(keys.LIABILITY):
        if item["SK"] == keys.liability_as_of()["SK"]:
            as_of = item["as_of"]
        elif item["SK"] == keys.liability_stars()["SK"]:
            stars = item.get("stars", 0)
        else:
            value[item["SK"].removeprefix("VALUE#")] = item.get("value", 0)
    return value, stars, as_of


def advance_as_of(key: dict[str, str], as_of: str) -> None:
    """Move a view's as_of forward to `as_of`; an older time never moves it back."""
    try:
        dynamodb().update_item(
            TableName=_table(), Key=to_attributes(key), UpdateExpression="SET as_of = :as_of",
            ConditionExpression="attribute_not_exists(as_of) OR as_of < :as_of",
            ExpressionAttributeValues=to_attributes({":as_of": as_of}))
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise


def _partition(pk: str) -> list[dict[str, Any]]:
    query: dict[str, Any] = {"TableName": _table(), "KeyConditionExpression": "PK = :pk",
                             "ExpressionAttributeValues": to_attributes({":pk": pk})}
    items: list[dict[str, Any]] = []
    while True:
        response = dynamodb().query(**query)
        items += [from_attributes(item) for item in response.get("Items", [])]
        if "LastEvaluatedKey" not in response:
            return items
        query["ExclusiveStartKey"] = response["LastEvaluatedKey"]
