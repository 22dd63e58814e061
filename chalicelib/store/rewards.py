"""The reward catalogue's changes (the defaults come from the rules file)."""
from __future__ import annotations

from typing import Any

from chalicelib.settings import get_settings
from chalicelib.store import keys
from chalicelib.store.client import dynamodb, from_attributes, to_attributes


def _table() -> str:
    return get_settings().ledger_table


def catalogue_changes() -> list[dict[str, Any]]:
    """Rewards the service role added, changed or retired: [{reward_id, name, stars, retired}]."""
    response = dynamodb().query(TableName=_table(), KeyConditionExpression="PK = :pk", ConsistentRead=True,
                                ExpressionAttributeValues=to_attributes({":pk": keys.REWARDS}))
    return [from_attributes(item) for item in response.get("Items", [])]


def save(reward_id: str, name: str | None, stars: int | None, retired: bool) -> None:
    item = {**keys.reward(reward_id), "reward_id": reward_id, "name": name, "stars": stars, "retired": retired}
    dynamodb().put_item(TableName=_table(), Item=to_attributes(item))
