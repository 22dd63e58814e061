"""The card's money rules as pure functions: no DynamoDB here."""
import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain import cards as rules
from chalicelib.domain.cards import Card
from chalicelib.domain.errors import CardNotActive, CurrencyMismatch, InsufficientFunds, LimitExceeded, ValidationFailed
from chalicelib.domain.money import Money
from datetime import datetime, timedelta, timezone

from chalicelib.settings import AbuseLimits, MoneyLimits, Rules, SettingsError, load_rules

LIMITS = MoneyLimits()
RULES = Rules()
NOW = datetime(2026, 3, 10, 14, 30, tzinfo=timezone.utc)


def card(balance=0, status="active", currency="USD", card_id="crd_a"):
    return Card(card_id=card_id, last4="1234", currency=currency, balance=balance, status=status,
                created_at="2026-01-01T00:00:00.000Z", updated_at="2026-01-01T00:00:00.000Z")


def usd(amount):
    return Money(amount=amount, currency="USD")


@pytest.mark.parametrize("amount", [500, 50_000])
def test_reload_bounds_are_inclusive(amount):
    assert rules.plan_reload(card(), usd(amount), RULES, NOW).balance_after == amount


@pytest.mark.parametrize("amount", [499, 50_001])
def test_reload_outside_bounds_is_limit_exceeded(amount):
    with pytest.raises(LimitExceeded):
        rules.plan_reload(card(), usd(amount), RULES, NOW)


def test_reload_to_exactly_the_cap_is_allowed_and_one_cent_more_is_not():
    assert rules.plan_reload(card(99_500), usd(500), RULES, NOW).balance_after == 100_000
    with pytest.raises(LimitExceeded):
        rules.plan_reload(card(99_501), usd(500), RULES, NOW)


def test_frozen_card_neither_reloads_nor_pays():
    with pytest.raises(CardNotActive):
        rules.plan_reload(card(status="frozen"), usd(500), RULES, NOW)
    with pytest.raises(CardNotActive):
        rules.plan_payment(card(1000, status="frozen"), usd(1), NOW)


def test_payment_of_the_whole_balance_leaves_zero_and_one_more_cent_is_refused():
    assert rules.plan_payment(card(1000), usd(1000), NOW).balance_after == 0
    with pytest.raises(InsufficientFunds):
        rules.plan_payment(card(1000), usd(1001), NOW)


def test_money_in_another_currency_is_refused():
    with pytest.raises(CurrencyMismatch):
        rules.plan_payment(card(1000), Money(amount=1, currency="EUR"), NOW)


def test_transfer_defaults_to_the_whole_balance_and_works_from_a_frozen_card():
    out, into = rules.plan_transfer(card(700, status="frozen"), card(0, card_id="crd_b"), None, LIMITS, NOW)
    assert (out.delta, into.delta, out.require_active, into.require_active) == (-700, 700, False, True)


def test_transfer_refusals():
    with pytest.raises(InsufficientFunds):
        rules.plan_transfer(card(0), card(card_id="crd_b"), None, LIMITS, NOW)
    with pytest.raises(ValidationFailed):
        rules.plan_transfer(card(100), card(100), None, LIMITS, NOW)
    with pytest.raises(CardNotActive):
        rules.plan_transfer(card(100), card(card_id="crd_b", status="frozen"), None, LIMITS, NOW)
    with pytest.raises(CurrencyMismatch):
        rules.plan_transfer(card(100), card(card_id="crd_b", currency="EUR"), None, LIMITS, NOW)
    with pytest.raises(LimitExceeded):
        rules.plan_transfer(card(100), card(99_950, card_id="crd_b"), None, LIMITS, NOW)


@given(st.integers(min_value=0, max_value=100_000), st.integers(min_value=1, max_value=200_000))
def test_a_payment_plan_never_goes_below_zero(balance, amount):
    try:
        change = rules.plan_payment(card(balance), usd(amount), NOW)
    except InsufficientFunds:
        assert amount > balance
    else:
        assert change.balance_after == balance - amount >= 0


def test_card_numbers_are_sixteen_digits_with_a_valid_luhn_digit():
    for _ in range(50):
        number = rules.new_card_number()
        digits = [int(d) for d in number]
        assert len(number) == 16 and rules.luhn_check_digit(digits[:-1]) == digits[-1]
    assert rules.mask("4321") == "************4321"


def test_money_refuses_floats_strings_and_bad_currencies():
    for value in ({"amount": 1.0}, {"amount": "1"}, {"amount": 1, "currency": "usd"}, {"amount": True}):
        with pytest.raises(ValueError):
            Money.model_validate(value)


def test_rules_file_errors_name_the_field(tmp_path):
    path = tmp_path / "rules.json"
    path.write_text('{"money": {"reload_min": "five"}}')
    with pytest.raises(SettingsError, match="money.reload_min"):
        load_rules(str(path))
    path.write_text('{"money": {"reload_min": 600, "reload_max": 500}}')
    with pytest.raises(SettingsError, match="reload_min must not exceed reload_max"):
        load_rules(str(path))
    assert load_rules(None) == Rules()


def _reloaded(card_, amount, now):
    change = rules.plan_reload(card_, usd(amount), RULES, now)
    return card_.model_copy(update={"balance": change.balance_after, **change.updates})


def test_the_tenth_reload_in_an_hour_passes_and_the_eleventh_is_refused_until_the_next_hour():
    current = card()
    for _ in range(10):
        current = _reloaded(current, 500, NOW)
    with pytest.raises(LimitExceeded, match="reloads per card per hour"):
        rules.plan_reload(current, usd(500), RULES, NOW + timedelta(minutes=29))
    assert rules.plan_reload(current, usd(500), RULES, NOW + timedelta(minutes=30)).updates["reloads_in_hour"] == 1


def test_daily_reload_amount_is_inclusive_and_resets_at_the_programmes_midnight():
    strict = RULES.model_copy(update={"limits": AbuseLimits(reload_amount_per_card_per_day=1000)})
    current = card()
    change = rules.plan_reload(current, usd(1000), strict, NOW)
    current = current.model_copy(update={"balance": change.balance_after, **change.updates})
    with pytest.raises(LimitExceeded, match="per card per day"):
        rules.plan_reload(current, usd(500), strict, NOW.replace(hour=23, minute=59))
    assert rules.plan_reload(current, usd(500), strict, NOW + timedelta(days=1)).updates["reloaded_in_day"] == 500


def _holding(balance, *holds):
    """A card of `balance` with holds of (amount, seconds from NOW until they expire)."""
    stamp = lambda seconds: (NOW + timedelta(seconds=seconds)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return card(balance).model_copy(update={"holds": {str(n): rules.CardHold(amount=a, expires_at=stamp(s))
                                                      for n, (a, s) in enumerate(holds, 1)}, "hold_seq": len(holds)})


def test_available_is_the_balance_less_unexpired_holds_and_an_expired_hold_stops_counting_at_its_second():
    held = _holding(10_000, (3_000, 60), (2_000, 0), (500, -1))
    assert (rules.held(held, NOW), rules.spendable(held, NOW)) == (3_000, 7_000)
    assert rules.spendable(held, NOW + timedelta(seconds=60)) == 10_000


def test_payments_and_transfers_spend_available_and_writes_prune_expired_holds():
    held = _holding(10_000, (3_000, 60), (2_000, -5))
    with pytest.raises(InsufficientFunds):
        rules.plan_payment(held, usd(7_001), NOW)
    change = rules.plan_payment(held, usd(7_000), NOW)
    assert change.balance_after == 3_000 and set(change.updates["holds"]) == {"1"}
    out, _ = rules.plan_transfer(held, card(card_id="crd_b"), None, LIMITS, NOW)
    assert out.delta == -7_000


def test_a_capture_takes_at_most_its_hold_and_releases_the_rest():
    from chalicelib.domain import holds
    from chalicelib.domain.errors import HoldNotActive
    base = _holding(10_000)
    plan = holds.plan_hold(base, usd(4_000), 600, NOW, max_open=20, channel="pos", actor="pos:S1", store_id="S1",
                           order_ref=None)
    held = base.model_copy(update={"holds": {k: rules.CardHold(**v) for k, v in plan.card_updates["holds"].items()},
                                   "hold_seq": 1})
    assert rules.spendable(held, NOW) == 6_000
    with pytest.raises(LimitExceeded):
        holds.plan_capture(held, plan.record, usd(4_001), NOW)
    capture = holds.plan_capture(held, plan.record, usd(3_500), NOW)
    assert capture.delta == -3_500 and capture.updates == {"holds": {}}
    with pytest.raises(HoldNotActive):
        holds.plan_capture(held, plan.record, None, NOW + timedelta(seconds=600))
    with pytest.raises(CardNotActive):
        holds.plan_capture(held.model_copy(update={"status": "frozen"}), plan.record, None, NOW)


def test_hold_ids_are_opaque_and_never_open_as_transaction_ids():
    from chalicelib.domain import holds
    from chalicelib.domain.ledger import parse_tx_id
    hold_id = holds.hold_id_for("crd_0123456789abcdef0123", 7)
    assert "0123456789abcdef" not in hold_id and holds.parse_hold_id(hold_id) == ("crd_0123456789abcdef0123", 7)
    assert parse_tx_id("tx_" + hold_id[4:]) is None and holds.parse_hold_id(hold_id + "A") is None
