"""Property: any sequence of reloads, payments and transfers keeps every balance within
[0, cap], equal to the sum of its ledger, and the total moves only by reloads minus payments."""
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import money, tokens

CAP = 100_000
CARDS = 3

operation = st.one_of(
    st.tuples(st.just("reload"), st.integers(0, CARDS - 1), st.integers(1, 60_000)),
    st.tuples(st.just("pay"), st.integers(0, CARDS - 1), st.integers(1, 60_000)),
    st.tuples(st.just("transfer"), st.integers(0, CARDS - 1), st.integers(0, CARDS - 1),
              st.one_of(st.none(), st.integers(0, 60_000))),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(operation, min_size=1, max_size=12))
def test_balances_stay_within_bounds_and_equal_their_ledgers(api, operations):
    cards = [api.issue()["card_id"] for _ in range(CARDS)]
    expected_total = 0
    for op in operations:
        if op[0] == "reload":
            response = api.reload(cards[op[1]], op[2])
            if response.status_code == 201:
                expected_total += op[2]
        elif op[0] == "pay":
            response = api.pay(cards[op[1]], op[2])
            if response.status_code == 201:
                expected_total -= op[2]
        else:
            body = {"to_card_id": cards[op[2]]}
            if op[3] is not None:
                body["amount"] = money(op[3])
            response = api.post(f"/v1/cards/{cards[op[1]]}/transfers", tokens.agent(), body)
        assert response.status_code in (201, 409, 422), response.json
    balances = [api.balance(card) for card in cards]
    for card, balance in zip(cards, balances):
        assert 0 <= balance <= CAP
        assert balance == sum(entry["amount"]["amount"] for entry in api.ledger(card))
    assert sum(balances) == expected_total
