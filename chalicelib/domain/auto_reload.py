"""Auto-reload: the settings a card keeps, and which committed change calls for a reload. Pure.

The trigger rule: a committed *debit* (the card's ledger_seq moved and its balance fell) that
leaves an active card with auto-reload below its threshold calls for one auto-reload, keyed on
that debit's transaction. Credits never trigger (so an auto-reload cannot trigger another), and
switching auto-reload on while below the threshold waits for the next debit."""
from __future__ import annotations

from chalicelib.domain.cards import AutoReload, Card
from chalicelib.domain.errors import CardNotActive, LimitExceeded
from chalicelib.domain.ledger import tx_id_for
from chalicelib.domain.money import Money, require_currency
from chalicelib.domain.rules import MoneyLimits


def plan_settings(card: Card, threshold: Money, amount: Money, limits: MoneyLimits) -> AutoReload:
    """Validate auto-reload settings for `card`: its currency, a reload amount within the reload
    bounds, and room for one reload at the threshold under the balance cap."""
    require_currency(threshold, card.currency)
    require_currency(amount, card.currency)
    if card.status == "closed":
        raise CardNotActive(f"card {card.card_id} is closed")
    if not limits.reload_min <= amount.amount <= limits.reload_max:
        raise LimitExceeded(f"an auto-reload amount must be between {limits.reload_min} and {limits.reload_max} minor units")
    if threshold.amount + amount.amount > limits.balance_cap:
        raise LimitExceeded(f"threshold + amount must not exceed the balance cap of {limits.balance_cap} minor units")
    # Plain Money (not the request's PositiveMoney) so settings compare equal to the stored ones.
    return AutoReload(threshold=Money(amount=threshold.amount, currency=threshold.currency),
                      amount=Money(amount=amount.amount, currency=amount.currency))


def triggering_tx(before: Card | None, after: Card) -> str | None:
    """The id of the debit in this change of the card that calls for an auto-reload, or None."""
    if before is None or after.auto_reload is None or after.status != "active":
        return None
    if after.ledger_seq <= before.ledger_seq or after.balance >= before.balance:
        return None
    if after.balance >= after.auto_reload.threshold.amount:
        return None
    return tx_id_for(after.card_id, after.ledger_seq)


def still_due(card: Card) -> str | None:
    """Why `card` needs no auto-reload any more (settings removed, not active, topped up since),
    or None when it still does. Checked against the authoritative card just before reloading."""
    if card.auto_reload is None:
        return "auto_reload_off"
    if card.status != "active":
        return "card_not_active"
    if card.balance >= card.auto_reload.threshold.amount:
        return "above_threshold"
    return None
