"""Stars over HTTP: earning on payments and purchases, rewards, redemption, refunds, expiry, tiers."""
import threading
from datetime import datetime, timedelta, timezone

import pytest

from chalicelib.services import stars as star_service
from tests.conftest import money, tokens


@pytest.fixture
def member_with_card(api, clock):
    ada = api.enrol()
    card = api.issue(ada["member_id"])
    api.reload(card["card_id"], 50_000)
    return ada["member_id"], card["card_id"]


def _member(api, member_id):
    return api.get(f"/v1/members/{member_id}", tokens.agent()).json


def _purchase(api, member_id, amount, token=None, **kwargs):
    return api.post(f"/v1/members/{member_id}/purchases", token or tokens.pos(),
                    {"amount": money(amount), "tender": "cash"}, **kwargs)


def _redeem(api, member_id, reward_id="rw_25", token=None, **kwargs):
    return api.post(f"/v1/members/{member_id}/redemptions", token or tokens.pos(), {"reward_id": reward_id}, **kwargs)


def test_payment_on_a_registered_card_earns_two_stars_per_dollar_in_the_same_transaction(api, member_with_card):
    member_id, card_id = member_with_card
    tx = api.pay(card_id, 1299).json
    assert (tx["amount"], tx["stars"], tx["stars_after"]) == (money(-1299), 25, 25)
    assert _member(api, member_id)["stars"] == 25
    assert api.ledger(card_id)[0] == tx


def test_gift_card_payments_move_money_but_earn_no_stars(api, clock):
    gift = api.post("/v1/cards", tokens.pos(), {}).json
    api.reload(gift["card_id"], 5000, tokens.pos())
    tx = api.pay(gift["card_id"], 1000).json
    assert (tx["stars"], tx["stars_after"], tx["balance_after"]) == (0, None, money(4000))


def test_purchase_paid_another_way_earns_one_star_per_dollar(api, member_with_card):
    member_id, _ = member_with_card
    response = _purchase(api, member_id, 1999, tokens.pos("S3"))
    assert response.status_code == 201
    tx = response.json
    assert (tx["kind"], tx["card_id"], tx["stars"], tx["stars_after"], tx["store_id"]) == ("purchase", None, 19, 19, "S3")
    assert tx["tx_id"].startswith("tx_") and member_id.removeprefix("mem_") not in tx["tx_id"]
    assert _purchase(api, member_id, 100, tokens.pos("S3"), ).status_code == 201
    other_store = api.post(f"/v1/members/{member_id}/purchases", tokens.pos("S3"),
                           {"amount": money(100), "tender": "cash", "store_id": "S9"})
    assert other_store.status_code == 403
    assert _purchase(api, member_id, 100, tokens.agent()).status_code == 403
    assert _purchase(api, "mem_nobody", 100).status_code == 404


def test_purchases_are_recorded_by_tills_only(api, member_with_card):
    """Issue 11, finding 2: a customer could mint stars by declaring its own cash purchases."""
    member_id, _ = member_with_card
    bob = api.enrol()
    own = _purchase(api, member_id, 500, tokens.customer(member_id))
    assert (own.status_code, own.json["code"]) == (403, "forbidden")
    assert _purchase(api, member_id, 500, tokens.customer(bob["member_id"])).status_code in (403, 404)
    assert _purchase(api, member_id, 500, tokens.service()).status_code == 403
    assert _member(api, member_id)["stars"] == 0


@pytest.mark.parametrize("tender", ["cash", "bank_card", "mobile_wallet", "voucher", "other"])
def test_every_listed_tender_earns_stars_at_the_till(api, member_with_card, tender):
    member_id, _ = member_with_card
    response = api.post(f"/v1/members/{member_id}/purchases", tokens.pos(), {"amount": money(1000), "tender": tender})
    assert response.status_code == 201 and response.json["stars"] == 10


@pytest.mark.parametrize("tender", ["crypto", "CASH", "gift_card", "", "cash "])
def test_a_tender_outside_the_list_is_a_validation_error(api, member_with_card, tender):
    member_id, _ = member_with_card
    response = api.post(f"/v1/members/{member_id}/purchases", tokens.pos(), {"amount": money(1000), "tender": tender})
    assert (response.status_code, response.json["code"]) == (422, "validation_error")


def test_a_purchase_above_one_thousand_is_limit_exceeded_and_earns_nothing(api, member_with_card):
    member_id, _ = member_with_card
    assert _purchase(api, member_id, 100_000).status_code == 201
    for amount in (100_001, 1_000_000_000_000):  # the second: the issue's 10,000,000,000-star purchase
        response = _purchase(api, member_id, amount)
        assert (response.status_code, response.json["code"]) == (422, "limit_exceeded"), amount
    assert _member(api, member_id)["stars"] == 1_000


def test_gold_members_earn_one_point_two_times_rounded_down(api, member_with_card):
    member_id, card_id = member_with_card
    api.pay(card_id, 25_000)  # 500 stars → gold
    member = _member(api, member_id)
    assert (member["stars"], member["tier"]) == (500, "gold")
    tx = api.pay(card_id, 1234).json
    assert tx["stars"] == 1234 * 2 * 12 // 1000 == 29


def test_a_refunded_payment_no_longer_counts_toward_gold(api, member_with_card):
    """Issue 11, finding 4: pay 250.00 (500 stars, gold), refund all of it: green again."""
    member_id, card_id = member_with_card
    payment = api.pay(card_id, 25_000).json
    refund = api.post(f"/v1/transactions/{payment['tx_id']}/refunds", tokens.pos(), {})
    assert refund.status_code == 201 and refund.json["stars"] == -500
    assert _member(api, member_id)["tier"] == "green"
    assert api.pay(card_id, 1000).json["stars"] == 20  # the green rate, not gold's 24


def test_stars_already_spent_still_leave_the_tier_tally_when_their_payment_is_refunded(api, member_with_card):
    """The refunded spend leaves the tally whole, even when the member had spent its stars (the
    refund then takes back less and records a shortfall)."""
    member_id, card_id = member_with_card
    payment = api.pay(card_id, 25_000).json  # 500 stars: gold
    spent = api.post(f"/v1/members/{member_id}/adjustments", tokens.agent(), {"stars": -500, "reason_code": "correction"})
    assert spent.status_code == 201
    assert api.pay(card_id, 1000).json["stars"] == 24  # gold rate; 524 earned this month
    refund = api.post(f"/v1/transactions/{payment['tx_id']}/refunds", tokens.pos(), {}).json
    assert (refund["stars"], refund["stars_shortfall"]) == (-24, 476)
    assert _member(api, member_id)["tier"] == "green"  # 24 earned stars still count, not 500


def test_rewards_catalogue_defaults_and_service_management(api, clock):
    assert [r["stars"] for r in api.get("/v1/rewards", tokens.pos()).json["items"]] == [25, 100, 200, 300, 400]
    added = api.request("PUT", "/v1/rewards/rw_mug", tokens.service(), {"name": "Mug", "stars": 150})
    assert added.status_code == 200 and added.json == {"reward_id": "rw_mug", "name": "Mug", "stars": 150}
    retired = api.request("DELETE", "/v1/rewards/rw_25", tokens.service())
    assert [r["reward_id"] for r in retired.json["items"]] == ["rw_100", "rw_mug", "rw_200", "rw_300", "rw_400"]
    assert api.request("PUT", "/v1/rewards/rw_x", tokens.agent(), {"name": "X", "stars": 5}).status_code == 403
    assert api.request("PUT", "/v1/rewards/rw_x", tokens.service(), {"name": "X", "stars": 0}).status_code == 422
    assert api.request("DELETE", "/v1/rewards/rw_nope", tokens.service()).status_code == 404
    assert api.get("/v1/rewards").status_code == 401


def test_redemption_spends_the_oldest_stars_first(api, member_with_card, clock):
    member_id, card_id = member_with_card
    api.pay(card_id, 1500)  # 30 stars in January's lot
    clock.advance(timedelta(days=40))
    api.pay(card_id, 2500)  # 50 stars in February's lot
    tx = _redeem(api, member_id, "rw_25").json
    assert (tx["kind"], tx["stars"], tx["stars_after"], tx["channel"]) == ("redemption", -25, 55, "pos")
    assert _member(api, member_id)["stars_expiring"] == [
        {"stars": 5, "expires_at": "2026-08-01T00:00:00.000Z"}, {"stars": 50, "expires_at": "2026-09-01T00:00:00.000Z"}]


def test_redemption_that_does_not_fit_is_insufficient_stars_and_changes_nothing(api, member_with_card):
    member_id, card_id = member_with_card
    api.pay(card_id, 1000)  # 20 stars
    response = _redeem(api, member_id, "rw_25")
    assert (response.status_code, response.json["code"]) == (409, "insufficient_stars")
    assert _member(api, member_id)["stars"] == 20
    assert _redeem(api, member_id, "rw_nope").status_code == 404
    assert _redeem(api, member_id, "rw_25", tokens.agent()).status_code == 403


def test_twenty_parallel_redemptions_of_25_from_100_stars_let_exactly_four_through(api, member_with_card):
    member_id, _ = member_with_card
    _purchase(api, member_id, 10_000)  # 100 stars
    results = [None] * 20
    barrier = threading.Barrier(20)

    def redeem(index):
        barrier.wait()
        results[index] = _redeem(api, member_id, "rw_25", tokens.pos("S1", f"T{index}"))

    threads = [threading.Thread(target=redeem, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.status_code for r in results].count(201) == 4
    assert {r.json["code"] for r in results if r.status_code != 201} == {"insufficient_stars"}
    assert _member(api, member_id)["stars"] == 0


def test_replayed_redemption_applies_once(api, member_with_card):
    member_id, _ = member_with_card
    _purchase(api, member_id, 10_000)
    first = _redeem(api, member_id, key="redeem-1")
    replay = _redeem(api, member_id, key="redeem-1")
    assert replay.json == first.json and replay.headers["Idempotent-Replayed"] == "true"
    assert _member(api, member_id)["stars"] == 75


def test_full_refund_credits_the_card_and_takes_back_the_stars(api, member_with_card):
    member_id, card_id = member_with_card
    payment = api.pay(card_id, 2000, tokens.pos("S1")).json
    response = api.post(f"/v1/transactions/{payment['tx_id']}/refunds", tokens.pos("S1"), {})
    assert response.status_code == 201
    refund = response.json
    assert (refund["kind"], refund["amount"], refund["stars"], refund["reverses"]) == ("refund", money(2000), -40, payment["tx_id"])
    assert (refund["store_id"], refund["stars_shortfall"], refund["stars_after"]) == ("S1", 0, 0)
    assert api.balance(card_id) == 50_000
    again = api.post(f"/v1/transactions/{payment['tx_id']}/refunds", tokens.pos("S1"), {})
    assert (again.status_code, again.json["code"]) == (409, "already_refunded")


def test_a_refund_names_its_payment_only_by_the_exact_transaction_id(api, member_with_card):
    """Transaction ids are opaque and canonical: a guessed, altered or v1-style id is not found."""
    member_id, card_id = member_with_card
    payment = api.pay(card_id, 2000).json
    tx_id = payment["tx_id"]
    flipped = tx_id[:-1] + ("A" if tx_id[-1] != "A" else "B")
    seq = len(api.ledger(card_id))
    for wrong in (flipped, tx_id + "A", tx_id.upper(), tx_id[:-2], f"tx_{card_id}_{seq}", f"tx_{card_id}_{seq:04d}",
                  "tx_" + "A" * 40, tx_id.replace("tx_", "TX_")):
        response = api.post(f"/v1/transactions/{wrong}/refunds", tokens.agent(), {})
        assert (response.status_code, response.json["code"]) == (404, "not_found"), wrong
    assert api.balance(card_id) == 48_000
    assert api.post(f"/v1/transactions/{tx_id}/refunds", tokens.agent(), {}).json["reverses"] == tx_id


def test_partial_refunds_never_exceed_the_payment_and_take_back_exactly_its_stars(api, member_with_card):
    member_id, card_id = member_with_card
    payment = api.pay(card_id, 1001).json  # 20 stars
    path = f"/v1/transactions/{payment['tx_id']}/refunds"
    taken = [api.post(path, tokens.agent(), {"amount": money(part)}).json["stars"] for part in (333, 333)]
    too_much = api.post(path, tokens.agent(), {"amount": money(336)})
    assert (too_much.status_code, too_much.json["code"]) == (409, "already_refunded")
    taken.append(api.post(path, tokens.agent(), {"amount": money(335)}).json["stars"])
    assert sum(taken) == -20 and taken == [-6, -7, -7]
    assert _member(api, member_id)["stars"] == 0 and api.balance(card_id) == 50_000


def test_refund_after_the_stars_were_spent_stops_at_zero_and_records_the_shortfall(api, member_with_card):
    member_id, card_id = member_with_card
    payment = api.pay(card_id, 1500).json  # 30 stars
    _redeem(api, member_id, "rw_25")
    refund = api.post(f"/v1/transactions/{payment['tx_id']}/refunds", tokens.agent(), {}).json
    assert (refund["stars"], refund["stars_shortfall"], refund["stars_after"]) == (-5, 25, 0)
    assert _member(api, member_id)["stars"] == 0


def test_only_the_payments_store_or_an_agent_may_refund(api, member_with_card):
    member_id, card_id = member_with_card
    payment = api.pay(card_id, 1000, tokens.pos("S1")).json
    path = f"/v1/transactions/{payment['tx_id']}/refunds"
    assert api.post(path, tokens.pos("S2"), {}).status_code == 403
    assert api.post(path, tokens.customer(member_id), {}).status_code == 403
    reload_tx = api.ledger(card_id)[-1]["tx_id"]
    assert api.post(f"/v1/transactions/{reload_tx}/refunds", tokens.agent(), {}).status_code == 422
    assert api.post("/v1/transactions/tx_crd_nope_1/refunds", tokens.agent(), {}).status_code == 404
    assert api.post("/v1/transactions/garbage/refunds", tokens.agent(), {}).status_code == 404
    assert api.post(path, tokens.supervisor(), {"amount": money(1000)}).status_code == 201


def test_replayed_refund_applies_once(api, member_with_card):
    member_id, card_id = member_with_card
    payment = api.pay(card_id, 1000).json
    path = f"/v1/transactions/{payment['tx_id']}/refunds"
    first = api.post(path, tokens.agent(), {"amount": money(400)}, key="refund-1")
    replay = api.post(path, tokens.agent(), {"amount": money(400)}, key="refund-1")
    assert replay.json == first.json and replay.headers["Idempotent-Replayed"] == "true"
    assert api.balance(card_id) == 50_000 - 1000 + 400


def test_expired_stars_never_show_and_the_daily_run_writes_them_off_once(api, member_with_card, clock):
    member_id, card_id = member_with_card
    api.pay(card_id, 1000)  # 20 stars, January lot: gone at 2026-08-01
    clock.set(datetime(2026, 7, 31, 23, 59, 59, tzinfo=timezone.utc))
    assert _member(api, member_id)["stars"] == 20
    clock.set(datetime(2026, 8, 1, tzinfo=timezone.utc))
    member = _member(api, member_id)
    assert (member["stars"], member["stars_expiring"]) == (0, [])
    runs = [star_service.expire_due_stars() for _ in range(2)]
    assert [(r.members_expired, r.stars_expired) for r in runs] == [(1, 20), (0, 0)]
    from chalicelib.store.members import member_entries
    expired = [e for e in member_entries(member_id) if e.kind == "stars_expired"]
    assert [(e.stars, e.stars_after, e.channel) for e in expired] == [(-20, 0, "system")]


def test_concurrent_expiry_runs_expire_nothing_twice(api, member_with_card, clock):
    member_id, _ = member_with_card
    _purchase(api, member_id, 5000)
    clock.advance(timedelta(days=400))
    results = []
    threads = [threading.Thread(target=lambda: results.append(star_service.expire_due_stars())) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r.stars_expired for r in results) == 50


def test_scheduled_expiry_function_writes_off_lapsed_stars(api, client, member_with_card, clock):
    member_id, _ = member_with_card
    _purchase(api, member_id, 3000)
    clock.advance(timedelta(days=400))
    event = client.events.generate_cw_event(source="aws.events", detail_type="Scheduled Event", detail={},
                                            resources=["arn:aws:events:us-east-1:000000000000:rule/expire_stars"])
    result = client.lambda_.invoke("expire_stars", event).payload
    assert result == {"members_checked": 1, "members_expired": 1, "stars_expired": 30}


def test_reward_with_an_invalid_id_is_a_validation_error_not_a_500(api, clock):
    response = api.request("PUT", "/v1/rewards/bad%2Cid", tokens.service(), {"name": "X", "stars": 5})
    assert (response.status_code, response.json["code"]) == (422, "validation_error")
