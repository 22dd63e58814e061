"""The member's activity feed: every card's and the member's own transactions, from every
channel, newest first, kept by the stream and read over HTTP."""
from datetime import timedelta

from tests.conftest import money, tokens


def _activity(api, member_id, token=None, query=""):
    return api.get(f"/v1/members/{member_id}/activity{query}", token or tokens.customer(member_id))


def test_till_payment_shows_in_the_members_wallet_and_activity_with_channel_and_store(api, drain, clock):
    # Given a member who reloaded in the app
    ada = api.enrol()
    card = api.issue(ada["member_id"], tokens.customer(ada["member_id"]))
    assert api.reload(card["card_id"], 3000, tokens.customer(ada["member_id"], "app")).status_code == 201
    drain()
    clock.advance(timedelta(minutes=5))
    # When a till at store S7 takes a payment
    payment = api.pay(card["card_id"], 1250, tokens.pos("S7", "T3"))
    assert payment.status_code == 201
    assert drain() > 0
    # Then the app sees it in the wallet and at the top of the activity feed, with channel and store
    wallet = api.get(f"/v1/members/{ada['member_id']}", tokens.customer(ada["member_id"])).json
    assert wallet["cards"][0]["balance"] == money(1750)
    feed = _activity(api, ada["member_id"])
    assert feed.status_code == 200
    top, reload = feed.json["items"]
    assert top == payment.json
    assert (top["kind"], top["channel"], top["store_id"], top["amount"]) == ("payment", "pos", "S7", money(-1250))
    assert (reload["kind"], reload["channel"], reload["store_id"]) == ("reload", "app", None)
    assert feed.json["as_of"] == top["created_at"] and feed.json["next_cursor"] is None
    # and the call-center sees the same feed
    assert _activity(api, ada["member_id"], tokens.agent()).json["items"] == feed.json["items"]


def test_feed_spans_every_card_and_the_members_stars_newest_first(api, drain, clock):
    ada = api.enrol()
    first, second = (api.issue(ada["member_id"]) for _ in range(2))
    api.reload(first["card_id"], 2000, tokens.customer(ada["member_id"], "web"))
    clock.advance(timedelta(seconds=1))
    api.post(f"/v1/cards/{first['card_id']}/transfers", tokens.agent(), {"to_card_id": second["card_id"],
                                                                         "amount": money(500)})
    clock.advance(timedelta(seconds=1))
    purchase = api.post(f"/v1/members/{ada['member_id']}/purchases", tokens.pos("S2"),
                        {"amount": money(1000), "tender": "cash"})
    assert purchase.status_code == 201
    drain()

    items = _activity(api, ada["member_id"]).json["items"]

    kinds = [(t["kind"], t["channel"]) for t in items]
    # the two sides of a transfer share one instant; either may come first
    assert kinds[0] == ("purchase", "pos") and kinds[3] == ("reload", "web")
    assert sorted(kinds[1:3]) == [("transfer_in", "phone"), ("transfer_out", "phone")]
    assert items[0]["card_id"] is None and items[0]["stars"] == purchase.json["stars"] > 0
    assert {t["card_id"] for t in items[1:]} == {first["card_id"], second["card_id"]}
    ledger = api.ledger(first["card_id"]) + api.ledger(second["card_id"])
    assert sorted(t["tx_id"] for t in items[1:]) == sorted(t["tx_id"] for t in ledger)


def test_feed_pages_newest_first_without_gaps_or_repeats(api, drain):
    ada = api.enrol()
    card = api.issue(ada["member_id"])
    for amount in range(500, 500 + 7 * 100, 100):
        api.reload(card["card_id"], amount)
    drain()

    pages, cursor = [], None
    while True:
        page = _activity(api, ada["member_id"], query="?limit=3" + (f"&cursor={cursor}" if cursor else "")).json
        pages.append(page)
        cursor = page["next_cursor"]
        if not cursor:
            break

    seen = [t["tx_id"] for page in pages for t in page["items"]]
    assert seen == [t["tx_id"] for t in api.ledger(card["card_id"])]
    assert [len(page["items"]) for page in pages][:3] == [3, 3, 1]
    assert {page["as_of"] for page in pages} == {pages[0]["items"][0]["created_at"]}


def test_a_registered_gift_card_brings_its_earlier_transactions_into_the_feed(api, drain):
    ada = api.enrol()
    gift = api.post("/v1/cards", tokens.pos(), {}).json
    api.reload(gift["card_id"], 2000, tokens.pos("S9"))
    drain()
    assert _activity(api, ada["member_id"]).json["items"] == []

    api.post("/v1/cards/register", tokens.customer(ada["member_id"]),
             {"card_number": gift["card_number"], "member_id": ada["member_id"]})
    api.pay(gift["card_id"], 500, tokens.pos("S9"))
    drain()

    items = _activity(api, ada["member_id"]).json["items"]
    assert [(t["kind"], t["store_id"]) for t in items] == [("payment", "S9"), ("reload", "S9")]


def test_activity_is_for_the_owner_and_staff_only(api, drain):
    ada, bob = api.enrol(), api.enrol()
    assert _activity(api, ada["member_id"], tokens.customer(bob["member_id"])).status_code == 404
    assert _activity(api, ada["member_id"], tokens.pos()).status_code == 403
    assert _activity(api, ada["member_id"], tokens.service()).status_code == 403
    assert _activity(api, ada["member_id"], tokens.supervisor()).status_code == 200
    assert _activity(api, "mem_nobody", tokens.agent()).status_code == 404
    assert _activity(api, ada["member_id"], "not-a-token").status_code == 401


def test_bad_paging_parameters_are_validation_errors(api):
    ada = api.enrol()
    for query in ("?limit=0", "?limit=101", "?limit=ten", "?cursor=not-a-cursor"):
        response = _activity(api, ada["member_id"], query=query)
        assert (response.status_code, response.json["code"]) == (422, "validation_error"), query
