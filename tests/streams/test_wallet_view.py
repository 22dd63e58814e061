"""The wallet view, fed by moto's real stream through the same event shape Lambda uses."""
import copy

from tests.conftest import tokens


def _wallet(api, member_id):
    return api.get(f"/v1/members/{member_id}", tokens.agent()).json


def _capture(drain):
    """Drain while keeping a copy of every event delivered."""
    events = []
    pump = drain.pump
    original = pump._deliver

    def recording(event):
        events.append(copy.deepcopy(event))
        return original(event)

    pump._deliver = recording
    drain()
    pump._deliver = original
    return events


def test_till_payment_reaches_the_members_wallet_through_the_stream(api, drain):
    ada = api.enrol()
    card = api.issue(ada["member_id"])
    api.reload(card["card_id"], 3000, tokens.customer(ada["member_id"]))
    drain()
    assert _wallet(api, ada["member_id"])["cards"][0]["balance"]["amount"] == 3000
    api.pay(card["card_id"], 1250, tokens.pos("S4"))
    assert _wallet(api, ada["member_id"])["cards"][0]["balance"]["amount"] == 3000  # not yet delivered
    assert drain() > 0
    wallet = _wallet(api, ada["member_id"])
    assert wallet["cards"][0]["balance"]["amount"] == 1750
    assert wallet["cards"][0]["version"] == api.get(f"/v1/cards/{card['card_id']}", tokens.agent()).json["version"]


def test_redelivered_and_reordered_records_leave_the_wallet_as_in_order_delivery(api, drain, client):
    ada = api.enrol()
    card = api.issue(ada["member_id"])
    for amount in (1000, 2000, 3000):
        api.reload(card["card_id"], amount)
    api.post(f"/v1/cards/{card['card_id']}/freeze", tokens.agent(), key=None)
    events = _capture(drain)
    expected = _wallet(api, ada["member_id"])
    assert expected["cards"][0]["balance"]["amount"] == 6000 and expected["cards"][0]["status"] == "frozen"
    records = [record for event in events for record in event["Records"]]
    for batch in ({"Records": records}, {"Records": list(reversed(records))}):
        response = client.lambda_.invoke("on_ledger_change", batch).payload
        assert response == {"batchItemFailures": []}
    assert _wallet(api, ada["member_id"]) == expected


def test_poison_record_is_reported_alone_and_the_rest_applied(api, drain, client):
    ada = api.enrol()
    card = api.issue(ada["member_id"])
    api.reload(card["card_id"], 1000)
    events = _capture(drain)
    card_records = [record for event in events for record in event["Records"]
                    if record["dynamodb"]["Keys"]["SK"] == {"S": "CARD"}]
    good = copy.deepcopy(card_records[-1])
    poison = copy.deepcopy(card_records[-1])
    poison["dynamodb"]["SequenceNumber"] = "999999999999"
    poison["dynamodb"]["NewImage"]["balance"] = {"S": "not a number"}
    good["dynamodb"]["NewImage"]["version"] = {"N": "99"}
    good["dynamodb"]["NewImage"]["balance"] = {"N": "777"}
    response = client.lambda_.invoke("on_ledger_change", {"Records": [poison, good]}).payload
    assert response == {"batchItemFailures": [{"itemIdentifier": "999999999999"}]}
    assert _wallet(api, ada["member_id"])["cards"][0]["balance"]["amount"] == 777


def test_gift_card_appears_in_the_wallet_once_registered(api, drain):
    ada = api.enrol()
    gift = api.post("/v1/cards", tokens.pos(), {}).json
    api.reload(gift["card_id"], 2000, tokens.pos())
    drain()
    assert _wallet(api, ada["member_id"])["cards"] == []
    api.post("/v1/cards/register", tokens.customer(ada["member_id"]),
             {"card_number": gift["card_number"], "member_id": ada["member_id"]})
    drain()
    cards = _wallet(api, ada["member_id"])["cards"]
    assert [(c["card_id"], c["balance"]["amount"]) for c in cards] == [(gift["card_id"], 2000)]


def test_the_wallet_counts_holds_as_of_the_read_and_shows_each_cards_loyalty(api, drain, clock):
    from datetime import timedelta

    from tests.conftest import money
    ada = api.enrol()
    card = api.issue(ada["member_id"])
    api.reload(card["card_id"], 3000)
    api.post(f"/v1/cards/{card['card_id']}/holds", tokens.pos("S1"), {"amount": money(1000), "expires_in": 60})
    drain()
    shown = _wallet(api, ada["member_id"])["cards"][0]
    assert (shown["held"], shown["available"]) == (money(1000), money(2000))
    assert shown["member"] == {"member_id": ada["member_id"], "tier": "green", "stars": 0}

    clock.advance(timedelta(seconds=60))  # no write, no stream record: the read alone stops counting it

    shown = _wallet(api, ada["member_id"])["cards"][0]
    assert (shown["held"], shown["available"]) == (money(0), money(3000))


def test_a_wallet_card_written_before_holds_existed_still_reads(api, drain):
    from chalicelib.store import keys, views
    ada = api.enrol()
    card = api.issue(ada["member_id"])
    drain()
    old = {key: value for key, value in api.get(f"/v1/cards/{card['card_id']}", tokens.pos()).json.items()
           if key not in ("held", "available", "member")}
    views.project(keys.wallet_card(ada["member_id"], card["card_id"]), old, 99, "2026-01-01T00:00:00.000Z")

    shown = _wallet(api, ada["member_id"])["cards"][0]

    assert shown["card_id"] == card["card_id"] and shown["available"] == shown["balance"]
