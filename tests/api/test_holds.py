"""Holds (contract v1.1): pre-authorization, completion and void, as a till and an app use them."""
from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import money, tokens


@pytest.fixture
def ada(api, clock):
    member = api.enrol()["member_id"]
    card = api.issue(member)["card_id"]
    assert api.reload(card, 10_000).status_code == 201
    return {"member": member, "card": card, "owner": tokens.customer(member)}


def hold(api, card_id, amount, token=None, **fields):
    return api.post(f"/v1/cards/{card_id}/holds", token or tokens.pos("S1"), {"amount": money(amount), **fields})


def card(api, card_id):
    return api.get(f"/v1/cards/{card_id}", tokens.pos()).json


def test_a_hold_lowers_available_at_once_and_moves_no_money(api, ada):
    response = hold(api, ada["card"], 2_500, order_ref="order-7")

    assert response.status_code == 201, response.json
    placed = response.json
    assert placed["status"] == "held" and placed["amount"] == money(2_500) and placed["captured"] is None
    assert placed["card_id"] == ada["card"] and placed["store_id"] == "S1" and placed["channel"] == "pos"
    assert placed["order_ref"] == "order-7" and placed["hold_id"].startswith("hld_")
    shown = card(api, ada["card"])
    assert (shown["balance"]["amount"], shown["held"]["amount"], shown["available"]["amount"]) == (10_000, 2_500, 7_500)
    assert [tx["kind"] for tx in api.ledger(ada["card"])] == ["reload"]  # no transaction
    assert api.get(f"/v1/holds/{placed['hold_id']}", tokens.pos("S1")).json == placed


def test_payments_transfers_and_holds_spend_available_not_balance(api, ada):
    hold(api, ada["card"], 8_000)

    assert api.pay(ada["card"], 2_001).json["code"] == "insufficient_funds"
    assert hold(api, ada["card"], 2_001).json["code"] == "insufficient_funds"
    other = api.issue(ada["member"])["card_id"]
    transfer = api.post(f"/v1/cards/{ada['card']}/transfers", ada["owner"], {"to_card_id": other})
    assert transfer.status_code == 201 and transfer.json["out"]["amount"]["amount"] == -2_000  # default: available
    assert card(api, ada["card"])["available"]["amount"] == 0
    assert api.post(f"/v1/cards/{ada['card']}/adjustments", tokens.agent(),
                    {"amount": money(-1), "reason_code": "correction"}).json["code"] == "insufficient_funds"


def test_capture_pays_part_with_stars_and_releases_the_rest_in_one_step(api, ada):
    placed = hold(api, ada["card"], 3_000, token=tokens.pos("S1")).json

    response = api.post(f"/v1/holds/{placed['hold_id']}/capture", tokens.pos("S1"), {"amount": money(2_400)})

    assert response.status_code == 201, response.json
    tx = response.json
    assert tx["kind"] == "payment" and tx["hold_id"] == placed["hold_id"] and tx["amount"] == money(-2_400)
    assert tx["stars"] == 48 and tx["store_id"] == "S1" and tx["balance_after"] == money(7_600)
    shown = card(api, ada["card"])
    assert (shown["balance"]["amount"], shown["held"]["amount"], shown["available"]["amount"]) == (7_600, 0, 7_600)
    after = api.get(f"/v1/holds/{placed['hold_id']}", tokens.pos("S1")).json
    assert after["status"] == "captured" and after["captured"] == money(2_400)
    assert api.ledger(ada["card"])[0] == tx


def test_capture_defaults_to_the_whole_hold_and_never_more(api, ada):
    placed = hold(api, ada["card"], 1_000).json
    over = api.post(f"/v1/holds/{placed['hold_id']}/capture", tokens.pos("S1"), {"amount": money(1_001)})
    assert (over.status_code, over.json["code"]) == (422, "limit_exceeded")

    whole = api.post(f"/v1/holds/{placed['hold_id']}/capture", tokens.pos("S1"), {})

    assert whole.status_code == 201 and whole.json["amount"] == money(-1_000)
    again = api.post(f"/v1/holds/{placed['hold_id']}/capture", tokens.pos("S1"), {})
    assert (again.status_code, again.json["code"]) == (409, "hold_not_active")
    assert api.post(f"/v1/holds/{placed['hold_id']}/void", tokens.pos("S1")).json["code"] == "hold_not_active"


def test_void_releases_the_hold_and_a_second_void_changes_nothing(api, ada):
    placed = hold(api, ada["card"], 4_000).json

    first = api.post(f"/v1/holds/{placed['hold_id']}/void", tokens.pos("S1"), key=None)
    second = api.post(f"/v1/holds/{placed['hold_id']}/void", tokens.agent(), key=None)

    assert first.status_code == second.status_code == 200
    assert first.json["status"] == second.json["status"] == "voided"
    shown = card(api, ada["card"])
    assert (shown["held"]["amount"], shown["available"]["amount"], shown["version"]) == (0, 10_000, 4)
    capture = api.post(f"/v1/holds/{placed['hold_id']}/capture", tokens.pos("S1"), {})
    assert (capture.status_code, capture.json["code"]) == (409, "hold_not_active")


def test_an_expired_hold_stops_counting_at_once_and_can_never_be_captured(api, ada, clock):
    placed = hold(api, ada["card"], 6_000, expires_in=60).json
    assert card(api, ada["card"])["available"]["amount"] == 4_000

    clock.advance(timedelta(seconds=60))

    shown = card(api, ada["card"])
    assert (shown["held"]["amount"], shown["available"]["amount"]) == (0, 10_000)
    assert api.get(f"/v1/holds/{placed['hold_id']}", tokens.agent()).json["status"] == "expired"
    assert api.pay(ada["card"], 9_000).status_code == 201  # no sweep needed
    for action in ("capture", "void"):
        refused = api.post(f"/v1/holds/{placed['hold_id']}/{action}", tokens.pos("S1"), {})
        assert (refused.status_code, refused.json["code"]) == (409, "hold_not_active"), action


def test_a_frozen_card_keeps_its_holds_which_can_be_voided_not_captured(api, ada):
    captured_later, voided = hold(api, ada["card"], 1_000).json, hold(api, ada["card"], 2_000).json
    assert api.post(f"/v1/cards/{ada['card']}/freeze", ada["owner"]).status_code == 200
    assert card(api, ada["card"])["held"]["amount"] == 3_000

    refused = api.post(f"/v1/holds/{captured_later['hold_id']}/capture", tokens.pos("S1"), {})

    assert (refused.status_code, refused.json["code"]) == (409, "card_not_active")
    assert hold(api, ada["card"], 100).json["code"] == "card_not_active"
    assert api.post(f"/v1/holds/{voided['hold_id']}/void", ada["owner"]).json["status"] == "voided"
    assert card(api, ada["card"])["held"]["amount"] == 1_000


def test_the_owner_holds_an_order_ahead_and_only_its_store_captures_it(api, ada):
    placed = hold(api, ada["card"], 1_500, token=ada["owner"], store_id="S2", order_ref="latte").json
    assert placed["channel"] == "app" and placed["store_id"] == "S2"

    assert api.post(f"/v1/holds/{placed['hold_id']}/capture", tokens.pos("S1"), {}).status_code == 403
    assert api.get(f"/v1/holds/{placed['hold_id']}", tokens.pos("S1")).status_code == 403
    stranger = tokens.customer(api.enrol()["member_id"])
    assert api.get(f"/v1/holds/{placed['hold_id']}", stranger).status_code == 404
    assert api.post(f"/v1/holds/{placed['hold_id']}/capture", tokens.agent(), {}).status_code == 403
    captured = api.post(f"/v1/holds/{placed['hold_id']}/capture", tokens.pos("S2"), {"amount": money(1_650 - 200)})
    assert captured.status_code == 201 and captured.json["store_id"] == "S2"


def test_a_till_holds_only_for_its_own_store(api, ada):
    refused = hold(api, ada["card"], 500, token=tokens.pos("S1"), store_id="S2")
    assert refused.status_code == 403


def test_hold_requests_are_idempotent_and_need_a_key(api, ada):
    body = {"amount": money(700)}
    assert api.post(f"/v1/cards/{ada['card']}/holds", tokens.pos(), body, key=None).json["code"] == \
        "idempotency_key_required"
    first = api.post(f"/v1/cards/{ada['card']}/holds", tokens.pos(), body, key="h-1")
    replay = api.post(f"/v1/cards/{ada['card']}/holds", tokens.pos(), body, key="h-1")
    assert replay.json == first.json and replay.headers.get("Idempotent-Replayed") == "true"
    assert card(api, ada["card"])["held"]["amount"] == 700
    hold_id = first.json["hold_id"]
    assert api.post(f"/v1/holds/{hold_id}/capture", tokens.pos(), {}, key=None).json["code"] == \
        "idempotency_key_required"
    paid = api.post(f"/v1/holds/{hold_id}/capture", tokens.pos(), {}, key="c-1")
    again = api.post(f"/v1/holds/{hold_id}/capture", tokens.pos(), {}, key="c-1")
    assert again.json == paid.json and again.headers.get("Idempotent-Replayed") == "true"


def test_bad_hold_requests_are_refused_cleanly(api, ada):
    for body in ({"amount": money(0)}, {"amount": money(100), "expires_in": 59},
                 {"amount": money(100), "expires_in": 604_801}, {"amount": {"amount": 1.5, "currency": "USD"}},
                 {"amount": money(100), "tip": 1}):
        response = api.post(f"/v1/cards/{ada['card']}/holds", tokens.pos(), body)
        assert (response.status_code, response.json["code"]) == (422, "validation_error"), body
    for hold_id in ("hld_x", "tx_" + "A" * 40, "hld_" + "A" * 40):
        assert api.get(f"/v1/holds/{hold_id}", tokens.agent()).status_code == 404
    assert hold(api, ada["card"], 100, token=tokens.pos(), currency="EUR").status_code == 422


def test_a_card_carries_a_bounded_number_of_open_holds(api, ada):
    for _ in range(20):
        assert hold(api, ada["card"], 10).status_code == 201
    assert (hold(api, ada["card"], 10).json["code"]) == "limit_exceeded"


def test_a_card_read_shows_its_members_loyalty(api, ada):
    api.pay(ada["card"], 2_500)
    shown = card(api, ada["card"])
    assert shown["member"] == {"member_id": ada["member"], "tier": "green", "stars": 50}
    gift = api.issue(token=tokens.pos())
    assert card(api, gift["card_id"])["member"] is None
    by_number = api.get(f"/v1/cards?number={gift['card_number']}", tokens.pos()).json["items"][0]
    assert by_number["member"] is None and by_number["available"] == money(0)


def test_the_readme_worked_example_a_latte_with_a_tip_paid_half_by_card(api, clock):
    """README, "Holds": hold 8.00 of 10.00, capture 3.75, the rest released."""
    ada = api.enrol()["member_id"]
    card_id = api.issue(ada)["card_id"]
    api.reload(card_id, 1_000)
    placed = api.post(f"/v1/cards/{card_id}/holds", tokens.pos("S1"),
                      {"amount": money(800), "order_ref": "till-7/0042"}).json
    assert card(api, card_id)["available"] == money(200)
    assert api.pay(card_id, 300, tokens.customer(ada)).json["code"] == "insufficient_funds"

    tx = api.post(f"/v1/holds/{placed['hold_id']}/capture", tokens.pos("S1"), {"amount": money(375)}).json

    assert (tx["amount"], tx["stars"], tx["balance_after"], tx["hold_id"]) == \
        (money(-375), 7, money(625), placed["hold_id"])
    shown = card(api, card_id)
    assert (shown["balance"], shown["held"], shown["available"]) == (money(625), money(0), money(625))
