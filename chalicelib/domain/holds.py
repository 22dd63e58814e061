"""Holds (pre-authorization and completion): pure rules over the card and the hold's own record.

A hold moves no money and writes no ledger entry: it lowers the card's `available` by sitting in
the card item's `holds` map (domain/cards.py) until it is captured, voided or expires. Capture is
a payment of at most the hold's amount that releases the rest in the same write."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict

from chalicelib.clock import rfc3339
from chalicelib.domain.cards import BalanceChange, Card, CardHold, open_holds, require_active, spendable
from chalicelib.domain.errors import CardNotActive, HoldNotActive, InsufficientFunds, LimitExceeded, NotFound
from chalicelib.domain.ledger import seal, unseal
from chalicelib.domain.money import Money, require_currency
from chalicelib.domain.principals import Channel

Status = Literal["held", "captured", "voided", "expired"]

# Hold ids are the (card id, hold number) pair sealed like transaction ids (domain/ledger.py), under
# a key of their own: opaque and unforgeable, yet GET, capture and void find the card and the hold
# item from the id alone, in the one read their plan makes — no lookup item, no index.
_HOLD_KEY_LABEL = b"omnicard/hold-id/aes-siv/v1"
HOLD_PREFIX = "hld_"


def hold_id_for(card_id: str, seq: int) -> str:
    return seal(HOLD_PREFIX, _HOLD_KEY_LABEL, card_id, seq)


def parse_hold_id(hold_id: str) -> tuple[str, int] | None:
    """(card id, hold number) of a hold id this server issued, else None."""
    return unseal(HOLD_PREFIX, _HOLD_KEY_LABEL, hold_id)


def require_hold(hold_id: str) -> tuple[str, int]:
    parsed = parse_hold_id(hold_id)
    if parsed is None or not parsed[0].startswith("crd_"):
        raise NotFound("hold not found")
    return parsed


class HoldRecord(BaseModel):
    """The hold's own item (CARD#<card_id> / HOLD#<seq>): its whole story. `status` is stored as
    held, captured or voided; `expired` is computed at read (`hold_status`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hold_id: str
    card_id: str
    seq: int
    member_id: str | None = None
    amount: int
    currency: str
    status: Literal["held", "captured", "voided"] = "held"
    captured: int | None = None
    tx_id: str | None = None  # the capture's payment
    channel: Channel
    store_id: str | None = None
    order_ref: str | None = None
    actor: str
    expires_at: str
    created_at: str
    updated_at: str
    version: int = 1


class Hold(BaseModel):
    """A hold as the API shows it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hold_id: str
    card_id: str
    amount: Money
    status: Status
    captured: Money | None
    channel: Channel
    store_id: str | None
    order_ref: str | None
    expires_at: str
    created_at: str


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def hold_status(record: HoldRecord, now: datetime) -> Status:
    if record.status == "held" and _at(record.expires_at) <= now:
        return "expired"
    return record.status


def hold_resource(record: HoldRecord, now: datetime) -> Hold:
    return Hold(hold_id=record.hold_id, card_id=record.card_id,
                amount=Money(amount=record.amount, currency=record.currency), status=hold_status(record, now),
                captured=None if record.captured is None else Money(amount=record.captured, currency=record.currency),
                channel=record.channel, store_id=record.store_id, order_ref=record.order_ref,
                expires_at=record.expires_at, created_at=record.created_at)


class HoldPlan(BaseModel):
    """A new hold: the card's updates (its holds map and counter) and the hold's record."""

    model_config = ConfigDict(frozen=True)

    card_updates: dict
    record: HoldRecord


def plan_hold(card: Card, amount: Money, expires_in: int, now: datetime, *, max_open: int, channel: Channel,
              actor: str, store_id: str | None, order_ref: str | None) -> HoldPlan:
    """Keep `amount` back on an active card, from its `available`, until now + expires_in."""
    require_currency(amount, card.currency)
    require_active(card)
    available = spendable(card, now)
    if amount.amount > available:
        raise InsufficientFunds(f"available {available} is less than {amount.amount}")
    still = open_holds(card, now)
    if len(still) >= max_open:
        raise LimitExceeded(f"a card carries at most {max_open} open holds")
    seq = card.hold_seq + 1
    expires_at = rfc3339(now + timedelta(seconds=expires_in))
    holds = {number: hold.model_dump() for number, hold in still.items()}
    holds[str(seq)] = CardHold(amount=amount.amount, expires_at=expires_at).model_dump()
    stamp = rfc3339(now)
    record = HoldRecord(hold_id=hold_id_for(card.card_id, seq), card_id=card.card_id, seq=seq, member_id=card.member_id,
                        amount=amount.amount, currency=card.currency, channel=channel, store_id=store_id,
                        order_ref=order_ref, actor=actor, expires_at=expires_at, created_at=stamp, updated_at=stamp)
    return HoldPlan(card_updates={"holds": holds, "hold_seq": seq}, record=record)


def require_open(record: HoldRecord, now: datetime) -> None:
    status = hold_status(record, now)
    if status != "held":
        raise HoldNotActive(f"the hold is {status}")


def plan_capture(card: Card, record: HoldRecord, amount: Money | None, now: datetime) -> BalanceChange:
    """Capture up to the hold's amount (default all of it) as a payment; the card's holds map loses
    this hold (and any expired one) in the same update, so the rest is released at once."""
    require_open(record, now)
    if card.status != "active":  # a frozen card keeps its holds; they can be voided, not captured
        raise CardNotActive(f"card {card.card_id} is {card.status}")
    value = record.amount if amount is None else amount.amount
    if amount is not None:
        require_currency(amount, card.currency)
    if value > record.amount:
        raise LimitExceeded(f"the hold is for {record.amount}; {value} cannot be captured")
    if value > card.balance:  # cannot happen while held ≤ balance holds; the write's guard agrees
        raise InsufficientFunds(f"balance {card.balance} is less than {value}")
    return BalanceChange(card=card, delta=-value, updates={"holds": _without(card, record.seq, now)})


def release_updates(card: Card, record: HoldRecord, now: datetime) -> dict:
    """A void's card update: the hold (and any expired one) leaves the card's holds map."""
    return {"holds": _without(card, record.seq, now)}


def _without(card: Card, seq: int, now: datetime) -> dict:
    return {number: hold.model_dump() for number, hold in open_holds(card, now).items() if number != str(seq)}


def settled(record: HoldRecord, status: Literal["captured", "voided"], now: datetime, *,
            captured: int | None = None, tx_id: str | None = None) -> HoldRecord:
    return record.model_copy(update={"status": status, "captured": captured, "tx_id": tx_id,
                                     "updated_at": rfc3339(now), "version": record.version + 1})

