"""Hold use cases: place, read, capture, void (contract v1.1, "Holds").

Each write is one BatchGetItem (card, hold, the member when known, the request's key) and one
TransactWriteItems whose card update is conditioned on the version read, like every card write:
a hold, a payment or a capture planned from a stale card loses its condition and re-plans, so
racing holds and payments never spend more than the card's `available`."""
from __future__ import annotations

from typing import Any

from chalicelib import clock
from chalicelib.domain import holds as rules
from chalicelib.domain.cards import Card
from chalicelib.domain.errors import Forbidden, NotFound
from chalicelib.domain.holds import Hold, HoldRecord, hold_resource
from chalicelib.domain.ledger import Transaction, tx_id_for
from chalicelib.domain.money import Money
from chalicelib.domain.principals import Principal, require_card_access
from chalicelib.services import ledger
from chalicelib.services.audit import card_state, record_lookup, staff_action
from chalicelib.services.cards import card_as, commit_payment, member_of
from chalicelib.services.gate import Gate
from chalicelib.services.ledger import commit, retrying
from chalicelib.settings import get_settings
from chalicelib.store import cards as card_store
from chalicelib.store import holds as hold_store
from chalicelib.store import keys


def place(principal: Principal, card_id: str, amount: Money, store_id: str | None, order_ref: str | None,
          expires_in: int, gate: Gate | None) -> Hold:
    """Keep `amount` back on the card for an order whose final amount may change (owner, order
    ahead: store_id names the pickup store) or a till's pre-authorization (the till's store)."""
    store_id = _till_store(principal, store_id)

    def attempt() -> Hold:
        (item,) = ledger.read(gate, keys.card(card_id))
        card = card_as(principal, item, "customer", "pos")
        now = clock.now()
        plan = rules.plan_hold(card, amount, expires_in, now, max_open=get_settings().rules.money.open_holds_per_card,
                               channel=principal.channel, actor=principal.sub, store_id=store_id, order_ref=order_ref)
        placed = hold_resource(plan.record, now)
        commit([("card", card_store.state_update(card, plan.card_updates, clock.rfc3339(now))),
                ("hold", hold_store.put_hold(plan.record))], gate, placed.model_dump(mode="json"))
        return placed

    return retrying(attempt, gate)


def get(principal: Principal, hold_id: str) -> Hold:
    """The hold (status `expired` once past expires_at), with its card, in one BatchGetItem."""
    card, record, _ = _read(principal, hold_id, None, "customer", "pos", "agent")
    record_lookup(principal, "hold.viewed", card=card)
    return hold_resource(record, clock.now())


def capture(principal: Principal, hold_id: str, amount: Money | None, gate: Gate | None) -> Transaction:
    """Complete the hold as a payment of `amount` (default all of it, never more): stars on the
    captured amount, the rest released, in one TransactWriteItems."""

    def attempt() -> Transaction:
        card, record, member_item = _read(principal, hold_id, gate, "customer", "pos", with_member=True)
        now = clock.now()
        change = rules.plan_capture(card, record, amount, now)
        # The payment's tx_id is known before commit (its card and seq), so the hold item names it.
        after = rules.settled(record, "captured", now, captured=-change.delta,
                              tx_id=tx_id_for(card.card_id, change.seq))
        return commit_payment(principal, change, member_of(card, member_item), now, gate,
                              store_id=record.store_id, order_ref=record.order_ref, hold_id=record.hold_id,
                              extra=[("hold", hold_store.settle_update(record, after))])

    return retrying(attempt, gate)


def void(principal: Principal, hold_id: str, gate: Gate | None) -> Hold:
    """Release the hold whole. Voiding a voided hold changes nothing; a captured or expired one is
    not active. Works on a frozen card (its holds can be voided, not captured)."""

    def attempt() -> Hold:
        card, record, _ = _read(principal, hold_id, gate, "customer", "pos", "agent")
        now = clock.now()
        audit = staff_action(principal, "hold.voided", card=card, before=card_state(card), after=card_state(card))
        if record.status == "voided":
            unchanged = hold_resource(record, now)
            commit([], gate, unchanged.model_dump(mode="json"), audit=audit)
            return unchanged
        rules.require_open(record, now)
        after = rules.settled(record, "voided", now)
        voided = hold_resource(after, now)
        commit([("card", card_store.state_update(card, rules.release_updates(card, record, now), clock.rfc3339(now))),
                ("hold", hold_store.settle_update(record, after))], gate, voided.model_dump(mode="json"), audit=audit)
        return voided

    return retrying(attempt, gate)


def _read(principal: Principal, hold_id: str, gate: Gate | None, *roles: str,
          with_member: bool = False) -> tuple[Card, HoldRecord, dict[str, Any] | None]:
    """The hold's card and record (and the member when this process knows it), read with the
    request's key in one round trip — the id names the card, no lookup; then who may act on it."""
    card_id, seq = rules.require_hold(hold_id)
    member_id = card_store.known_member(card_id) if with_member else None
    wanted = [keys.card(card_id), keys.hold(card_id, seq), *([keys.member(member_id)] if member_id else [])]
    card_item, hold_item, *member_item = ledger.read(gate, *wanted)
    if card_item is None or hold_item is None:
        raise NotFound("hold not found")
    card, record = card_store.card_from_item(card_item), hold_store.hold_from_item(hold_item)
    _authorize(principal, card, record, roles)
    return card, record, member_item[0] if member_item else None


def _authorize(principal: Principal, card: Card, record: HoldRecord, roles: tuple[str, ...]) -> None:
    """The card's owner, a till of the hold's own store, or staff, as `roles` allow. A customer
    asking about a hold on another member's card learns nothing (404)."""
    if principal.role == "pos":
        if "pos" not in roles:
            raise Forbidden("a till may not do this")
        if record.store_id is None or record.store_id != principal.store_id:
            raise Forbidden("a till acts only on its own store's holds")
        return
    try:
        require_card_access(principal, card.member_id, roles=tuple(role for role in roles if role != "pos"))
    except NotFound as exc:
        raise NotFound("hold not found") from exc


def _till_store(principal: Principal, store_id: str | None) -> str | None:
    if principal.role != "pos":
        return store_id
    if store_id is not None and store_id != principal.store_id:
        raise Forbidden("store_id must be the till's own store")
    return principal.store_id
