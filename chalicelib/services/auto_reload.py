"""Auto-reload use cases: owners and agents switch it on or off on a card; the stream handler
follows a debit that left the card below its threshold with one `auto_reload`, through the same
steps as a reload (read, plan, one transaction with the ledger entry and the idempotency record)."""
from __future__ import annotations

import hashlib
from collections.abc import Callable

from chalicelib import clock
from chalicelib.domain import cards as rules
from chalicelib.domain.auto_reload import plan_settings, still_due
from chalicelib.domain.cards import AutoReload, Card, CardResource, card_resource
from chalicelib.domain.errors import BusinessRefusal
from chalicelib.domain.ledger import Transaction
from chalicelib.domain.money import Money
from chalicelib.domain.principals import Principal
from chalicelib.services.audit import card_state, staff_action
from chalicelib.services import gate as request_gate
from chalicelib.services import ledger
from chalicelib.services.cards import authorized_card, card_as
from chalicelib.services.gate import Gate, Replay
from chalicelib.services.ledger import commit, commit_moves, ledger_entry, retrying
from chalicelib.settings import get_settings
from chalicelib.store import cards as card_store
from chalicelib.store import keys

# Who performs auto-reloads: recorded as the actor, channel `system`, on every auto_reload entry.
SYSTEM = Principal(sub="system:auto-reload", role="service", channel="system")


def configure(principal: Principal, card_id: str, threshold: Money, amount: Money, payment_ref: str) -> CardResource:
    """Switch auto-reload on (or change it). Setting what is already set changes nothing."""
    return _change_setting(principal, card_id, "card.auto_reload_set",
                           lambda card: plan_settings(card, threshold, amount, get_settings().rules.money), payment_ref)


def cancel(principal: Principal, card_id: str) -> CardResource:
    """Switch auto-reload off; on a card without it, nothing changes."""
    return _change_setting(principal, card_id, "card.auto_reload_cancelled", lambda card: None, None)


def _change_setting(principal: Principal, card_id: str, action: str,
                    planned: Callable[[Card], AutoReload | None], payment_ref: str | None) -> CardResource:
    """Write the card's auto-reload setting (and the staff audit record) in one version-guarded
    transaction, retried on a concurrent change; writing what is already set changes nothing."""

    def attempt() -> CardResource:
        card = authorized_card(principal, card_id, "customer", "agent")
        settings = planned(card)
        if card.auto_reload == settings and card.auto_reload_payment_ref == payment_ref:
            return card_resource(card, clock.now())
        changes = {"auto_reload": settings.model_dump(mode="json") if settings else None,
                   "auto_reload_payment_ref": payment_ref}
        audit = staff_action(principal, action, card=card, before=card_state(card),
                             after=card_state(card, auto_reload=settings))
        commit([("card", card_store.state_update(card, changes, clock.rfc3339(clock.now())))], None, None, audit=audit)
        return card_resource(card.model_copy(update={"auto_reload": settings, "auto_reload_payment_ref": payment_ref,
                                                      "version": card.version + 1}), clock.now())

    return retrying(attempt)


def follow(trigger_tx_id: str, card_id: str) -> Transaction | None:
    """One auto_reload for the debit `trigger_tx_id`, however often its record is delivered: the
    idempotency record is keyed on that debit and completed inside the reload's transaction.
    None when it was already handled, or is no longer due (the outcome is recorded either way).
    An error stores nothing: the redelivered record tries again."""
    fingerprint = hashlib.sha256(f"auto_reload\x00{card_id}\x00{trigger_tx_id}".encode()).hexdigest()
    gate = request_gate.admit(SYSTEM.sub, trigger_tx_id, fingerprint, 201)
    try:
        result = retrying(lambda: _attempt(card_id, gate), gate)
        if isinstance(result, str):
            request_gate.finish(gate, 200, {"skipped": result})
            return None
        return result
    except BusinessRefusal as refusal:  # e.g. the card was frozen or reached its cap meanwhile
        try:
            # Not an HTTP response (nobody replays it): recorded as handled, with the refusal's code.
            request_gate.finish(gate, 200, {"skipped": refusal.code, "detail": refusal.detail})
        except Replay:
            pass
        return None
    except Replay:  # handled by an earlier delivery
        return None


def _attempt(card_id: str, gate: Gate) -> Transaction | str:
    (item,) = ledger.read(gate, keys.card(card_id))
    card = card_as(SYSTEM, item, "service")
    reason = still_due(card)
    if reason is not None:
        return reason
    assert card.auto_reload is not None
    change = rules.plan_reload(card, card.auto_reload.amount, get_settings().rules, clock.now())
    entry = ledger_entry(SYSTEM, change, "auto_reload", gate, payment_ref=card.auto_reload_payment_ref)
    result: Transaction = commit_moves([change], [entry], gate)
    return result
