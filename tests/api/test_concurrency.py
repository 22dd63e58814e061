"""Races over the HTTP surface with real threads: the balance conditions hold."""
import threading

from tests.conftest import tokens


def _race(count, action):
    results = [None] * count
    barrier = threading.Barrier(count)

    def run(index):
        barrier.wait()
        results[index] = action(index)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_thirty_parallel_payments_from_fifty_dollars_let_exactly_ten_through(api):
    card = api.issue()
    api.reload(card["card_id"], 5000)
    results = _race(30, lambda i: api.pay(card["card_id"], 500, tokens.pos("S1", f"T{i}")))
    codes = [r.status_code for r in results]
    assert codes.count(201) == 10
    assert [r.json["code"] for r in results if r.status_code != 201] == ["insufficient_funds"] * 20
    ledger = api.ledger(card["card_id"])
    assert api.balance(card["card_id"]) == 0 == sum(t["amount"]["amount"] for t in ledger)
    assert sorted(t["balance_after"]["amount"] for t in ledger if t["kind"] == "payment") == list(range(0, 5000, 500))


def test_two_whole_balance_transfers_out_of_one_card_move_money_once(api):
    source, left, right = api.issue(), api.issue(), api.issue()
    api.reload(source["card_id"], 3000)
    targets = [left["card_id"], right["card_id"]]
    results = _race(2, lambda i: api.post(f"/v1/cards/{source['card_id']}/transfers", tokens.agent(),
                                          {"to_card_id": targets[i]}))
    assert sorted(r.status_code for r in results) == [201, 409]
    balances = [api.balance(c) for c in (source["card_id"], *targets)]
    assert balances[0] == 0 and sorted(balances[1:]) == [0, 3000]


def test_reloads_racing_the_cap_never_exceed_it(api):
    card = api.issue()
    assert api.reload(card["card_id"], 50_000).status_code == 201
    assert api.reload(card["card_id"], 40_000).status_code == 201
    results = _race(10, lambda i: api.reload(card["card_id"], 5000))
    assert [r.status_code for r in results].count(201) == 2
    assert api.balance(card["card_id"]) == 100_000
