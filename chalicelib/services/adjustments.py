"""Adjustments of money and stars by call-center staff, with maker-checker approval above the
threshold — for one adjustment, or for the sum of one agent's unapproved adjustments on one card (or
member's stars) in a UTC day: a supervisor other than the requester applies or rejects a pending one
exactly once."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from chalicelib import clock
from chalicelib.domain.adjustments import (Adjustment, DailyLimitReached, daily_tally, decided, needs_approval,
                                           new_adjustment_id, require_decider, utc_day)
from chalicelib.domain.cards import BalanceChange, Card, spendable
from chalicelib.domain.errors import AlreadyDecided, InsufficientFunds, LimitExceeded, NotFound
from chalicelib.domain.ledger import Transaction, tx_id_for
from chalicelib.domain.members import Member, adjust_stars
from chalicelib.domain.money import Money, require_currency
from chalicelib.domain.principals import Principal, require_role
from chalicelib.services import ledger
from chalicelib.services.audit import card_state, staff_action
from chalicelib.services.cards import card_as, load_card
from chalicelib.services.gate import Gate
from chalicelib.services.ledger import commit, commit_member_entry, commit_moves, ledger_entry, member_entry, retrying
from chalicelib.services.stars import load_member, member_from
from chalicelib.settings import get_settings
from chalicelib.store import adjustments as adjustment_store
from chalicelib.store import keys

PENDING_STATUS = 202
DAILY = "daily_limit"


class AdjustmentPage(BaseModel):
    items: list[Adjustment]
    next_cursor: str | None


def plan_card_adjustment(card: Card, amount: Money) -> BalanceChange:
    """A signed correction of a card's balance: never below what its unexpired holds keep back (so
    never below zero), never above the cap; allowed on a frozen card (that is when corrections happen)."""
    require_currency(amount, card.currency)
    available = spendable(card, clock.now())
    if available + amount.amount < 0:
        raise InsufficientFunds(f"available {available} cannot absorb an adjustment of {amount.amount}")
    if card.balance + amount.amount > get_settings().rules.money.balance_cap:
        raise LimitExceeded("the balance would exceed the cap")
    return BalanceChange(card=card, delta=amount.amount, require_active=False)


def adjust_card(principal: Principal, card_id: str, amount: Money, reason_code: str, note: str | None,
                ticket_ref: str | None, gate: Gate | None) -> Transaction | Adjustment:
    """Apply at once (201 Transaction) or, above the threshold or past the agent's daily sum on
    this card, file for approval (202 Adjustment)."""
    require_role(principal, "agent", "supervisor")
    request = dict(amount=amount, reason_code=reason_code, note=note, ticket_ref=ticket_ref)

    def file() -> Adjustment:
        (item,) = ledger.read(gate, keys.card(card_id))
        card = card_as(principal, item, "agent")
        require_currency(amount, card.currency)
        return _file_pending(principal, gate, card_id=card.card_id, member_id=card.member_id, **request)

    def file_pending() -> Adjustment:
        return retrying(file, gate)

    if needs_approval(amount, None, get_settings().rules.approvals):
        return file_pending()

    def attempt() -> Transaction:
        now = clock.now()
        item, tally = ledger.read(gate, keys.card(card_id), _tally_key(card_id, principal, now))
        return _apply_to_card(principal, card_as(principal, item, "agent"), principal.agent_id, gate,
                              "adjustment.applied", None, extra=[], counted=_total(tally), at=now, **request)

    try:
        return retrying(attempt, gate, refusals={DAILY: DailyLimitReached})
    except DailyLimitReached:
        return file_pending()


def adjust_member_stars(principal: Principal, member_id: str, stars: int, reason_code: str, note: str | None,
                        ticket_ref: str | None, gate: Gate | None) -> Transaction | Adjustment:
    require_role(principal, "agent", "supervisor")
    request = dict(stars=stars, reason_code=reason_code, note=note, ticket_ref=ticket_ref)

    def file() -> Adjustment:
        (item,) = ledger.read(gate, keys.member(member_id))
        member_from(item)  # it exists
        return _file_pending(principal, gate, member_id=member_id, **request)

    def file_pending() -> Adjustment:
        return retrying(file, gate)

    if needs_approval(None, stars, get_settings().rules.approvals):
        return file_pending()

    def attempt() -> Transaction:
        now = clock.now()
        item, tally = ledger.read(gate, keys.member(member_id), _tally_key(member_id, principal, now))
        return _apply_to_member(principal, member_from(item), principal.agent_id, gate, "adjustment.applied",
                                None, extra=[], counted=_total(tally), at=now, **request)

    try:
        return retrying(attempt, gate, refusals={DAILY: DailyLimitReached})
    except DailyLimitReached:
        return file_pending()


def _tally_key(subject: str, principal: Principal, now: datetime) -> dict[str, str]:
    """The agent's daily tally on `subject`, read with it (and the request's key record) in one round trip."""
    return keys.adjustment_tally(subject, utc_day(now), principal.agent_id or "")


def _total(tally: dict[str, Any] | None) -> int:
    return int((tally or {}).get("total", 0))


def _daily_count(subject: str, agent_id: str | None, size: int, counted: int, created_at: str, *,
                 stars: bool) -> list:
    """The transaction item counting an unapproved adjustment toward its agent's daily limit — or
    DailyLimitReached when the total read with the subject leaves no room, so filing it for approval
    needs no cancelled write. Under races the item's condition is what decides. Approved adjustments
    do not count: a second person already checked them (README, Call-center)."""
    day, size, limit, expires_at = daily_tally(size, counted, created_at, get_settings().rules.approvals, stars=stars)
    return [(DAILY, adjustment_store.count_toward_daily_limit(subject, day, agent_id or "", size, limit, expires_at))]


def _file_pending(principal: Principal, gate: Gate | None, **fields: Any) -> Adjustment:
    adjustment = Adjustment(adjustment_id=new_adjustment_id(), status="pending_approval", agent_id=principal.agent_id,
                            requested_at=clock.rfc3339(clock.now()), **fields)
    audit = staff_action(principal, "adjustment.requested", member_id=adjustment.member_id,
                         adjustment_id=adjustment.adjustment_id, reason_code=adjustment.reason_code,
                         note=adjustment.note, ticket_ref=adjustment.ticket_ref,
                         after=adjustment.model_dump(mode="json", exclude_none=True))
    audit = audit.model_copy(update={"card_id": adjustment.card_id}) if audit else None
    commit(adjustment_store.put_pending(adjustment), gate, adjustment.model_dump(mode="json"), audit=audit,
           status=PENDING_STATUS)
    return adjustment


def _apply_to_card(principal: Principal, card: Card, agent_id: str | None, gate: Gate | None, action: str,
                   adjustment_id: str | None, *, extra: list, amount: Money, reason_code: str, note: str | None,
                   ticket_ref: str | None, counted: int | None = None, at: datetime | None = None) -> Transaction:
    """`counted`: what the agent adjusted alone on the card today, as read (None: approved, not counted)."""
    change = plan_card_adjustment(card, amount)
    entry = ledger_entry(principal, change, "adjustment", gate, agent_id=agent_id, reason_code=reason_code, at=at)
    if counted is not None:
        extra = [*extra, *_daily_count(card.card_id, agent_id, amount.amount, counted, entry.created_at, stars=False)]
    audit = staff_action(principal, action, card=card, tx_id=entry.tx_id, adjustment_id=adjustment_id,
                         reason_code=reason_code, note=note, ticket_ref=ticket_ref, before=card_state(card),
                         after=card_state(card, balance=change.balance_after))
    return commit_moves([change], [entry], gate, extra=extra, audit=audit)


def _apply_to_member(principal: Principal, member: Member, agent_id: str | None, gate: Gate | None,
                     action: str, adjustment_id: str | None, *, extra: list, stars: int, reason_code: str,
                     note: str | None, ticket_ref: str | None, counted: int | None = None,
                     at: datetime | None = None) -> Transaction:
    now = at or clock.now()
    rules = get_settings().rules.stars
    after = adjust_stars(member, stars, now, rules)
    entry = member_entry(principal, after, "adjustment", stars, now, gate, agent_id=agent_id, reason_code=reason_code)
    if counted is not None:
        extra = [*extra, *_daily_count(member.member_id, agent_id, stars, counted, entry.created_at, stars=True)]
    audit = staff_action(principal, action, member_id=member.member_id, tx_id=entry.tx_id, adjustment_id=adjustment_id,
                         reason_code=reason_code, note=note, ticket_ref=ticket_ref,
                         before={"stars": member.stars_now(now)}, after={"stars": after.stars_now(now)})
    return commit_member_entry(member, after, entry, gate, extra=extra, audit=audit)


def approve(principal: Principal, adjustment_id: str, gate: Gate | None) -> Transaction:
    """Apply a pending adjustment exactly once; the ledger entry keeps the requester's agent_id."""

    def attempt() -> Transaction:
        adjustment = _read_adjustment(gate, adjustment_id)
        require_decider(adjustment, principal)
        request = dict(reason_code=adjustment.reason_code, note=adjustment.note, ticket_ref=adjustment.ticket_ref)
        now = clock.rfc3339(clock.now())
        if adjustment.card_id:
            card = load_card(adjustment.card_id)
            tx_id = _next_tx(card)
            decision = adjustment_store.decide(adjustment, decided(adjustment, principal, "approved", now, tx_id))
            return _apply_to_card(principal, card, adjustment.agent_id, gate, "adjustment.approved", adjustment_id,
                                  extra=decision, amount=adjustment.amount, **request)
        member = load_member(adjustment.member_id)
        tx_id = tx_id_for(member.member_id, member.star_seq + 1)
        decision = adjustment_store.decide(adjustment, decided(adjustment, principal, "approved", now, tx_id))
        return _apply_to_member(principal, member, adjustment.agent_id, gate, "adjustment.approved", adjustment_id,
                                extra=decision, stars=adjustment.stars, **request)

    return retrying(attempt, gate, refusals={"adjustment": lambda: AlreadyDecided("the adjustment was decided meanwhile")})


def reject(principal: Principal, adjustment_id: str, gate: Gate | None) -> Adjustment:
    """Close a pending adjustment without applying it, exactly once."""

    def attempt() -> Adjustment:
        adjustment = _read_adjustment(gate, adjustment_id)
        require_decider(adjustment, principal)
        result = decided(adjustment, principal, "rejected", clock.rfc3339(clock.now()))
        audit = staff_action(principal, "adjustment.rejected", member_id=adjustment.member_id,
                             adjustment_id=adjustment_id, reason_code=adjustment.reason_code,
                             before={"status": adjustment.status}, after={"status": "rejected"})
        audit = audit.model_copy(update={"card_id": adjustment.card_id}) if audit else None
        commit(adjustment_store.decide(adjustment, result), gate, result.model_dump(mode="json"), audit=audit)
        return result

    return retrying(attempt, gate, refusals={"adjustment": lambda: AlreadyDecided("the adjustment was decided meanwhile")})


def pending(principal: Principal, limit: int, cursor: str | None) -> AdjustmentPage:
    require_role(principal, "supervisor")
    items, next_cursor = adjustment_store.pending(limit, cursor)
    return AdjustmentPage(items=items, next_cursor=next_cursor)


def _read_adjustment(gate: Gate | None, adjustment_id: str) -> Adjustment:
    """The adjustment, read with the request's idempotency record."""
    (item,) = ledger.read(gate, keys.adjustment(adjustment_id))
    if item is None:
        raise NotFound("adjustment not found")
    return adjustment_store.adjustment_from_item(item)



def _next_tx(card: Card) -> str:
    return tx_id_for(card.card_id, card.ledger_seq + 1)
