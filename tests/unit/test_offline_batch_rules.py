"""The pure rules of an offline batch: the order items are applied in, the occurred_at window, what
an item collects."""
from datetime import datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.batches import application_order, collectable, outcome, window_problem
from chalicelib.domain.rules import OfflineRules

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=timezone.utc)


def test_items_are_applied_oldest_first_and_ties_keep_the_order_sent():
    t = [NOW, NOW - timedelta(hours=1), NOW, NOW - timedelta(hours=2), NOW - timedelta(hours=1)]
    assert application_order(t) == [3, 1, 4, 0, 2]


@given(st.lists(st.integers(-10, 10), max_size=30))
def test_the_order_is_a_permutation_sorted_by_time_then_position(offsets):
    times = [NOW + timedelta(minutes=m) for m in offsets]
    order = application_order(times)
    assert sorted(order) == list(range(len(times)))
    assert [(times[i], i) for i in order] == sorted((t, i) for i, t in enumerate(times))


def test_the_window_is_seven_days_back_and_five_minutes_ahead_edges_included():
    rules = OfflineRules()
    assert window_problem(NOW - timedelta(days=7), NOW, rules) is None
    assert window_problem(NOW + timedelta(minutes=5), NOW, rules) is None
    assert "older than 7 days" in window_problem(NOW - timedelta(days=7, microseconds=1), NOW, rules)
    assert "in the future" in window_problem(NOW + timedelta(minutes=5, microseconds=1), NOW, rules)


def test_the_window_is_configuration():
    rules = OfflineRules(max_age_seconds=3_600, clock_skew_seconds=0)
    assert window_problem(NOW - timedelta(hours=2), NOW, rules) is not None
    assert window_problem(NOW + timedelta(seconds=1), NOW, rules) is not None


@given(amount=st.integers(1, 10**12), spendable=st.integers(-10**6, 10**12))
def test_an_item_collects_what_the_card_can_spend_never_more_and_never_below_zero(amount, spendable):
    collected = collectable(amount, spendable)
    assert 0 <= collected <= amount and collected <= max(spendable, 0)
    assert collected == amount or collected == max(spendable, 0)
    assert outcome(amount, collected) == ("applied" if collected == amount else "partial" if collected else "declined")
