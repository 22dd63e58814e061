"""Auto-reload: settings over HTTP, and one auto_reload per debit that leaves the card below
its threshold, however often the stream delivers that debit."""
from tests.conftest import money, tokens
from tests.streams.conftest import card_records


def _set(api, card_id, threshold, amount, token=None, payment_ref="psp-auto-1"):
    return api.request("PUT", f"/v1/cards/{card_id}/auto-reload", token or tokens.agent(),
                       {"threshold": money(threshold), "amount": money(amount), "payment_ref": payment_ref})


def _auto_reloads(api, card_id):
    return [t for t in api.ledger(card_id) if t["kind"] == "auto_reload"]


def test_owner_sets_and_removes_auto_reload_and_the_card_shows_it_without_the_payment_ref(api):
    ada = api.enrol()
    owner = tokens.customer(ada["member_id"])
    card = api.issue(ada["member_id"], owner)

    response = _set(api, card["card_id"], 1000, 2500, owner)

    assert response.status_code == 200
    assert response.json["auto_reload"] == {"threshold": money(1000), "amount": money(2500)}
    assert response.json["version"] == card["version"] + 1 and "payment_ref" not in response.body.decode()
    shown = api.get(f"/v1/cards/{card['card_id']}", tokens.pos()).json
    assert shown["member"]["member_id"] == card["member_id"]  # a read adds the member's loyalty; a write's answer does not
    assert shown | {"member": None} == response.json
    assert _set(api, card["card_id"], 1000, 2500, owner).json["version"] == response.json["version"]  # unchanged
    removed = api.request("DELETE", f"/v1/cards/{card['card_id']}/auto-reload", owner)
    assert removed.status_code == 200 and removed.json["auto_reload"] is None
    again = api.request("DELETE", f"/v1/cards/{card['card_id']}/auto-reload", tokens.agent())
    assert again.status_code == 200 and again.json["version"] == removed.json["version"]


def test_auto_reload_settings_are_refused_outside_the_rules_and_rights(api):
    ada, bob = api.enrol(), api.enrol()
    card = api.issue(ada["member_id"])
    path = f"/v1/cards/{card['card_id']}/auto-reload"
    cases = [
        (_set(api, card["card_id"], 1000, 400), 422, "limit_exceeded"),          # below the reload minimum
        (_set(api, card["card_id"], 60_000, 50_000), 422, "limit_exceeded"),     # threshold + amount over the cap
        (api.request("PUT", path, tokens.agent(), {"threshold": money(1000, "EUR"), "amount": money(2000),
                                                   "payment_ref": "p"}), 422, "currency_mismatch"),
        (api.request("PUT", path, tokens.agent(), {"threshold": money(1000), "amount": {"amount": 20.5, "currency": "USD"},
                                                   "payment_ref": "p"}), 422, "validation_error"),
        (api.request("PUT", path, tokens.agent(), {"threshold": money(1000), "amount": money(2000)}), 422,
         "validation_error"),
        (_set(api, card["card_id"], 1000, 2000, tokens.pos()), 403, "forbidden"),
        (_set(api, card["card_id"], 1000, 2000, tokens.customer(bob["member_id"])), 404, "not_found"),
        (_set(api, "crd_missing", 1000, 2000), 404, "not_found"),
        (api.request("DELETE", path, tokens.pos()), 403, "forbidden"),
    ]
    for response, status, code in cases:
        assert (response.status_code, response.json["code"]) == (status, code), response.json
    assert api.get(f"/v1/cards/{card['card_id']}", tokens.agent()).json["auto_reload"] is None


def test_a_payment_below_the_threshold_is_followed_by_one_auto_reload(api, drain):
    ada = api.enrol()
    card = api.issue(ada["member_id"])
    api.reload(card["card_id"], 3000)
    _set(api, card["card_id"], 1000, 2500)
    api.pay(card["card_id"], 1500)   # 1500 left: above the threshold, nothing to do
    drain()
    assert _auto_reloads(api, card["card_id"]) == []

    payment = api.pay(card["card_id"], 1000).json  # 500 left: below
    drain()

    [auto] = _auto_reloads(api, card["card_id"])
    assert (auto["amount"], auto["balance_after"], auto["channel"]) == (money(2500), money(3000), "system")
    assert api.balance(card["card_id"]) == 3000
    assert api.ledger(card["card_id"])[0]["tx_id"] == auto["tx_id"]
    # the auto-reload shows in the activity feed like any transaction
    drain()
    feed = api.get(f"/v1/members/{ada['member_id']}/activity", tokens.customer(ada["member_id"])).json["items"]
    assert [t["tx_id"] for t in feed[:2]] == [auto["tx_id"], payment["tx_id"]]


def test_auto_reload_fires_once_per_crossing_when_its_trigger_is_delivered_three_times(api, deliveries, handler):
    # Given an auto-reload too small to lift the card above its threshold (so only the
    # idempotency record, not the balance, can stop a second reload)
    ada = api.enrol()
    card = api.issue(ada["member_id"])
    api.reload(card["card_id"], 2000)
    _set(api, card["card_id"], 5000, 500)
    api.pay(card["card_id"], 1900)  # 100 left: below the threshold
    records = deliveries()
    [trigger] = [r for r in card_records(records, card["card_id"])
                 if r["dynamodb"]["NewImage"].get("balance") == {"N": "100"}]

    # When the debit's record is delivered twice more (and everything the reload wrote is delivered)
    for _ in range(2):
        assert handler([trigger]) == {"batchItemFailures": []}
    deliveries()

    # Then exactly one auto_reload followed it, and the auto-reload did not trigger another
    [auto] = _auto_reloads(api, card["card_id"])
    assert auto["amount"] == money(500)
    assert api.balance(card["card_id"]) == 600


def test_credits_and_non_active_cards_never_trigger_an_auto_reload(api, drain):
    ada = api.enrol()
    card, other = api.issue(ada["member_id"]), api.issue(ada["member_id"])
    _set(api, card["card_id"], 5000, 500)
    api.reload(card["card_id"], 1000)     # a credit that leaves the card below the threshold
    drain()
    assert _auto_reloads(api, card["card_id"]) == []
    api.post(f"/v1/cards/{card['card_id']}/freeze", tokens.agent(), key=None)
    api.post(f"/v1/cards/{card['card_id']}/transfers", tokens.agent(), {"to_card_id": other["card_id"],
                                                                        "amount": money(600)})
    drain()
    assert _auto_reloads(api, card["card_id"]) == []   # frozen: a debit, but no reload
    assert api.balance(card["card_id"]) == 400


def test_a_card_topped_up_before_the_stream_caught_up_is_not_reloaded(api, drain):
    ada = api.enrol()
    card = api.issue(ada["member_id"])
    api.reload(card["card_id"], 2000)
    _set(api, card["card_id"], 1000, 2500)
    api.pay(card["card_id"], 1500)      # below the threshold …
    api.reload(card["card_id"], 1000)   # … and topped up by hand before the stream delivered the debit
    drain()
    assert _auto_reloads(api, card["card_id"]) == []
    assert api.balance(card["card_id"]) == 1500
