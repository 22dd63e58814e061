"""The daily channel report and the liability totals agree with the ledger they are kept from."""
from collections import defaultdict
from datetime import timedelta

from tests.conftest import money, tokens


def _report(api, day=None, token=None):
    query = f"?date={day}" if day else ""
    return api.get(f"/v1/reports/channels{query}", token or tokens.supervisor())


def _all_transactions(api, members, cards):
    """Every ledger entry: each card's ledger, plus the members' own (star) entries from their feeds."""
    entries = [t for card_id in cards for t in api.ledger(card_id)]
    for member_id in members:
        feed = api.get(f"/v1/members/{member_id}/activity?limit=100", tokens.agent()).json["items"]
        entries += [t for t in feed if t["card_id"] is None]
    return entries


def _busy_day(api, clock):
    """Two days of traffic on every channel; returns (member ids, card ids)."""
    ada, bob = api.enrol(), api.enrol()
    ada_card = api.issue(ada["member_id"], tokens.customer(ada["member_id"]))
    bob_card = api.issue(bob["member_id"])
    gift = api.post("/v1/cards", tokens.pos("S2"), {}).json
    for _ in range(2):
        api.reload(ada_card["card_id"], 5000, tokens.customer(ada["member_id"], "app"))
        api.reload(bob_card["card_id"], 2500, tokens.customer(bob["member_id"], "web"))
        api.reload(gift["card_id"], 1000, tokens.pos("S2"))
        api.pay(ada_card["card_id"], 420, tokens.pos("S1"))
        api.pay(bob_card["card_id"], 310, tokens.pos("S2"))
        api.pay(ada_card["card_id"], 650, tokens.customer(ada["member_id"]))  # order ahead, no store
        api.post(f"/v1/members/{bob['member_id']}/purchases", tokens.pos("S1"), {"amount": money(1200), "tender": "cash"})
        api.post(f"/v1/cards/{ada_card['card_id']}/transfers", tokens.agent(),
                 {"to_card_id": bob_card["card_id"], "amount": money(100)})
        clock.advance(timedelta(days=1))
    return [ada["member_id"], bob["member_id"]], [ada_card["card_id"], bob_card["card_id"], gift["card_id"]]


def test_report_totals_equal_the_ledger_for_each_day_channel_and_store(api, drain, clock):
    members, cards = _busy_day(api, clock)
    drain()
    expected = defaultdict(lambda: [0, 0, 0])   # (day, channel, store or None, kind) → count, amount, stars
    for t in _all_transactions(api, members, cards):
        for store in {None, t["store_id"]}:
            totals = expected[(t["created_at"][:10], t["channel"], store, t["kind"])]
            totals[0] += 1
            totals[1] += t["amount"]["amount"] if t["amount"] else 0
            totals[2] += t["stars"]
    days = sorted({key[0] for key in expected})
    assert len(days) == 2

    reported = {}
    for day in days:
        response = _report(api, day)
        assert response.status_code == 200
        assert response.json["date"] == day and response.json["as_of"].startswith(day)
        for channel in response.json["channels"]:
            for store in [{"store_id": None, "kinds": channel["kinds"]}, *channel["stores"]]:
                for kind in store["kinds"]:
                    amount = sum(total["amount"] for total in kind["totals"])
                    assert all(total["currency"] == "USD" for total in kind["totals"])
                    reported[(day, channel["channel"], store["store_id"], kind["kind"])] = [
                        kind["count"], amount, kind["stars"]]

    assert reported == dict(expected)
    assert reported[(days[0], "pos", "S1", "payment")][:2] == [1, -420]
    assert reported[(days[0], "app", None, "payment")][:2] == [1, -650]


def test_report_for_a_day_without_transactions_is_empty(api, clock):
    response = _report(api, "2020-02-29", tokens.service())
    assert response.status_code == 200
    assert response.json == {"date": "2020-02-29", "channels": [], "as_of": None}
    assert _report(api).json["date"] == "2026-01-15"  # default: today (UTC)


def test_reports_are_for_supervisors_and_services_only(api):
    ada = api.enrol()
    for token in (tokens.agent(), tokens.pos(), tokens.customer(ada["member_id"])):
        assert _report(api, token=token).status_code == 403
        assert api.get("/v1/reports/liability", token).status_code == 403
    for day in ("2026-02-30", "yesterday", "2026-1-5"):
        response = _report(api, day)
        assert (response.status_code, response.json["code"]) == (422, "validation_error"), day
    assert api.get("/v1/reports/liability", tokens.service()).status_code == 200


def test_liability_equals_the_sum_of_card_balances_and_member_stars(api, drain, clock):
    members, cards = _busy_day(api, clock)
    assert api.post(f"/v1/members/{members[1]}/redemptions", tokens.pos(), {"reward_id": "rw_25"}).status_code == 201
    drain()

    liability = api.get("/v1/reports/liability", tokens.supervisor())

    assert liability.status_code == 200
    balances = sum(api.balance(card_id) for card_id in cards)
    stars = sum(api.get(f"/v1/members/{member_id}", tokens.agent()).json["stars"] for member_id in members)
    assert liability.json["stored_value"] == [money(balances)]
    assert liability.json["stars"] == stars > 0
    assert liability.json["as_of"] is not None


def test_liability_starts_at_zero(api):
    assert api.get("/v1/reports/liability", tokens.service()).json == {"stored_value": [], "stars": 0, "as_of": None}
