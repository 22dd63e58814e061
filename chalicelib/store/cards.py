"""Data access for the card aggregate: the card item, its number guard and its ledger entries."""
from __future__ import annotations

import base64
import json
from typing import Any

from chalicelib.domain.cards import BalanceChange, Card
from chalicelib.domain.errors import ValidationFailed
from chalicelib.domain.ledger import LedgerEntry
from chalicelib.settings import card_number_pepper, get_settings
from chalicelib.store import keys
from chalicelib.store.client import dynamodb, from_attributes, to_attributes
from chalicelib.store.reads import get_items

_CARD_FIELDS = set(Card.model_fields)
_ENTRY_FIELDS = set(LedgerEntry.model_fields)

# Registered cards' members, as this process has read them. Registration is permanent (a card is
# registered to at most one member, never moved), so an entry never goes stale: it lets a payment
# or refund read the member in the same round trip as the card. Bounded; forgetting costs one read.
_MEMBER_OF_CARD: dict[str, str] = {}
_REMEMBERED_CARDS = 100_000


def _table() -> str:
    return get_settings().ledger_table


def card_from_item(item: dict[str, Any]) -> Card:
    card = Card.model_validate({k: v for k, v in item.items() if k in _CARD_FIELDS})
    if card.member_id is not None:
        if len(_MEMBER_OF_CARD) >= _REMEMBERED_CARDS:
            _MEMBER_OF_CARD.clear()
        _MEMBER_OF_CARD[card.card_id] = card.member_id
    return card


def known_member(card_id: str) -> str | None:
    """The member a card is registered to, if this process has seen it registered (no read)."""
    return _MEMBER_OF_CARD.get(card_id)


def card_item(card: Card) -> dict[str, Any]:
    return {**keys.card(card.card_id), **card.model_dump(exclude_none=True)}


def entry_from_item(item: dict[str, Any]) -> LedgerEntry:
    return LedgerEntry.model_validate({k: v for k, v in item.items() if k in _ENTRY_FIELDS})


def get_card(card_id: str) -> Card | None:
    """The authoritative card: one strongly consistent GetItem."""
    response = dynamodb().get_item(TableName=_table(), Key=to_attributes(keys.card(card_id)), ConsistentRead=True)
    item = response.get("Item")
    return card_from_item(from_attributes(item)) if item else None


def new_card_id(number: str) -> str:
    return keys.card_id_for_number(number, card_number_pepper())


def card_by_number(number: str, *, with_member: bool = False) -> Any:
    """The card with this full number, strongly consistent, in one round trip: the card at the id
    its number derives, read together with the number's guard — which names the card instead for
    cards issued before ids were derived (one more read for those). `with_member`: (card, member
    item), the member read in the same BatchGetItem when this process knows the card's member."""
    pepper = card_number_pepper()
    card_id = keys.card_id_for_number(number, pepper)
    member_id = known_member(card_id) if with_member else None
    card, guard, *member = get_items([keys.card(card_id), keys.card_number(number, pepper),
                                      *([keys.member(member_id)] if member_id else [])])
    found = card_from_item(card) if card is not None else get_card(guard["card_id"]) if guard else None
    return (found, member[0] if member else None) if with_member else found


def put_new_card(card: Card, number: str) -> list[tuple[str, dict[str, Any]]]:
    """Transaction items creating a card and claiming its number."""
    return [
        ("card", {"Put": {"TableName": _table(), "Item": to_attributes(card_item(card)),
                          "ConditionExpression": "attribute_not_exists(PK)"}}),
        ("card_number", {"Put": {
            "TableName": _table(),
            "Item": to_attributes({**keys.card_number(number, card_number_pepper()), "card_id": card.card_id}),
            "ConditionExpression": "attribute_not_exists(PK)"}}),
    ]


def balance_update(change: BalanceChange, now_iso: str) -> dict[str, Any]:
    """Update of one card's balance, guarded by its version, its status and the balance bounds:
    the guard holds even if the plan was computed from a stale read."""
    card = change.card
    cap = get_settings().rules.money.balance_cap
    conditions = ["#version = :version", "balance >= :floor", "balance <= :ceiling"]
    values: dict[str, Any] = {
        ":delta": change.delta, ":one": 1, ":version": card.version, ":now": now_iso,
        ":floor": max(0, -change.delta), ":ceiling": cap - max(0, change.delta),
    }
    names = {"#version": "version"}
    expression = _update_expression(
        ["balance = balance + :delta", "#version = #version + :one", "ledger_seq = ledger_seq + :one",
         "updated_at = :now"], change.updates, names, values)
    if change.require_active:
        conditions.append("#status = :active")
        values[":active"] = "active"
        names["#status"] = "status"
    return {"Update": {
        "TableName": _table(), "Key": to_attributes(keys.card(card.card_id)),
        "UpdateExpression": expression,
        "ConditionExpression": " AND ".join(conditions),
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": to_attributes(values),
    }}


def state_update(card: Card, changes: dict[str, Any], now_iso: str) -> dict[str, Any]:
    """Update of a card's non-money fields (status, member, auto-reload), guarded by its version.
    A None value removes the field."""
    names = {"#version": "version"}
    values: dict[str, Any] = {":one": 1, ":version": card.version, ":now": now_iso}
    expression = _update_expression(["#version = #version + :one", "updated_at = :now"], changes, names, values)
    return {"Update": {
        "TableName": _table(), "Key": to_attributes(keys.card(card.card_id)),
        "UpdateExpression": expression, "ConditionExpression": "#version = :version",
        "ExpressionAttributeNames": names, "ExpressionAttributeValues": to_attributes(values),
    }}


def _update_expression(sets: list[str], fields: dict[str, Any], names: dict[str, str],
                       values: dict[str, Any]) -> str:
    """`sets` plus a SET of each field (a None value REMOVEs it); adds the fields' placeholders to
    `names` and `values`."""
    sets, removes = list(sets), []
    for index, (field, value) in enumerate(fields.items()):
        names[f"#f{index}"] = field
        if value is None:
            removes.append(f"#f{index}")
        else:
            sets.append(f"#f{index} = :f{index}")
            values[f":f{index}"] = value
    return "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")


def put_entry(entry: LedgerEntry) -> dict[str, Any]:
    """Immutable ledger entry: written once, never overwritten."""
    assert entry.card_id is not None
    item = {**keys.ledger_entry(entry.card_id, entry.seq), **entry.model_dump(mode="json", exclude_none=True)}
    return {"Put": {"TableName": _table(), "Item": to_attributes(item),
                    "ConditionExpression": "attribute_not_exists(PK)"}}


def list_entries(card_id: str, limit: int, cursor: str | None) -> tuple[list[LedgerEntry], str | None]:
    """A card's ledger, newest first, one strongly consistent Query per page."""
    query: dict[str, Any] = {
        "TableName": _table(),
        "KeyConditionExpression": "PK = :pk AND begins_with(SK, :tx)",
        "ExpressionAttributeValues": to_attributes({":pk": keys.ledger_partition(card_id), ":tx": keys.TX_PREFIX}),
        "ScanIndexForward": False, "Limit": limit, "ConsistentRead": True,
    }
    if cursor:
        query["ExclusiveStartKey"] = to_attributes(keys.ledger_entry(card_id, decode_cursor(cursor)))
    response = dynamodb().query(**query)
    entries = [entry_from_item(from_attributes(item)) for item in response.get("Items", [])]
    last = response.get("LastEvaluatedKey")
    next_cursor = encode_cursor(entries[-1].seq) if last and entries else None
    return entries, next_cursor


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"seq": seq}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        seq = json.loads(raw)["seq"]
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
            raise ValueError(seq)
        return seq
    except (ValueError, KeyError, TypeError, json.JSONDecodeError) as exc:
        raise ValidationFailed("cursor is not valid", errors=[{"loc": ["query", "cursor"], "msg": "invalid cursor"}]) from exc



def refunded_update(card_id: str, payment_seq: int, version: int, refunded: int, stars_due_back: int) -> dict[str, Any]:
    """Record a payment's refunded totals, guarded by the version they were read at, so two
    concurrent refunds can never together exceed the payment."""
    condition = "attribute_not_exists(PK)" if version == 0 else "#version = :version"
    values = {":refunded": refunded, ":stars": stars_due_back, ":next": version + 1}
    if version:
        values[":version"] = version
    return {"Update": {
        "TableName": _table(), "Key": to_attributes(keys.refunds(card_id, payment_seq)),
        "UpdateExpression": "SET refunded = :refunded, stars_due_back = :stars, #version = :next",
        "ConditionExpression": condition, "ExpressionAttributeNames": {"#version": "version"},
        "ExpressionAttributeValues": to_attributes(values),
    }}


def refunded_totals(item: dict[str, Any] | None) -> tuple[int, int, int]:
    """A payment's (refunded, stars due back, version) from its REFUNDS# item (zeros before any)."""
    item = item or {}
    return item.get("refunded", 0), item.get("stars_due_back", 0), item.get("version", 0)
