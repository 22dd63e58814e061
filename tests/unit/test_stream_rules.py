"""The pure rules behind the stream side: when auto-reload triggers, how the report folds, event ids."""
import pytest

from chalicelib.domain import auto_reload as rules
from chalicelib.domain.cards import AutoReload, Card
from chalicelib.domain.errors import CardNotActive, CurrencyMismatch, LimitExceeded
from chalicelib.domain.events import change_event, event_id
from chalicelib.domain.ledger import tx_id_for
from chalicelib.domain.money import Money
from chalicelib.domain.reports import ReportRow, channel_report
from chalicelib.settings import MoneyLimits

LIMITS = MoneyLimits()


def usd(amount):
    return Money(amount=amount, currency="USD")


def card(balance, seq, status="active", threshold=1000, amount=2000):
    settings = AutoReload(threshold=usd(threshold), amount=usd(amount)) if threshold is not None else None
    return Card(card_id="crd_a", last4="1234", currency="USD", balance=balance, ledger_seq=seq, version=seq + 1,
                status=status, auto_reload=settings, created_at="2026-01-01T00:00:00.000Z",
                updated_at="2026-01-01T00:00:00.000Z")


@pytest.mark.parametrize("before, after, trigger", [
    (card(1500, 3), card(500, 4), tx_id_for("crd_a", 4)),                # a debit crossing the threshold
    (card(800, 3), card(500, 4), tx_id_for("crd_a", 4)),                 # a debit while already below
    (card(1500, 3), card(1000, 4), None),                            # at the threshold is not below
    (card(300, 3), card(800, 4), None),                              # a credit (reload, auto_reload, refund)
    (card(1500, 3), card(500, 3, status="frozen"), None),            # a state change, not a transaction
    (card(1500, 3, status="frozen"), card(500, 4, status="frozen"), None),  # transfer out of a frozen card
    (card(1500, 3, threshold=None), card(500, 4, threshold=None), None),   # auto-reload off
    (None, card(0, 0), None),                                        # a new card
])
def test_only_a_committed_debit_leaving_an_active_card_below_its_threshold_triggers(before, after, trigger):
    assert rules.triggering_tx(before, after) == trigger


def test_reload_is_no_longer_due_once_topped_up_switched_off_or_frozen():
    assert rules.still_due(card(500, 4)) is None
    assert rules.still_due(card(1000, 5)) == "above_threshold"
    assert rules.still_due(card(500, 4, threshold=None)) == "auto_reload_off"
    assert rules.still_due(card(500, 4, status="frozen")) == "card_not_active"


def test_settings_must_fit_the_reload_bounds_the_cap_and_the_cards_currency():
    assert rules.plan_settings(card(0, 0), usd(1000), usd(500), LIMITS) == AutoReload(threshold=usd(1000), amount=usd(500))
    with pytest.raises(LimitExceeded):
        rules.plan_settings(card(0, 0), usd(1000), usd(499), LIMITS)
    with pytest.raises(LimitExceeded):
        rules.plan_settings(card(0, 0), usd(LIMITS.balance_cap - 500 + 1), usd(500), LIMITS)
    with pytest.raises(CurrencyMismatch):
        rules.plan_settings(card(0, 0), Money(amount=1000, currency="EUR"), usd(500), LIMITS)
    with pytest.raises(CardNotActive):
        rules.plan_settings(card(0, 0, status="closed"), usd(1000), usd(500), LIMITS)


def _row(channel, store, kind, currency, count, amount, stars=0):
    return ReportRow(channel=channel, store_id=store, kind=kind, currency=currency, count=count, amount=amount, stars=stars)


def test_report_adds_stores_into_their_channel_and_keeps_currencies_apart():
    report = channel_report("2026-01-15", [
        _row("pos", "S1", "payment", "USD", 2, -900, 18), _row("pos", "S2", "payment", "USD", 1, -100, 2),
        _row("pos", "S2", "payment", "EUR", 1, -50), _row("pos", "S1", "purchase", "USD", 1, 1200, 12),
        _row("app", None, "reload", "USD", 3, 6000), _row("system", None, "stars_expired", None, 1, 0, -40),
    ], "2026-01-15T18:00:00.000Z")

    dumped = report.model_dump(mode="json")
    assert [c["channel"] for c in dumped["channels"]] == ["app", "pos", "system"]
    pos = dumped["channels"][1]
    assert pos["kinds"] == [
        {"kind": "payment", "count": 4, "totals": [{"amount": -50, "currency": "EUR"}, {"amount": -1000, "currency": "USD"}],
         "stars": 20},
        {"kind": "purchase", "count": 1, "totals": [{"amount": 1200, "currency": "USD"}], "stars": 12}]
    assert [s["store_id"] for s in pos["stores"]] == ["S1", "S2"]
    assert pos["stores"][1]["kinds"][0]["count"] == 2
    assert dumped["channels"][0]["stores"] == []
    assert dumped["channels"][2]["kinds"] == [{"kind": "stars_expired", "count": 1, "totals": [], "stars": -40}]


def test_event_id_is_stable_for_a_change_and_distinct_between_changes():
    assert event_id("CARD#crd_a", "CARD", 3) == event_id("CARD#crd_a", "CARD", 3)
    assert len({event_id("CARD#crd_a", "CARD", 3), event_id("CARD#crd_a", "CARD", 4),
                event_id("CARD#crd_b", "CARD", 3), event_id("CARD#crd_a", "TX#000000000003", 3)}) == 4
    event = change_event("card.updated", "CARD#crd_a", "CARD", 3, {"card_id": "crd_a"})
    assert event.detail == {"card_id": "crd_a", "event_id": event.event_id}
