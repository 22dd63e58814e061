"""Cards: issue, look up, register, reload, pay, freeze, transfer, ledger pages — and rights."""
import pytest

from tests.conftest import money, tokens


def test_issued_card_shows_its_full_number_once(api):
    ada = api.enrol()
    response = api.post("/v1/cards", tokens.customer(ada["member_id"]), {"member_id": ada["member_id"]})
    assert response.status_code == 201
    card = response.json
    assert len(card["card_number"]) == 16 and card["card_number"].isdigit()
    assert card | {"card_id": None, "card_number": None} == {
        "card_id": None, "card_number": None, "member_id": ada["member_id"], "status": "active",
        "balance": {"amount": 0, "currency": "USD"}, "held": {"amount": 0, "currency": "USD"},
        "available": {"amount": 0, "currency": "USD"}, "auto_reload": None, "version": 1, "ledger_head": None,
        "member": None}
    again = api.get(f"/v1/cards/{card['card_id']}", tokens.customer(ada["member_id"]))
    assert again.json["card_number"] == "************" + card["card_number"][-4:]


def test_pos_issues_unregistered_gift_cards_only(api):
    ada = api.enrol()
    gift = api.post("/v1/cards", tokens.pos(), {})
    assert gift.status_code == 201 and gift.json["member_id"] is None
    assert api.post("/v1/cards", tokens.pos(), {"member_id": ada["member_id"]}).status_code == 403


def test_customer_may_not_issue_a_card_to_another_member(api):
    ada, bob = api.enrol(), api.enrol()
    assert api.post("/v1/cards", tokens.customer(ada["member_id"]), {"member_id": bob["member_id"]}).status_code == 403


def test_issuing_to_an_unknown_member_is_not_found_and_unknown_currency_refused(api):
    assert api.post("/v1/cards", tokens.agent(), {"member_id": "mem_nobody"}).status_code == 404
    response = api.post("/v1/cards", tokens.agent(), {"currency": "EUR"})
    assert (response.status_code, response.json["code"]) == (422, "currency_mismatch")


def test_card_is_found_by_its_number_at_the_till_and_on_the_phone(api):
    issued = api.post("/v1/cards", tokens.pos(), {}).json
    for token in (tokens.pos("S9"), tokens.agent()):
        found = api.get(f"/v1/cards?number={issued['card_number']}", token)
        assert found.status_code == 200
        assert [c["card_id"] for c in found.json["items"]] == [issued["card_id"]]
        assert found.json["items"][0]["card_number"].startswith("*")
    assert api.get("/v1/cards?number=0000000000000000", tokens.agent()).json["items"] == []
    assert api.get("/v1/cards?number=12", tokens.agent()).status_code == 422
    assert api.get(f"/v1/cards?number={issued['card_number']}", tokens.customer("mem_x")).status_code == 403


def test_customer_never_sees_another_members_card(api):
    ada, bob = api.enrol(), api.enrol()
    card = api.issue(bob["member_id"])
    response = api.get(f"/v1/cards/{card['card_id']}", tokens.customer(ada["member_id"]))
    assert response.status_code == 404 and "balance" not in response.json
    assert api.reload(card["card_id"], 1000, tokens.customer(ada["member_id"])).status_code == 404
    assert api.pay(card["card_id"], 100, tokens.customer(ada["member_id"])).status_code == 404
    assert api.get(f"/v1/cards/{card['card_id']}/transactions", tokens.customer(ada["member_id"])).status_code == 404


def _register(api, number, member_id, token, **kwargs):
    return api.post("/v1/cards/register", token, {"card_number": number, "member_id": member_id}, **kwargs)


def test_register_attaches_a_gift_card_by_its_full_number_once(api):
    ada, bob = api.enrol(), api.enrol()
    gift = api.post("/v1/cards", tokens.pos(), {}).json
    number = gift["card_number"]
    first = _register(api, number, ada["member_id"], tokens.customer(ada["member_id"]), key=None)
    assert first.status_code == 200 and first.json["member_id"] == ada["member_id"]
    assert first.json["card_id"] == gift["card_id"] and first.json["card_number"] == "*" * 12 + number[-4:]
    again = _register(api, number, ada["member_id"], tokens.customer(ada["member_id"]), key=None)
    assert again.status_code == 200 and again.json["version"] == first.json["version"]
    taken = _register(api, number, bob["member_id"], tokens.agent())
    assert (taken.status_code, taken.json["code"]) == (409, "already_exists")
    assert _register(api, number, bob["member_id"], tokens.customer(ada["member_id"])).status_code == 403
    assert _register(api, number, ada["member_id"], tokens.pos()).status_code == 403
    assert _register(api, number, ada["member_id"], tokens.service()).status_code == 403


def test_a_card_id_from_a_receipt_is_not_enough_to_take_over_a_loaded_gift_card(api):
    """Issue 11, finding 1: the id (and any transaction id) must not let a stranger register the card."""
    mallory = api.enrol()["member_id"]
    gift = api.post("/v1/cards", tokens.pos(), {}).json
    api.reload(gift["card_id"], 10_000, tokens.pos())
    receipt = api.pay(gift["card_id"], 500).json
    assert gift["card_id"] not in receipt["tx_id"]
    old_route = api.post(f"/v1/cards/{gift['card_id']}/register", tokens.customer(mallory), {"member_id": mallory})
    assert old_route.status_code in (403, 404)  # the v1 route is gone: an unknown path (the contract: 404)
    guessed = _register(api, "6" + "0" * 15, mallory, tokens.customer(mallory))
    assert (guessed.status_code, guessed.json["code"]) == (404, "not_found")
    assert api.get(f"/v1/cards/{gift['card_id']}", tokens.pos()).json["member_id"] is None


@pytest.mark.parametrize("number", ["123", "６" * 16, "١" * 16, "1234 5678 9012 3456", 1234567890123456])
def test_register_needs_sixteen_ascii_digits(api, number):
    ada = api.enrol()["member_id"]
    response = api.post("/v1/cards/register", tokens.customer(ada), {"card_number": number, "member_id": ada})
    assert (response.status_code, response.json["code"]) == (422, "validation_error")


def test_no_transaction_id_reveals_its_card_or_member(api):
    ada = api.enrol()["member_id"]
    card, other = api.issue(ada)["card_id"], api.issue(ada)["card_id"]
    txs = [api.reload(card, 5_000).json, api.pay(card, 1_000).json,
           api.post(f"/v1/members/{ada}/purchases", tokens.pos(), {"amount": money(500), "tender": "cash"}).json]
    moved = api.post(f"/v1/cards/{card}/transfers", tokens.agent(), {"to_card_id": other, "amount": money(100)}).json
    txs += [moved["out"], moved["in"]]
    for tx in txs:
        for hidden in (card, other, ada, card.removeprefix("crd_"), ada.removeprefix("mem_")):
            assert hidden not in tx["tx_id"], tx
    assert len({tx["tx_id"] for tx in txs}) == len(txs)


def test_reload_credits_the_card_and_writes_the_ledger(api):
    ada = api.enrol()
    card = api.issue(ada["member_id"])
    response = api.reload(card["card_id"], 2500, tokens.customer(ada["member_id"], "web"))
    assert response.status_code == 201
    tx = response.json
    assert tx["kind"] == "reload" and tx["amount"] == money(2500) and tx["balance_after"] == money(2500)
    assert tx["channel"] == "web" and tx["member_id"] == ada["member_id"] and tx["stars"] == 0
    assert api.balance(card["card_id"]) == 2500
    assert api.ledger(card["card_id"]) == [tx]


@pytest.mark.parametrize("amount,status,code", [
    (499, 422, "limit_exceeded"), (50_001, 422, "limit_exceeded"), (0, 422, "validation_error"),
    (-500, 422, "validation_error"),
])
def test_reload_outside_its_bounds_is_refused(api, amount, status, code):
    card = api.issue()
    response = api.reload(card["card_id"], amount)
    assert (response.status_code, response.json["code"]) == (status, code)
    assert api.balance(card["card_id"]) == 0 and api.ledger(card["card_id"]) == []


def test_reload_never_takes_the_balance_above_the_cap(api):
    card = api.issue()
    for _ in range(2):
        assert api.reload(card["card_id"], 50_000).status_code == 201
    response = api.reload(card["card_id"], 500)
    assert (response.status_code, response.json["code"]) == (422, "limit_exceeded")
    assert api.balance(card["card_id"]) == 100_000


@pytest.mark.parametrize("amount", [10.5, "1000", None, True, {"amount": 1}])
def test_amounts_that_are_not_integers_are_validation_errors(api, amount):
    card = api.issue()
    response = api.post(f"/v1/cards/{card['card_id']}/reloads", tokens.agent(),
                        {"amount": {"amount": amount, "currency": "USD"}, "payment_ref": "p"})
    assert (response.status_code, response.json["code"]) == (422, "validation_error")


def test_reload_in_another_currency_is_a_currency_mismatch(api):
    card = api.issue()
    response = api.post(f"/v1/cards/{card['card_id']}/reloads", tokens.agent(),
                        {"amount": money(1000, "EUR"), "payment_ref": "p"})
    assert (response.status_code, response.json["code"]) == (422, "currency_mismatch")


def test_pos_payment_debits_and_records_the_store(api):
    card = api.issue()
    api.reload(card["card_id"], 1000)
    response = api.pay(card["card_id"], 350, tokens.pos("S7", "T3"))
    assert response.status_code == 201
    tx = response.json
    assert (tx["kind"], tx["amount"], tx["balance_after"]) == ("payment", money(-350), money(650))
    assert (tx["channel"], tx["store_id"]) == ("pos", "S7")


def test_pos_may_not_pay_for_another_store(api):
    card = api.issue()
    api.reload(card["card_id"], 1000)
    response = api.post(f"/v1/cards/{card['card_id']}/payments", tokens.pos("S2"), {"amount": money(100), "store_id": "S1"})
    assert (response.status_code, response.json["code"]) == (403, "forbidden")
    assert api.balance(card["card_id"]) == 1000


def test_owner_pays_ahead_naming_the_pickup_store_and_agent_may_not_pay(api):
    ada = api.enrol()
    card = api.issue(ada["member_id"])
    api.reload(card["card_id"], 1000)
    response = api.post(f"/v1/cards/{card['card_id']}/payments", tokens.customer(ada["member_id"]),
                        {"amount": money(400), "store_id": "S5", "order_ref": "ord-1"})
    assert response.status_code == 201 and (response.json["channel"], response.json["store_id"]) == ("app", "S5")
    assert api.pay(card["card_id"], 100, tokens.agent()).status_code == 403


def test_payment_larger_than_the_balance_is_insufficient_funds_and_changes_nothing(api):
    card = api.issue()
    api.reload(card["card_id"], 1000)
    response = api.pay(card["card_id"], 1001)
    assert (response.status_code, response.json["code"]) == (409, "insufficient_funds")
    assert api.balance(card["card_id"]) == 1000 and len(api.ledger(card["card_id"])) == 1


def test_frozen_card_refuses_payments_and_reloads_on_every_channel_until_unfrozen(api):
    ada = api.enrol()
    card = api.issue(ada["member_id"])
    api.reload(card["card_id"], 2000)
    frozen = api.post(f"/v1/cards/{card['card_id']}/freeze", tokens.customer(ada["member_id"]), key=None)
    assert frozen.status_code == 200 and frozen.json["status"] == "frozen"
    for token in (tokens.customer(ada["member_id"], "app"), tokens.customer(ada["member_id"], "web"), tokens.pos()):
        refused = api.pay(card["card_id"], 100, token)
        assert (refused.status_code, refused.json["code"]) == (409, "card_not_active")
    for token in (tokens.agent(), tokens.pos(), tokens.customer(ada["member_id"])):
        assert api.reload(card["card_id"], 1000, token).json["code"] == "card_not_active"
    assert api.post(f"/v1/cards/{card['card_id']}/freeze", tokens.agent(), key=None).json["version"] == frozen.json["version"]
    assert api.post(f"/v1/cards/{card['card_id']}/unfreeze", tokens.agent(), key=None).json["status"] == "active"
    assert api.pay(card["card_id"], 100).status_code == 201
    assert api.post(f"/v1/cards/{card['card_id']}/freeze", tokens.pos(), key=None).status_code == 403


def test_transfer_moves_the_whole_balance_from_a_frozen_card(api):
    ada = api.enrol()
    lost, fresh = api.issue(ada["member_id"]), api.issue(ada["member_id"])
    api.reload(lost["card_id"], 4200)
    api.post(f"/v1/cards/{lost['card_id']}/freeze", tokens.agent(), key=None)
    response = api.post(f"/v1/cards/{lost['card_id']}/transfers", tokens.customer(ada["member_id"]),
                        {"to_card_id": fresh["card_id"]})
    assert response.status_code == 201
    assert (response.json["out"]["kind"], response.json["out"]["amount"]) == ("transfer_out", money(-4200))
    assert (response.json["in"]["kind"], response.json["in"]["amount"]) == ("transfer_in", money(4200))
    assert (api.balance(lost["card_id"]), api.balance(fresh["card_id"])) == (0, 4200)
    assert [t["kind"] for t in api.ledger(lost["card_id"])] == ["transfer_out", "reload"]


def test_transfer_of_part_and_the_refusals(api):
    ada, bob = api.enrol(), api.enrol()
    one, two, bobs = api.issue(ada["member_id"]), api.issue(ada["member_id"]), api.issue(bob["member_id"])
    api.reload(one["card_id"], 1000)
    path = f"/v1/cards/{one['card_id']}/transfers"
    owner = tokens.customer(ada["member_id"])
    assert api.post(path, owner, {"to_card_id": two["card_id"], "amount": money(300)}).status_code == 201
    assert api.post(path, owner, {"to_card_id": bobs["card_id"]}).status_code == 404
    assert api.post(path, tokens.agent(), {"to_card_id": two["card_id"], "amount": money(0)}).json["code"] == "insufficient_funds"
    assert api.post(path, tokens.agent(), {"to_card_id": two["card_id"], "amount": money(701)}).json["code"] == "insufficient_funds"
    assert api.post(path, tokens.agent(), {"to_card_id": one["card_id"]}).json["code"] == "validation_error"
    assert api.post(path, tokens.pos(), {"to_card_id": two["card_id"]}).status_code == 403
    assert api.post(path, tokens.agent(), {"to_card_id": "crd_missing"}).status_code == 404
    api.post(f"/v1/cards/{two['card_id']}/freeze", tokens.agent(), key=None)
    assert api.post(path, tokens.agent(), {"to_card_id": two["card_id"]}).json["code"] == "card_not_active"
    assert (api.balance(one["card_id"]), api.balance(two["card_id"])) == (700, 300)


def test_empty_card_transfer_is_insufficient_funds(api):
    one, two = api.issue(), api.issue()
    response = api.post(f"/v1/cards/{one['card_id']}/transfers", tokens.agent(), {"to_card_id": two["card_id"]})
    assert (response.status_code, response.json["code"]) == (409, "insufficient_funds")


def test_transactions_page_newest_first_with_a_cursor(api):
    card = api.issue()
    for amount in (500, 600, 700, 800, 900):
        api.reload(card["card_id"], amount)
    first = api.get(f"/v1/cards/{card['card_id']}/transactions?limit=2", tokens.pos())
    assert [t["amount"]["amount"] for t in first.json["items"]] == [900, 800]
    second = api.get(f"/v1/cards/{card['card_id']}/transactions?limit=2&cursor={first.json['next_cursor']}", tokens.pos())
    third = api.get(f"/v1/cards/{card['card_id']}/transactions?limit=2&cursor={second.json['next_cursor']}", tokens.pos())
    assert [t["amount"]["amount"] for t in second.json["items"]] == [700, 600]
    assert [t["amount"]["amount"] for t in third.json["items"]] == [500] and third.json["next_cursor"] is None
    for bad in ("limit=0", "limit=101", "limit=x", "cursor=%21%21"):
        assert api.get(f"/v1/cards/{card['card_id']}/transactions?{bad}", tokens.pos()).status_code == 422


def test_unknown_card_is_not_found_for_staff(api):
    for path in ("/v1/cards/crd_nope", "/v1/cards/crd_nope/transactions"):
        response = api.get(path, tokens.agent())
        assert (response.status_code, response.json["code"]) == (404, "not_found")
    assert api.reload("crd_nope", 1000).status_code == 404
