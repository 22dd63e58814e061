"""DynamoDB round trips per operation, counted at the botocore layer of the app's own client:
a value move is one read of everything its plan needs and one TransactWriteItems (a hold, its
capture and its void too: a capture costs no more than a payment); a read is one call — a card
read includes its member's loyalty in that call once the process knows the card's member. (Staff reads also file an audit record, a write by design: reads here go through a till.)"""
from __future__ import annotations

from collections import Counter
from typing import Any, Callable

import pytest

from chalicelib.store.client import dynamodb
from tests.conftest import money, tokens

VALUE_MOVE, READ = 2, 1


@pytest.fixture
def calls(aws):
    """Counts every DynamoDB API call the app makes (botocore's own retries are not new calls)."""
    counted: Counter[str] = Counter()

    def count(model: Any, **_: Any) -> None:
        counted[model.name] += 1

    client = dynamodb()
    client.meta.events.register("provide-client-params.dynamodb", count)
    yield counted
    client.meta.events.unregister("provide-client-params.dynamodb", count)


@pytest.fixture
def world(api):
    member = api.enrol()["member_id"]
    card = api.issue(member)
    other = api.issue(member)["card_id"]
    api.reload(card["card_id"], 40_000)
    paid = api.pay(card["card_id"], 3_000, tokens.pos("S1")).json
    holds = [api.post(f"/v1/cards/{card['card_id']}/holds", tokens.pos("S1"), {"amount": money(1_000)}).json["hold_id"]
             for _ in range(2)]
    return {"member": member, "card": card["card_id"], "number": card["card_number"], "other": other,
            "payment": paid["tx_id"], "hold": holds[0], "spare_hold": holds[1]}


def _operations(api, w) -> dict[str, tuple[int, Callable[[], Any]]]:
    owner = tokens.customer(w["member"])
    return {
        "reload": (VALUE_MOVE, lambda: api.reload(w["card"], 1_000, tokens.pos())),
        "payment with stars": (VALUE_MOVE, lambda: api.pay(w["card"], 500, tokens.pos("S1"))),
        "transfer": (VALUE_MOVE, lambda: api.post(f"/v1/cards/{w['card']}/transfers", owner,
                                                  {"to_card_id": w["other"], "amount": money(700)})),
        "redemption": (VALUE_MOVE, lambda: api.post(f"/v1/members/{w['member']}/redemptions", tokens.pos(),
                                                    {"reward_id": "rw_25"})),
        "refund": (VALUE_MOVE, lambda: api.post(f"/v1/transactions/{w['payment']}/refunds", tokens.pos("S1"),
                                                {"amount": money(1_000)})),
        "hold": (VALUE_MOVE, lambda: api.post(f"/v1/cards/{w['card']}/holds", tokens.pos("S1"),
                                              {"amount": money(500)})),
        "capture with stars": (VALUE_MOVE, lambda: api.post(f"/v1/holds/{w['hold']}/capture", tokens.pos("S1"),
                                                            {"amount": money(800)})),
        "void": (VALUE_MOVE, lambda: api.post(f"/v1/holds/{w['spare_hold']}/void", tokens.pos("S1"), {})),
        "hold read": (READ, lambda: api.get(f"/v1/holds/{w['hold']}", tokens.pos("S1"))),
        "balance read": (READ, lambda: api.get(f"/v1/cards/{w['card']}", tokens.pos())),
        "card by number": (READ, lambda: api.get(f"/v1/cards?number={w['number']}", tokens.pos())),
        "transactions page": (READ, lambda: api.get(f"/v1/cards/{w['card']}/transactions?limit=5", tokens.pos())),
    }


@pytest.mark.parametrize("operation", ["reload", "payment with stars", "transfer", "redemption", "refund",
                                       "hold", "capture with stars", "void", "hold read",
                                       "balance read", "card by number", "transactions page"])
def test_each_operation_stays_within_its_round_trips(api, world, calls, operation):
    most, act = _operations(api, world)[operation]
    calls.clear()

    response = act()

    assert response.status_code in (200, 201), response.json
    assert sum(calls.values()) <= most, f"{operation}: {dict(calls)}"


@pytest.mark.parametrize("size", [1, 10, 100])
def test_an_offline_batch_costs_one_write_per_item_and_reads_that_do_not_grow_per_item(api, clock, calls, size):
    """A batch of N items: N TransactWriteItems (one per item, each atomic on its own) and one Put of
    the first response; its reads are the plan's BatchGetItems (100 keys each: N item records, the
    cards, their members and the key's record), plus one for members this process has not seen."""
    from chalicelib.store import cards as card_store

    member = api.enrol()["member_id"]
    cards = [api.issue(member if i % 2 else None) for i in range(5)]
    for card in cards:
        api.reload(card["card_id"], 50_000)
    card_store._MEMBER_OF_CARD.clear()  # a fresh Lambda instance: members read apart
    items = [{"item_key": f"item-{i}", "card_number": cards[i % 5]["card_number"], "amount": money(7),
              "occurred_at": "2026-01-15T11:00:00Z"} for i in range(size)]
    calls.clear()

    response = api.post("/v1/pos/batches", tokens.pos("S1"), {"items": items})

    assert response.status_code == 200 and {r["status"] for r in response.json["results"]} == {"applied"}
    keys = size + min(size, 5) + 1
    assert calls["TransactWriteItems"] == size and calls["PutItem"] == 1, dict(calls)
    assert calls["BatchGetItem"] <= -(-keys // 100) + 1, dict(calls)
    assert sum(calls.values()) == calls["TransactWriteItems"] + calls["PutItem"] + calls["BatchGetItem"], dict(calls)
