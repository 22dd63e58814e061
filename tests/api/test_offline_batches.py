"""POST /v1/pos/batches: an offline till's sales, applied oldest first, each once per item_key."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from chalicelib.store import keys
from chalicelib.store.reads import get_items
from tests.conftest import money, tokens

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=timezone.utc)
BATCHES = "/v1/pos/batches"


def at(delta: timedelta = timedelta(0)) -> str:
    return (NOW + delta).isoformat().replace("+00:00", "Z")


def sale(key: str, card: dict, amount: int, occurred: timedelta = -timedelta(hours=1), **extra) -> dict:
    which = {"card_id": card["card_id"]} if "by_id" in extra and extra.pop("by_id") else {"card_number": card["card_number"]}
    return {"item_key": key, **which, "amount": money(amount), "occurred_at": at(occurred), **extra}


def send(api, items, token=None, **kwargs):
    return api.post(BATCHES, token or tokens.pos("S1"), {"items": items}, **kwargs)


@pytest.fixture
def member_card(api, clock):
    member = api.enrol()["member_id"]
    card = api.issue(member)
    api.reload(card["card_id"], 10_000)
    return card


@pytest.fixture
def gift_card(api, clock):
    card = api.issue(token=tokens.pos("S1"))
    api.reload(card["card_id"], 2_000)
    return card


def statuses(response):
    return [(r["item_key"], r["status"]) for r in response.json["results"]]


def test_a_batch_pays_each_sale_at_the_tills_store_offline_with_its_time_and_stars(api, member_card):
    response = send(api, [sale("s-1", member_card, 1_500, order_ref="o-1"), sale("s-2", member_card, 500, by_id=True)])

    assert response.status_code == 200, response.json
    first, second = response.json["results"]
    assert (first["status"], second["status"]) == ("applied", "applied")
    tx = first["transaction"]
    assert tx["kind"] == "payment" and tx["amount"] == money(-1_500) and tx["channel"] == "pos"
    assert tx["store_id"] == "S1" and tx["offline"] is True and tx["occurred_at"] == "2026-01-15T11:00:00.000Z"
    assert tx["stars"] == 30 and first["uncollected"] == money(0) and first["problem"] is None
    assert api.balance(member_card["card_id"]) == 8_000
    assert {t["tx_id"] for t in api.ledger(member_card["card_id"]) if t["offline"]} == {tx["tx_id"], second["transaction"]["tx_id"]}


def test_a_card_that_cannot_cover_a_sale_pays_what_it_has_and_never_goes_negative(api, gift_card):
    response = send(api, [sale("a", gift_card, 1_500), sale("b", gift_card, 800), sale("c", gift_card, 100)])

    a, b, c = response.json["results"]
    assert (a["status"], a["uncollected"]) == ("applied", money(0))
    assert (b["status"], b["transaction"]["amount"], b["uncollected"]) == ("partial", money(-500), money(300))
    assert b["problem"]["code"] == "insufficient_funds"
    assert (c["status"], c["transaction"], c["uncollected"]) == ("declined", None, money(100))
    assert c["problem"]["code"] == "insufficient_funds"
    assert api.balance(gift_card["card_id"]) == 0


def test_items_are_applied_oldest_first_and_ties_in_the_order_sent(api, gift_card):
    # 2,000 available: whichever is applied first is paid in full.
    response = send(api, [sale("late", gift_card, 1_500, -timedelta(minutes=10)),
                          sale("early", gift_card, 1_500, -timedelta(minutes=20)),
                          sale("tie-1", gift_card, 400, -timedelta(minutes=5)),
                          sale("tie-2", gift_card, 400, -timedelta(minutes=5))])

    assert statuses(response) == [("late", "partial"), ("early", "applied"), ("tie-1", "declined"), ("tie-2", "declined")]
    seqs = [t["created_at"] for t in api.ledger(gift_card["card_id"]) if t["offline"]]
    assert len(seqs) == 2


def test_ties_are_applied_in_the_order_sent(api, gift_card):
    response = send(api, [sale("x", gift_card, 1_200, -timedelta(minutes=5)), sale("y", gift_card, 1_200, -timedelta(minutes=5))])

    assert statuses(response) == [("x", "applied"), ("y", "partial")]


def test_declines_follow_the_contracts_order_of_checks(api, member_card, gift_card):
    frozen = api.issue(token=tokens.pos("S1"))
    assert api.post(f"/v1/cards/{frozen['card_id']}/freeze", tokens.agent()).status_code == 200
    unknown = {"card_number": "6000000000000000", "card_id": "crd_" + "0" * 20}
    response = send(api, [
        sale("old", member_card, 100, -timedelta(days=7, seconds=1)),
        sale("future", member_card, 100, timedelta(minutes=5, seconds=1)),
        sale("unknown-number", unknown, 100),
        sale("unknown-id", unknown, 100, by_id=True),
        sale("frozen", frozen, 100),
        sale("frozen-and-old", frozen, 100, -timedelta(days=8)),
        sale("euro", gift_card, 100, amount_currency="EUR") if False else {**sale("euro", gift_card, 100), "amount": money(100, "EUR")},
    ])

    codes = [(r["item_key"], r["status"], r["problem"]["code"], r["uncollected"]["amount"]) for r in response.json["results"]]
    assert codes == [("old", "declined", "validation_error", 100), ("future", "declined", "validation_error", 100),
                     ("unknown-number", "declined", "not_found", 100), ("unknown-id", "declined", "not_found", 100),
                     ("frozen", "declined", "card_not_active", 100),
                     ("frozen-and-old", "declined", "validation_error", 100),
                     ("euro", "declined", "currency_mismatch", 100)]
    assert api.balance(member_card["card_id"]) == 10_000


def test_the_window_includes_its_edges(api, member_card):
    response = send(api, [sale("oldest", member_card, 100, -timedelta(days=7)),
                          sale("newest", member_card, 100, timedelta(minutes=5))])

    assert statuses(response) == [("oldest", "applied"), ("newest", "applied")]


def test_an_item_sent_again_in_a_later_batch_is_a_duplicate_with_the_first_transaction(api, gift_card):
    first = send(api, [sale("k1", gift_card, 700), sale("k2", gift_card, 5_000)]).json["results"]
    again = send(api, [sale("k1", gift_card, 700), sale("k2", gift_card, 5_000), sale("k3", gift_card, 100)])

    k1, k2, k3 = again.json["results"]
    assert (k1["status"], k1["transaction"]) == ("duplicate", first[0]["transaction"])
    assert (k2["status"], k2["transaction"], k2["uncollected"]) == ("duplicate", first[1]["transaction"], money(3_700))
    assert k3["status"] == "declined"  # nothing left: k2 took the rest
    assert api.balance(gift_card["card_id"]) == 0
    assert len([t for t in api.ledger(gift_card["card_id"]) if t["offline"]]) == 2


def test_a_declined_item_stays_declined_when_sent_again_after_a_reload(api, gift_card):
    assert send(api, [sale("big", gift_card, 5_000), sale("none", gift_card, 100)]).json["results"][1]["status"] == "declined"
    api.reload(gift_card["card_id"], 1_000)

    again = send(api, [sale("none", gift_card, 100)]).json["results"][0]

    assert (again["status"], again["transaction"], again["problem"]["code"]) == ("duplicate", None, "insufficient_funds")
    assert api.balance(gift_card["card_id"]) == 1_000


def test_item_keys_are_scoped_to_the_till_principal(api, member_card):
    one = send(api, [sale("same", member_card, 100)], token=tokens.pos("S1", "T1"))
    other = send(api, [sale("same", member_card, 100)], token=tokens.pos("S1", "T2"))

    assert statuses(one) == statuses(other) == [("same", "applied")]
    assert api.balance(member_card["card_id"]) == 9_800


def test_a_batch_repeating_an_item_key_is_refused_whole(api, member_card):
    response = send(api, [sale("r", member_card, 100), sale("other", member_card, 100), sale("r", member_card, 200)])

    assert response.status_code == 422 and response.json["code"] == "validation_error"
    assert api.balance(member_card["card_id"]) == 10_000
    assert statuses(send(api, [sale("r", member_card, 100)])) == [("r", "applied")]


@pytest.mark.parametrize("body", [
    {"items": []},
    {"items": [{"item_key": "k", "card_number": "6000000000000000", "amount": money(100)}]},
    {"items": [{"item_key": "", "card_number": "6000000000000000", "amount": money(100), "occurred_at": "2026-01-15T11:00:00Z"}]},
    {"items": [{"item_key": "k", "card_number": "6000000000000000", "card_id": "crd_1", "amount": money(100), "occurred_at": "2026-01-15T11:00:00Z"}]},
    {"items": [{"item_key": "k", "amount": money(100), "occurred_at": "2026-01-15T11:00:00Z"}]},
    {"items": [{"item_key": "k", "card_number": "6000000000000000", "amount": money(0), "occurred_at": "2026-01-15T11:00:00Z"}]},
    {"items": [{"item_key": "k", "card_number": "6000000000000000", "amount": {"amount": 1.5, "currency": "USD"}, "occurred_at": "2026-01-15T11:00:00Z"}]},
    {"items": [{"item_key": "k", "card_number": "6000000000000000", "amount": money(100), "occurred_at": "2026-01-15T11:00:00"}]},
    {"items": [{"item_key": "k", "card_number": "6000000000000000", "amount": money(100), "occurred_at": "2026-02-30T11:00:00Z"}]},
    {"items": [{"item_key": "k\n", "card_number": "6000000000000000", "amount": money(100), "occurred_at": "2026-01-15T11:00:00Z"}]},
    {"items": [{"item_key": "k" * 256, "card_number": "6000000000000000", "amount": money(100), "occurred_at": "2026-01-15T11:00:00Z"}]},
    {"items": [{"item_key": "k", "card_number": "6000000000000000", "amount": money(100), "occurred_at": "2026-01-15T11:00:00Z", "tip": 1}]},
    {"items": [{"item_key": f"k{i}", "card_number": "6000000000000000", "amount": money(100), "occurred_at": "2026-01-15T11:00:00Z"} for i in range(101)]},
], ids=["empty", "no-time", "empty-key", "both-cards", "no-card", "zero", "float", "naive-time", "bad-date", "control-char",
        "long-key", "unknown-field", "101-items"])
def test_an_invalid_batch_is_a_validation_error_that_changes_nothing(api, clock, body):
    response = api.post(BATCHES, tokens.pos(), body)

    assert response.status_code == 422 and response.json["code"] == "validation_error", response.json
    assert response.json["errors"]


@pytest.mark.parametrize("token", [tokens.agent(), tokens.supervisor(), tokens.service()], ids=["agent", "supervisor", "service"])
def test_only_a_till_sends_batches(api, clock, token):
    body = {"items": [{"item_key": "k", "card_number": "6000000000000000", "amount": money(100),
                       "occurred_at": "2026-01-15T11:00:00Z"}]}
    assert api.post(BATCHES, token, body).status_code == 403


def test_a_batch_needs_an_idempotency_key_and_a_replay_returns_the_first_response(api, member_card):
    items = [sale("i1", member_card, 100)]
    assert send(api, items, key=None).status_code == 400
    first = send(api, items, key="batch-1")
    api.reload(member_card["card_id"], 1_000)

    replay = send(api, items, key="batch-1")

    assert replay.status_code == 200 and replay.json == first.json
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert send(api, [sale("i2", member_card, 100)], key="batch-1").json["code"] == "idempotency_key_reused"


def test_a_hundred_items_with_the_longest_keys_and_refs_fit_the_body_limit(api, gift_card):
    items = [{"item_key": f"{i:03d}" + "k" * 252, "card_number": gift_card["card_number"], "amount": money(1),
              "occurred_at": "2026-01-15T11:59:59.123456789+00:00", "order_ref": "r" * 128} for i in range(100)]
    import json
    assert len(json.dumps({"items": items})) < 64 * 1024

    response = send(api, items)

    assert response.status_code == 200 and {r["status"] for r in response.json["results"]} == {"applied"}
    assert api.balance(gift_card["card_id"]) == 1_900


def test_several_items_on_one_card_each_see_the_previous_ones_effect_stars_included(api, member_card):
    response = send(api, [sale(f"n{i}", member_card, 2_000) for i in range(6)])

    results = response.json["results"]
    assert [r["status"] for r in results] == ["applied"] * 5 + ["declined"]
    assert [r["transaction"]["balance_after"]["amount"] for r in results[:5]] == [8_000, 6_000, 4_000, 2_000, 0]
    assert [r["transaction"]["stars_after"] for r in results[:5]] == [40, 80, 120, 160, 200]


def test_a_batch_retried_under_its_key_after_stopping_half_way_answers_as_the_first_would_have(api, member_card,
                                                                                               monkeypatch):
    from chalicelib.services import batches

    items = [sale("h1", member_card, 100), sale("h2", member_card, 200)]
    real_finish = batches.request_gate.finish
    monkeypatch.setattr(batches.request_gate, "finish", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("crash")))
    assert send(api, items, key="half-way").status_code == 500  # both items applied, the answer lost
    monkeypatch.setattr(batches.request_gate, "finish", real_finish)

    retried = send(api, items, key="half-way")
    resent = send(api, items, key="another-key")

    assert statuses(retried) == [("h1", "applied"), ("h2", "applied")]
    assert statuses(resent) == [("h1", "duplicate"), ("h2", "duplicate")]
    assert [r["transaction"] for r in retried.json["results"]] == [r["transaction"] for r in resent.json["results"]]
    assert api.balance(member_card["card_id"]) == 9_700


def test_an_item_pays_from_what_the_card_can_spend_and_its_write_drops_expired_holds(api, gift_card, clock):
    """Held value is not spendable offline either; a hold that expired is spendable again, and the
    item's card update drops it from the card, like an online payment's."""
    card_id = gift_card["card_id"]
    for amount, expires_in in ((1_500, 3_600), (200, 60)):
        placed = api.post(f"/v1/cards/{card_id}/holds", tokens.pos("S1"),
                          {"amount": money(amount), "expires_in": expires_in})
        assert placed.status_code == 201
    clock.advance(timedelta(seconds=60))  # the 200 hold expires

    (result,) = send(api, [sale("held", gift_card, 1_000)]).json["results"]

    assert result["status"] == "partial" and result["uncollected"] == money(500)
    assert result["transaction"]["amount"] == money(-500)
    (item,) = get_items([keys.card(card_id)])
    assert [hold["amount"] for hold in item["holds"].values()] == [1_500]
    shown = api.get(f"/v1/cards/{card_id}", tokens.agent()).json
    assert (shown["balance"]["amount"], shown["held"]["amount"], shown["available"]["amount"]) == (1_500, 1_500, 0)
