"""Offline till batches: the pure rules of one batch — the order items are applied in, the
occurred_at window, what a card can collect — and the shapes of a result and of the per-item record.

A till that lost its connection keeps selling and sends the sales later (`POST /v1/pos/batches`).
Each item is a payment at the token's store, applied on its own. Its outcome is final and is kept
in an item record scoped to the till principal (`OfflineItemRecord`), written in the same
TransactWriteItems as the payment (or alone, for a declined item): sending the item again, in this
or any later batch, answers `duplicate` with that first outcome and applies nothing.

Declined items are recorded too (a deliberate choice): a declined sale was answered, the till
settles it (collects another way) and may keep resending everything it has not seen settled, so
a resend must not take the money a second time just because the card was reloaded since. It also
makes the report's uncollected total count each item once."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from chalicelib.domain.ledger import Transaction
from chalicelib.domain.money import Money, PositiveMoney
from chalicelib.domain.rules import OfflineRules

Status = Literal["applied", "partial", "declined", "duplicate"]
MAX_ITEMS = 100


_RFC3339 = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})",
                      re.ASCII)


class OfflineSale(BaseModel):
    """One sale an offline till took: `card_number` (as read at the till) or `card_id`, not both."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    item_key: str = Field(min_length=1, max_length=255, description="the till's own id of the sale (1..255 printable "
                                                                    "characters); scoped to the till across batches")
    card_number: str | None = Field(None, pattern=r"^[0-9]{16}$")
    card_id: str | None = Field(None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")
    amount: PositiveMoney
    occurred_at: str = Field(max_length=40, json_schema_extra={"format": "date-time"},
                             description="RFC 3339 with an offset: when the till took the sale")
    order_ref: str | None = Field(None, min_length=1, max_length=128)

    @field_validator("item_key")
    @classmethod
    def _printable(cls, value: str) -> str:
        if not value.isprintable():
            raise ValueError("item_key must be printable characters")
        return value

    @field_validator("occurred_at")
    @classmethod
    def _rfc3339(cls, value: str) -> str:
        if not _RFC3339.fullmatch(value):
            raise ValueError("occurred_at must be an RFC 3339 time with an offset, e.g. 2026-12-01T09:30:00Z")
        datetime.fromisoformat(value)  # 2026-02-30, hour 24, second 60: ValueError → 422
        return value

    @model_validator(mode="after")
    def _one_card(self) -> "OfflineSale":
        if (self.card_number is None) == (self.card_id is None):
            raise ValueError("send exactly one of card_number and card_id")
        return self

    @property
    def moment(self) -> datetime:
        return datetime.fromisoformat(self.occurred_at).astimezone(timezone.utc)


class OfflineBatch(BaseModel):
    """The body of POST /v1/pos/batches."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    items: list[OfflineSale] = Field(min_length=1, max_length=MAX_ITEMS)

    @model_validator(mode="after")
    def _keys_once(self) -> "OfflineBatch":
        seen: set[str] = set()
        repeated = sorted({item.item_key for item in self.items if item.item_key in seen or seen.add(item.item_key)})
        if repeated:  # the whole batch is refused: nothing applied
            raise ValueError(f"item_key repeated within the batch: {', '.join(repeated[:5])}")
        return self


class ItemProblem(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(description="`validation_error` (occurred_at outside the window), `not_found`, "
                                  "`card_not_active`, `currency_mismatch`, or `insufficient_funds` (partial, or nothing "
                                  "available)")
    detail: str


class ItemResult(BaseModel):
    """One item's outcome, in the order the items were sent."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    item_key: str
    status: Status
    transaction: Transaction | None = Field(description="the payment (applied, partial; for a duplicate the first "
                                                        "result's), null when nothing was collected")
    uncollected: Money = Field(description="what the card did not pay (a duplicate repeats its first result's)")
    problem: ItemProblem | None = Field(description="why not all was collected (a duplicate repeats its first "
                                                    "result's); null when applied")


class BatchResult(BaseModel):
    """POST /v1/pos/batches: one result per item, in the order sent."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    results: list[ItemResult]


class OfflineItemRecord(BaseModel):
    """What the ledger keeps of one offline item, once per (till principal, item_key): its first
    outcome. `tx_id` names the payment when money moved; `uncollected` feeds the daily report."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    actor: str  # the till principal's sub: the scope of item_key
    item_key: str
    store_id: str
    terminal_id: str | None = None
    card_id: str | None = None
    status: Literal["applied", "partial", "declined"]
    tx_id: str | None = None
    amount: int
    currency: str
    uncollected: int
    occurred_at: str
    recorded_at: str  # when it was applied (or declined): the report's day
    idempotency_key: str | None = None  # of the batch request that first carried it
    request_hash: str | None = None
    result: dict[str, Any]  # the ItemResult first answered, as JSON

    def first_result(self) -> ItemResult:
        return ItemResult.model_validate(self.result)

    def as_duplicate(self) -> ItemResult:
        """The answer to the same item sent again: `duplicate`, carrying the first outcome."""
        return self.first_result().model_copy(update={"status": "duplicate"})


def application_order(occurred: list[datetime]) -> list[int]:
    """Indexes of the items in the order they are applied: oldest occurred_at first, ties in the
    order sent (a stable sort)."""
    return sorted(range(len(occurred)), key=lambda index: occurred[index])


def window_problem(occurred_at: datetime, now: datetime, rules: OfflineRules) -> str | None:
    """Why a sale's time is not acceptable, or None: at most `max_age_seconds` old, at most
    `clock_skew_seconds` ahead of the server's clock (both edges included)."""
    if occurred_at < now - timedelta(seconds=rules.max_age_seconds):
        return f"occurred_at is older than {rules.max_age_seconds // 86_400} days"
    if occurred_at > now + timedelta(seconds=rules.clock_skew_seconds):
        return f"occurred_at is more than {rules.clock_skew_seconds} seconds in the future"
    return None


def collectable(amount: int, spendable: int) -> int:
    """What an item collects: all of it when the card can pay it, else what the card has (never
    below zero)."""
    return max(0, min(amount, spendable))


def outcome(amount: int, collected: int) -> Literal["applied", "partial", "declined"]:
    if collected == amount:
        return "applied"
    return "partial" if collected > 0 else "declined"
