"""Offline batches racing with real threads: the same batch sent twice at once, and a batch racing
online payments on the same cards. Each item is applied at most once, no card goes below zero, and
the ledger, the views and the stream's history reconcile afterwards."""
from __future__ import annotations

from datetime import datetime, timezone

from tests.conftest import money, tokens
from tests.races.test_channel_races import race
from tests.reconciled import assert_reconciled


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def _batch(cards: list[dict], count: int, amount: int) -> dict:
    return {"items": [{"item_key": f"sale-{i}", "card_number": cards[i % len(cards)]["card_number"],
                       "amount": money(amount), "occurred_at": _now()} for i in range(count)]}


def _offline_debits(api, card_ids):
    return [t for card_id in card_ids for t in api.ledger(card_id) if t["offline"]]


def test_the_same_batch_sent_from_two_threads_under_two_keys_applies_each_item_once(api, drain):
    member = api.enrol()["member_id"]
    cards = [api.issue(member), api.issue()]
    for card in cards:
        api.reload(card["card_id"], 5_000)
    body = _batch(cards, 12, 300)
    till = tokens.pos("S1", "T1")

    first, second = race([lambda: api.post("/v1/pos/batches", till, body),
                          lambda: api.post("/v1/pos/batches", till, body)])

    assert first.status_code == second.status_code == 200, (first.json, second.json)
    for one, other in zip(first.json["results"], second.json["results"]):
        assert sorted([one["status"], other["status"]]) == ["applied", "duplicate"], (one, other)
        assert one["transaction"] == other["transaction"]
    debits = _offline_debits(api, [c["card_id"] for c in cards])
    assert len(debits) == 12 and len({t["tx_id"] for t in debits}) == 12
    assert [api.balance(c["card_id"]) for c in cards] == [5_000 - 6 * 300] * 2
    assert_reconciled(drain=drain)


def test_the_same_batch_sent_twice_at_once_under_one_key_gives_both_the_same_answer(api, drain):
    card = api.issue()
    api.reload(card["card_id"], 5_000)
    body = _batch([card], 8, 250)
    till = tokens.pos("S1", "T1")

    first, second = race([lambda: api.post("/v1/pos/batches", till, body, key="batch-7"),
                          lambda: api.post("/v1/pos/batches", till, body, key="batch-7")])

    assert first.status_code == second.status_code == 200
    assert first.json == second.json
    assert {r["status"] for r in first.json["results"]} == {"applied"}
    assert api.balance(card["card_id"]) == 5_000 - 8 * 250
    assert_reconciled(drain=drain)


def test_a_batch_racing_online_payments_on_the_same_cards_never_overdraws_and_collects_what_was_left(api, drain):
    member = api.enrol()["member_id"]
    cards = [api.issue(member), api.issue()]
    for card in cards:
        api.reload(card["card_id"], 3_000)
    body = _batch(cards, 10, 400)  # 2,000 a card offline
    online = [lambda card=card, till=till: api.pay(card["card_id"], 700, till)
              for card in cards for till in (tokens.pos("S2", "T8"), tokens.pos("S3", "T9"))]

    batch, *payments = race([lambda: api.post("/v1/pos/batches", tokens.pos("S1", "T1"), body), *online])

    assert batch.status_code == 200, batch.json
    for card in cards:
        card_id = card["card_id"]
        paid_online = sum(700 for r in payments if r.status_code == 201 and r.json["card_id"] == card_id)
        results = [r for r in batch.json["results"] if r["transaction"] and r["transaction"]["card_id"] == card_id]
        collected = sum(-r["transaction"]["amount"]["amount"] for r in results)
        assert api.balance(card_id) == 3_000 - paid_online - collected >= 0
    for result in batch.json["results"]:
        taken = -result["transaction"]["amount"]["amount"] if result["transaction"] else 0
        assert taken + result["uncollected"]["amount"] == 400
    assert_reconciled(drain=drain)
