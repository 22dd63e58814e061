"""The card aggregate and its money rules: pure functions over integer minor units."""
from __future__ import annotations

import secrets
from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.domain.errors import CardNotActive, CurrencyMismatch, InsufficientFunds, LimitExceeded, ValidationFailed
from chalicelib.domain.money import Money, require_currency
from chalicelib.domain.rules import MoneyLimits, Rules

Status = Literal["active", "frozen", "closed"]


class AutoReload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    threshold: Money
    amount: Money


class CardHold(BaseModel):
    """A hold as the card item carries it: what it keeps back, and until when."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    amount: int
    expires_at: str


class Card(BaseModel):
    """The authoritative card record. `version` counts every change of the item (views use it to
    never go backwards); `ledger_seq` counts its ledger entries (gapless).

    `holds` are the card's open holds by hold number (`hold_seq` numbers them). They live on the
    card item, not only in their own items, so `held` and `available` come from the one read every
    plan already makes, and the card's version condition decides races between holds, payments
    and captures (README, "Holds"). An expired hold stays in the map until the next write of the
    card prunes it, but no rule counts it (`held` compares `expires_at` with the clock)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    card_id: str
    last4: str
    member_id: str | None = None
    status: Status = "active"
    currency: str
    balance: int = 0
    version: int = 1
    ledger_seq: int = 0
    ledger_head: str | None = None  # the hash of its newest ledger entry (domain/ledger_chain.py)
    auto_reload: AutoReload | None = None
    auto_reload_payment_ref: str | None = None  # charged by auto-reloads; not shown by the API
    reload_hour: str | None = None  # abuse limits: the current hour's and day's reload tallies
    reloads_in_hour: int = 0
    reload_day: str | None = None
    reloaded_in_day: int = 0
    holds: dict[str, CardHold] = {}
    hold_seq: int = 0
    created_at: str
    updated_at: str


class BalanceChange(BaseModel):
    """One card's planned move: applied only if the card is still at `card.version`."""

    model_config = ConfigDict(frozen=True)

    card: Card
    delta: int
    require_active: bool = True
    updates: dict[str, Any] = {}  # other card fields written with the balance (reload tallies, auto-reload)

    @property
    def balance_after(self) -> int:
        return self.card.balance + self.delta

    @property
    def seq(self) -> int:
        return self.card.ledger_seq + 1


def new_card_number() -> str:
    """A random 16-digit card number with a Luhn check digit."""
    body = [secrets.randbelow(10) for _ in range(15)]
    body[0] = 6  # issuer range for closed-loop stored-value cards
    return "".join(map(str, body)) + str(luhn_check_digit(body))


def luhn_check_digit(digits: list[int]) -> int:
    total = 0
    for index, digit in enumerate(reversed(digits)):
        if index % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return (10 - total % 10) % 10


def mask(last4: str) -> str:
    return "*" * 12 + last4


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)


def open_holds(card: Card, now: datetime) -> dict[str, CardHold]:
    """The card's holds that still count at `now` (expired ones stop counting at once, no sweep)."""
    return {number: hold for number, hold in card.holds.items() if _at(hold.expires_at) > now}


def held(card: Card, now: datetime) -> int:
    """What the card's unexpired holds keep back, in minor units."""
    return sum(hold.amount for hold in open_holds(card, now).values())


def spendable(card: Card, now: datetime) -> int:
    """The card's `available`: its balance less its unexpired holds. Payments, transfers, new
    holds, negative adjustments and offline till items spend this, never the bare balance."""
    return card.balance - held(card, now)


def pruned_holds(card: Card, now: datetime) -> dict[str, Any]:
    """Card updates dropping expired holds from the item, or nothing when none expired: any write
    of the card takes them along (the version condition makes the whole-map write safe)."""
    still = open_holds(card, now)
    if len(still) == len(card.holds):
        return {}
    return {"holds": {number: hold.model_dump() for number, hold in still.items()}}


def require_active(card: Card) -> None:
    if card.status != "active":
        raise CardNotActive(f"card {card.card_id} is {card.status}")


def plan_reload(card: Card, amount: Money, rules: Rules, now: datetime) -> BalanceChange:
    """A reload: active card, per-reload bounds, never above the balance cap, and within the card's
    hourly count and daily amount (fixed windows in the programme's zone)."""
    limits, abuse = rules.money, rules.limits
    require_currency(amount, card.currency)
    require_active(card)
    if not limits.reload_min <= amount.amount <= limits.reload_max:
        raise LimitExceeded(f"a reload must be between {limits.reload_min} and {limits.reload_max} minor units")
    local = now.astimezone(rules.stars.zone)
    hour, day = local.strftime("%Y-%m-%dT%H"), local.strftime("%Y-%m-%d")
    reloads = card.reloads_in_hour if card.reload_hour == hour else 0
    reloaded = card.reloaded_in_day if card.reload_day == day else 0
    if reloads + 1 > abuse.reloads_per_card_per_hour:
        raise LimitExceeded(f"at most {abuse.reloads_per_card_per_hour} reloads per card per hour")
    if reloaded + amount.amount > abuse.reload_amount_per_card_per_day:
        raise LimitExceeded(f"at most {abuse.reload_amount_per_card_per_day} minor units reloaded per card per day")
    change = plan_credit(card, amount.amount, limits)
    return change.model_copy(update={"updates": {"reload_hour": hour, "reloads_in_hour": reloads + 1,
                                                 "reload_day": day, "reloaded_in_day": reloaded + amount.amount}})


def plan_credit(card: Card, amount: int, limits: MoneyLimits, *, require_active_card: bool = True) -> BalanceChange:
    """Any credit: never above the cap."""
    if card.balance + amount > limits.balance_cap:
        raise LimitExceeded(f"the balance would exceed the cap of {limits.balance_cap} minor units")
    return BalanceChange(card=card, delta=amount, require_active=require_active_card)


def plan_payment(card: Card, amount: Money, now: datetime) -> BalanceChange:
    """A payment: active card, paid from `available` (never into what holds keep back)."""
    require_currency(amount, card.currency)
    require_active(card)
    available = spendable(card, now)
    if amount.amount > available:
        raise InsufficientFunds(f"available {available} is less than {amount.amount}")
    return BalanceChange(card=card, delta=-amount.amount, updates=pruned_holds(card, now))


def plan_transfer(source: Card, target: Card, amount: Money | None,
                  limits: MoneyLimits, now: datetime) -> tuple[BalanceChange, BalanceChange]:
    """Move value between two cards of one currency, from the source's `available` (default: all
    of it). The source may be frozen (a lost card's balance is moved off it; its holds stay
    covered); the target must be active. Moving nothing is insufficient_funds."""
    if source.card_id == target.card_id:
        raise ValidationFailed("to_card_id must differ from the source card",
                               errors=[{"loc": ["body", "to_card_id"], "msg": "same card"}])
    if source.status == "closed":
        raise CardNotActive(f"card {source.card_id} is closed")
    require_active(target)
    if target.currency != source.currency:
        raise CurrencyMismatch(f"card {source.card_id} holds {source.currency}, card {target.card_id} {target.currency}")
    available = spendable(source, now)
    value = available if amount is None else amount.amount
    if amount is not None:
        require_currency(amount, source.currency)
    if value <= 0 or value > available:
        raise InsufficientFunds(f"available {available} cannot cover a transfer of {value}")
    out = BalanceChange(card=source, delta=-value, require_active=False, updates=pruned_holds(source, now))
    into = plan_credit(target, value, limits)
    return out, into



class CardMember(BaseModel):
    """The registered member's loyalty on a card read, so a till can offer rewards."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    member_id: str
    tier: str
    stars: int


class CardResource(BaseModel):
    """The card as the API and the views show it: number masked."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    card_id: str
    card_number: str
    member_id: str | None
    status: Status
    balance: Money
    held: Money = Field(description="what the card's unexpired holds keep back")
    available: Money = Field(description="balance − held: what payments, transfers and new holds may spend")
    auto_reload: AutoReload | None
    version: int
    ledger_head: str | None = Field(None, description="the `hash` of the card's newest transaction (null when it has "
                                                      "none, or before its ledger was chained); strongly consistent")
    member: CardMember | None = Field(None, description="the registered member's loyalty as of this read (card reads "
                                                        "and the wallet; null on write responses and events)")


def card_resource(card: Card, now: datetime, *, member: CardMember | None = None,
                  full_number: str | None = None) -> CardResource:
    """The API's Card as of `now` (holds expired by then no longer count); `full_number` only in
    the response that issues the card."""
    kept = held(card, now)
    return CardResource(card_id=card.card_id, card_number=full_number or mask(card.last4), member_id=card.member_id,
                        status=card.status, balance=Money(amount=card.balance, currency=card.currency),
                        held=Money(amount=kept, currency=card.currency),
                        available=Money(amount=card.balance - kept, currency=card.currency),
                        auto_reload=card.auto_reload, version=card.version,
                        ledger_head=card.ledger_head, member=member)


def updated_at(card: Card) -> datetime:
    """When the card item last changed: views and events show a card as of then, so a redelivered
    change shows the same `held` (the API's reads show it as of the read)."""
    return _at(card.updated_at)
