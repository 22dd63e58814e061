"""Property: for any sequence of earnings, redemptions, refunds and clock moves, the member's stars
match an independent model of lots, never go negative, equal the sum of the member's star ledger
entries once expiry has run, and partial refunds never take back more than a payment earned."""
from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib import clock as clock_module
from chalicelib.services import stars as star_service
from chalicelib.store.members import get_member, member_entries
from tests.conftest import money, tokens

START = datetime(2026, 1, 15, 12, 0, tzinfo=timezone.utc)
REWARDS = {"rw_25": 25, "rw_100": 100}

step = st.one_of(
    st.tuples(st.just("pay"), st.integers(100, 20_000)),
    st.tuples(st.just("purchase"), st.integers(100, 20_000)),
    st.tuples(st.just("redeem"), st.sampled_from(sorted(REWARDS))),
    st.tuples(st.just("refund"), st.integers(0, 9), st.integers(1, 20_000)),
    st.tuples(st.just("advance"), st.integers(1, 120)),
)


def expiry(moment):
    """Independent oracle: the first instant of the seventh month after the earning month (UTC)."""
    index = moment.year * 12 + moment.month - 1 + 7
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=timezone.utc)


class Model:
    def __init__(self):
        self.lots = []  # [expires_at, remaining]
        self.earned_by_month = {}

    def available(self, now):
        return sum(r for at, r in self.lots if at > now)

    def earn(self, amount, rate, now):
        """Stars for spending `amount` at `rate`: one rounding, gold (500+ in 12 months) × 1.2."""
        month = (now.year, now.month)
        window = {(((now.year * 12 + now.month - 1) - b) // 12, ((now.year * 12 + now.month - 1) - b) % 12 + 1)
                  for b in range(12)}
        gold = sum(v for m, v in self.earned_by_month.items() if m in window) >= 500
        return (amount * rate * 12 // 1000 if gold else amount * rate // 100), month

    def add(self, stars, now, month):
        self.earned_by_month[month] = self.earned_by_month.get(month, 0) + stars
        at = expiry(now)
        for lot in self.lots:
            if lot[0] == at:
                lot[1] += stars
                return
        self.lots.append([at, stars])

    def spend(self, stars, now):
        for lot in sorted(self.lots):
            if lot[0] > now and stars:
                part = min(stars, lot[1])
                lot[1] -= part
                stars -= part

    def take_back(self, stars, now, prefer):
        stars = min(stars, self.available(now))
        taken = stars
        order = sorted(self.lots, key=lambda lot: (lot[0] != prefer, -lot[0].timestamp()))
        for lot in order:
            if lot[0] > now and stars:
                part = min(stars, lot[1])
                lot[1] -= part
                stars -= part
        return taken

    def unearn(self, stars, month):
        """A refund's stars leave the tier tally, spent or not."""
        if month in self.earned_by_month:
            self.earned_by_month[month] = max(0, self.earned_by_month[month] - stars)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(step, min_size=1, max_size=14))
def test_stars_match_the_model_and_the_ledger(api, steps):
    clock = clock_module.FixedClock(START)
    clock_module.use_clock(clock)
    try:
        _run(api, clock, steps)
    finally:
        clock_module.use_clock(clock_module.SystemClock())


def _run(api, clock, steps):
    member_id = api.enrol()["member_id"]
    card_id = api.issue(member_id)["card_id"]
    for _ in range(2):
        api.reload(card_id, 50_000)
    model, payments = Model(), []  # payments: [tx_id, paid, refunded, earned, taken, expires_at, month]
    for op in steps:
        now = clock.now()
        if op[0] in ("pay", "purchase"):
            rate = 2 if op[0] == "pay" else 1
            stars, month = model.earn(op[1], rate, now)
            if op[0] == "pay":
                response = api.pay(card_id, op[1])
            else:
                response = api.post(f"/v1/members/{member_id}/purchases", tokens.pos(),
                                    {"amount": money(op[1]), "tender": "cash"})
            if response.status_code == 201:
                assert response.json["stars"] == stars
                model.add(stars, now, month)
                if op[0] == "pay":
                    payments.append([response.json["tx_id"], op[1], 0, stars, 0, expiry(now), month])
            else:
                assert response.json["code"] == "insufficient_funds"
        elif op[0] == "redeem":
            response = api.post(f"/v1/members/{member_id}/redemptions", tokens.pos(), {"reward_id": op[1]})
            if model.available(now) >= REWARDS[op[1]]:
                assert response.status_code == 201, response.json
                model.spend(REWARDS[op[1]], now)
            else:
                assert response.json["code"] == "insufficient_stars"
        elif op[0] == "refund" and payments:
            payment = payments[op[1] % len(payments)]
            part = min(op[2], payment[1] - payment[2]) or op[2]
            response = api.post(f"/v1/transactions/{payment[0]}/refunds", tokens.agent(), {"amount": money(part)})
            if payment[2] + part > payment[1]:
                assert response.json["code"] == "already_refunded"
                continue
            assert response.status_code == 201, response.json
            due = payment[3] * (payment[2] + part) // payment[1] - payment[3] * payment[2] // payment[1]
            taken = model.take_back(due, now, payment[5])
            model.unearn(due, payment[6])
            assert (-response.json["stars"], response.json["stars_shortfall"]) == (taken, due - taken)
            payment[2] += part
            payment[4] += due
            assert payment[4] <= payment[3]
        elif op[0] == "advance":
            clock.advance(timedelta(days=op[1]))
        shown = api.get(f"/v1/members/{member_id}", tokens.agent()).json["stars"]
        assert shown == model.available(clock.now()) >= 0
    star_service.expire_due_stars()
    member = get_member(member_id)
    card_entries = api.ledger(card_id)
    ledger_total = sum(e.stars for e in member_entries(member_id)) + sum(e["stars"] for e in card_entries)
    assert member.stars == sum(member.lots.values()) == member.stars_now(clock.now()) == ledger_total >= 0
