"""Holds racing payments, captures and voids on one card, with real threads: what the card keeps
back and what it pays never add up to more than its balance, and a hold settles once."""
from __future__ import annotations

from collections import Counter

from tests.conftest import money, tokens
from tests.races.test_channel_races import race
from tests.reconciled import assert_reconciled


def _card(api, amount):
    ada = api.enrol()["member_id"]
    card = api.issue(ada)["card_id"]
    api.reload(card, amount)
    return ada, card


def _shown(api, card):
    shown = api.get(f"/v1/cards/{card}", tokens.pos()).json
    return shown["balance"]["amount"], shown["held"]["amount"], shown["available"]["amount"]


def test_holds_and_payments_racing_on_one_card_never_overcommit_it(api, drain):
    ada, card = _card(api, 10_000)
    owner = tokens.customer(ada, "app")
    holds = [lambda i=i: api.post(f"/v1/cards/{card}/holds", tokens.pos(f"S{i % 2 + 1}", f"T{i}"),
                                  {"amount": money(1_500)}) for i in range(6)]
    payments = [lambda i=i: api.pay(card, 1_000, owner if i % 2 else tokens.pos("S3", f"T{i}")) for i in range(6)]

    results = race([action for pair in zip(holds, payments) for action in pair])

    placed = [r.json for r in results[0::2] if r.status_code == 201]
    paid = [r.json for r in results[1::2] if r.status_code == 201]
    assert {r.json["code"] for r in results if r.status_code != 201} <= {"insufficient_funds"}
    committed = 1_500 * len(placed) + 1_000 * len(paid)
    assert committed <= 10_000
    assert 10_000 - committed < 1_500  # whatever lost could not have fit (a payment of 1,000 neither)
    assert _shown(api, card) == (10_000 - 1_000 * len(paid), 1_500 * len(placed), 10_000 - committed)
    assert_reconciled(drain=drain)


def test_captures_voids_payments_and_new_holds_racing_settle_each_hold_once(api, drain):
    ada, card = _card(api, 9_000)
    placed = [api.post(f"/v1/cards/{card}/holds", tokens.pos("S1"), {"amount": money(2_000)}).json for _ in range(3)]
    assert _shown(api, card) == (9_000, 6_000, 3_000)
    till = tokens.pos("S1", "T2")
    actions = []
    for hold in placed:  # each hold: two captures of different amounts and a void, at once
        hold_id = hold["hold_id"]
        actions += [lambda h=hold_id: api.post(f"/v1/holds/{h}/capture", till, {"amount": money(1_700)}),
                    lambda h=hold_id: api.post(f"/v1/holds/{h}/capture", tokens.pos("S1", "T3"), {}),
                    lambda h=hold_id: api.post(f"/v1/holds/{h}/void", tokens.agent())]
    actions += [lambda: api.pay(card, 2_500, tokens.pos("S2")),
                lambda: api.post(f"/v1/cards/{card}/holds", tokens.pos("S2"), {"amount": money(2_500)})]

    results = race(actions)

    for index, hold in enumerate(placed):
        outcomes = results[3 * index: 3 * index + 3]
        won = [r for r in outcomes if r.status_code in (200, 201)]
        assert len(won) == 1, [r.json for r in outcomes]  # captured once, or voided once
        assert Counter(r.json["code"] for r in outcomes if r not in won) == {"hold_not_active": 2}
        status = api.get(f"/v1/holds/{hold['hold_id']}", tokens.pos("S1")).json
        assert status["status"] == ("voided" if won[0].status_code == 200 else "captured")
    captured = sum(-r.json["amount"]["amount"] for r in results[:9] if r.status_code == 201)
    extra_paid = 2_500 if results[9].status_code == 201 else 0
    extra_held = 2_500 if results[10].status_code == 201 else 0
    assert {r.json["code"] for r in results[9:] if r.status_code >= 400} <= {"insufficient_funds"}
    balance, held, available = _shown(api, card)
    assert (balance, held) == (9_000 - captured - extra_paid, extra_held)
    assert available == balance - held >= 0
    assert_reconciled(drain=drain)
