"""Data access for the member aggregate and its unique-email guard."""
from __future__ import annotations

from typing import Any

from chalicelib.domain.members import Member
from chalicelib.settings import get_settings
from chalicelib.store import keys
from chalicelib.store.client import dynamodb, from_attributes, to_attributes

_FIELDS = set(Member.model_fields)


def _table() -> str:
    return get_settings().ledger_table


def member_from_item(item: dict[str, Any]) -> Member:
    return Member.model_validate({k: v for k, v in item.items() if k in _FIELDS})


def put_new_member(member: Member) -> list[tuple[str, dict[str, Any]]]:
    """Transaction items creating a member and claiming its email."""
    return [
        ("member", {"Put": {"TableName": _table(),
                            "Item": to_attributes({**keys.member(member.member_id), **member.model_dump(mode="json")}),
                            "ConditionExpression": "attribute_not_exists(PK)"}}),
        ("email", {"Put": {"TableName": _table(),
                           "Item": to_attributes({**keys.email(member.email), "member_id": member.member_id}),
                           "ConditionExpression": "attribute_not_exists(PK)"}}),
    ]


def member_exists(member_id: str) -> dict[str, Any]:
    """Transaction item that holds only if the member exists."""
    return {"ConditionCheck": {"TableName": _table(), "Key": to_attributes(keys.member(member_id)),
                               "ConditionExpression": "attribute_exists(PK)"}}


def get_member(member_id: str) -> Member | None:
    response = dynamodb().get_item(TableName=_table(), Key=to_attributes(keys.member(member_id)), ConsistentRead=True)
    item = response.get("Item")
    return member_from_item(from_attributes(item)) if item else None


def member_id_for_email(address: str) -> str | None:
    response = dynamodb().get_item(TableName=_table(), Key=to_attributes(keys.email(address)), ConsistentRead=True)
    item = response.get("Item")
    return from_attributes(item)["member_id"] if item else None
