"""Star rules as pure functions: earning, rounding, expiry boundaries, tiers, spending, take-back."""
from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain import stars
from chalicelib.domain.errors import InsufficientStars
from chalicelib.domain.stars import StarRules

UTC = timezone.utc
RULES = StarRules()


def at(*args):
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize("amount,rate,gold,expected", [
    (100, 2, False, 2), (149, 2, False, 2), (150, 2, False, 3), (99, 1, False, 0), (1999, 1, False, 19),
    (100, 2, True, 2), (500, 2, True, 12), (1234, 2, True, 29), (1, 2, True, 0), (0, 2, False, 0),
])
def test_stars_round_down_once_per_transaction_with_gold_multiplying_the_rate_first(amount, rate, gold, expected):
    assert stars.stars_for(amount, rate, gold, RULES) == expected


@pytest.mark.parametrize("earned_at,expires_at", [
    (at(2026, 1, 15), "2026-08-01T00:00:00.000Z"),
    (at(2026, 1, 1, 0, 0, 0), "2026-08-01T00:00:00.000Z"),
    (at(2026, 1, 31, 23, 59, 59), "2026-08-01T00:00:00.000Z"),
    (at(2026, 8, 31), "2027-03-01T00:00:00.000Z"),
    (at(2027, 8, 31), "2028-03-01T00:00:00.000Z"),
    (at(2026, 12, 31, 23, 59, 59), "2027-07-01T00:00:00.000Z"),
])
def test_stars_expire_at_the_end_of_the_sixth_calendar_month_after_earning(earned_at, expires_at):
    assert stars.expiry_of(earned_at, RULES) == expires_at


def test_stars_earned_in_a_leap_february_expire_after_august():
    assert stars.expiry_of(at(2028, 2, 29, 12), RULES) == "2028-09-01T00:00:00.000Z"


def test_stars_are_spendable_until_the_last_second_of_the_sixth_month_and_gone_at_its_end():
    lots = {stars.expiry_of(at(2026, 1, 10), RULES): 40}
    last_second = at(2026, 7, 31, 23, 59, 59)
    assert stars.available(lots, last_second) == 40
    assert stars.available(lots, at(2026, 8, 1)) == 0
    assert stars.spend(lots, 40, last_second) == {}
    with pytest.raises(InsufficientStars):
        stars.spend(lots, 1, at(2026, 8, 1))


def test_a_non_utc_programme_expires_at_its_own_midnight():
    tokyo = StarRules(timezone="Asia/Tokyo")
    # 2026-01-31 20:00 UTC is already February 1st in Tokyo: a February earning.
    assert stars.expiry_of(at(2026, 1, 31, 20), tokyo) == "2026-08-31T15:00:00.000Z"
    assert stars.expiry_of(at(2026, 1, 31, 14, 59), tokyo) == "2026-07-31T15:00:00.000Z"
    new_york = StarRules(timezone="America/New_York")
    # Earned 2026-01-10 in New York → gone at 2026-08-01 00:00 EDT = 04:00 UTC.
    lots = {stars.expiry_of(at(2026, 1, 10, 15), new_york): 10}
    assert lots == {"2026-08-01T04:00:00.000Z": 10}
    assert stars.available(lots, at(2026, 8, 1, 3, 59, 59)) == 10
    assert stars.available(lots, at(2026, 8, 1, 4)) == 0


def test_unknown_programme_zone_is_refused_at_start_up():
    with pytest.raises(ValueError, match="unknown time zone"):
        StarRules(timezone="Mars/Olympus")


def test_gold_takes_500_stars_earned_in_the_trailing_twelve_months():
    now = at(2026, 12, 10)
    assert stars.tier({"2026-12": 499}, now, RULES) == "green"
    assert stars.tier({"2026-12": 250, "2026-01": 250}, now, RULES) == "gold"
    assert stars.tier({"2026-12": 250, "2025-12": 250}, now, RULES) == "green"
    assert stars.tier({"2026-01": 500}, at(2027, 1, 1), RULES) == "green"


def test_spending_takes_the_earliest_expiring_live_lots_first():
    lots = {"2026-03-01T00:00:00.000Z": 10, "2026-05-01T00:00:00.000Z": 30, "2026-02-01T00:00:00.000Z": 5}
    now = at(2026, 2, 15)  # the February lot has already expired
    assert stars.available(lots, now) == 40
    assert stars.spend(lots, 25, now) == {"2026-02-01T00:00:00.000Z": 5, "2026-05-01T00:00:00.000Z": 15}


def test_take_back_prefers_the_payments_own_lot_and_never_goes_below_zero():
    lots = {"2026-03-01T00:00:00.000Z": 10, "2026-05-01T00:00:00.000Z": 30}
    now = at(2026, 1, 20)
    after, taken = stars.take_back(lots, 15, now, prefer="2026-03-01T00:00:00.000Z")
    assert (after, taken) == ({"2026-05-01T00:00:00.000Z": 25}, 15)
    after, taken = stars.take_back({"2026-03-01T00:00:00.000Z": 4}, 15, now, prefer=None)
    assert (after, taken) == ({}, 4)


def test_lapse_writes_off_only_expired_lots():
    lots = {"2026-03-01T00:00:00.000Z": 10, "2026-05-01T00:00:00.000Z": 30}
    assert stars.lapse(lots, at(2026, 3, 1)) == ({"2026-05-01T00:00:00.000Z": 30}, 10)
    assert stars.lapse(lots, at(2026, 2, 28)) == (lots, 0)


@given(earned=st.integers(0, 10_000), paid=st.integers(1, 100_000), data=st.data())
def test_partial_refunds_take_back_exactly_what_the_payment_earned(earned, paid, data):
    cuts = sorted(data.draw(st.lists(st.integers(1, paid), max_size=6)))
    refunds = [b - a for a, b in zip([0, *cuts], [*cuts, paid]) if b > a]
    refunded = taken = 0
    for part in refunds:
        step = stars.refund_take_back(earned, paid, refunded, part)
        assert step >= 0
        taken += step
        refunded += part
        assert taken <= earned
    assert taken == earned


def test_rules_validate_rewards_and_rates():
    with pytest.raises(ValueError):
        StarRules(rewards=[{"reward_id": "a", "name": "A", "stars": 5}, {"reward_id": "a", "name": "B", "stars": 6}])
    with pytest.raises(ValueError):
        StarRules(payment_rate=-1)
    assert [r.stars for r in RULES.rewards] == [25, 100, 200, 300, 400]
    assert stars.expiring({"2026-03-01T00:00:00.000Z": 1, "2026-05-01T00:00:00.000Z": 2,
                           "2026-04-01T00:00:00.000Z": 3, "2026-06-01T00:00:00.000Z": 4},
                          at(2026, 1, 1), RULES) == [(1, "2026-03-01T00:00:00.000Z"), (3, "2026-04-01T00:00:00.000Z"),
                                                     (2, "2026-05-01T00:00:00.000Z")]


def test_a_refund_takes_its_stars_out_of_its_payment_months_tally_never_below_zero():
    paid_at = datetime(2026, 3, 10, tzinfo=timezone.utc)
    earned = {"2026-02": 300, "2026-03": 500}
    assert stars.unearn(earned, 200, paid_at, RULES) == {"2026-02": 300, "2026-03": 300}
    assert stars.unearn(earned, 900, paid_at, RULES) == {"2026-02": 300}
    assert stars.unearn(earned, 50, datetime(2025, 1, 5, tzinfo=timezone.utc), RULES) == earned  # out of the tally
    assert stars.tier(stars.unearn({"2026-03": 500}, 1, paid_at, RULES), paid_at, RULES) == "green"
