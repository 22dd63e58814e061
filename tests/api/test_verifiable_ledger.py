"""The verifiable ledger over the API: every transaction carries prev_hash and hash, each card and
each member (for card-less transactions) is one chain, the card's ledger_head is its newest hash,
and a replay answers with the very same hashes."""
from __future__ import annotations

from datetime import timedelta

from chalicelib.domain.ledger_chain import GENESIS, first_break
from chalicelib.services import stars as star_service
from tests.conftest import money, tokens


def _chain(api, card_id):
    items = api.get(f"/v1/cards/{card_id}/transactions?limit=100", tokens.agent()).json["items"][::-1]
    return items, api.get(f"/v1/cards/{card_id}", tokens.agent()).json["ledger_head"]


def test_every_card_transaction_links_to_the_previous_one_and_the_head_is_the_newest(api, drain):
    ada = api.enrol()
    card = api.issue(ada["member_id"])["card_id"]
    other = api.issue()["card_id"]
    assert _chain(api, card) == ([], None)

    api.reload(card, 10_000)
    payment = api.pay(card, 2_000, tokens.pos("S1")).json
    api.post(f"/v1/transactions/{payment['tx_id']}/refunds", tokens.pos("S1"), {"amount": money(500)})
    transfer = api.post(f"/v1/cards/{card}/transfers", tokens.agent(), {"to_card_id": other, "amount": money(300)}).json
    api.post(f"/v1/cards/{card}/adjustments", tokens.agent(), {"amount": money(-100), "reason_code": "correction"})
    api.request("PUT", f"/v1/cards/{other}/auto-reload", tokens.agent(),
                {"threshold": money(1_000), "amount": money(2_000), "payment_ref": "psp-auto"})
    api.reload(other, 2_000)
    api.pay(other, 1_500, tokens.pos("S2"))  # leaves it below its threshold: the stream auto-reloads
    drain()

    items, head = _chain(api, card)
    assert [t["kind"] for t in items] == ["reload", "payment", "refund", "transfer_out", "adjustment"]
    assert items[0]["prev_hash"] == GENESIS
    assert [t["prev_hash"] for t in items[1:]] == [t["hash"] for t in items[:-1]]
    assert head == items[-1]["hash"] and first_break(items, head) is None
    # a transfer's legs are each in their own card's chain
    others, other_head = _chain(api, other)
    assert [t["kind"] for t in others] == ["transfer_in", "reload", "payment", "auto_reload"]
    assert others[0]["prev_hash"] == GENESIS and others[0]["hash"] == transfer["in"]["hash"]
    assert first_break(others, other_head) is None


def test_a_replay_answers_with_the_same_hashes_and_moves_no_head(api):
    card = api.issue(api.enrol()["member_id"])["card_id"]
    first = api.reload(card, 2_000, key="same-key")
    head = _chain(api, card)[1]
    again = api.reload(card, 2_000, key="same-key")
    assert again.json == first.json and first.json["hash"] == head
    assert _chain(api, card)[1] == head


def test_card_less_transactions_chain_per_member_and_the_feed_shows_the_same_hashes(api, drain, clock):
    bob = api.enrol()
    member = bob["member_id"]
    purchase = api.post(f"/v1/members/{member}/purchases", tokens.pos("S1"),
                        {"amount": money(30_000), "tender": "cash"}).json
    redemption = api.post(f"/v1/members/{member}/redemptions", tokens.pos("S1"), {"reward_id": "rw_25"}).json
    adjustment = api.post(f"/v1/members/{member}/adjustments", tokens.agent(), {"stars": 40, "reason_code": "goodwill"})
    clock.advance(timedelta(days=200))
    star_service.expire_due_stars()
    drain()

    feed = api.get(f"/v1/members/{member}/activity?limit=100", tokens.agent()).json["items"][::-1]
    assert [t["kind"] for t in feed] == ["purchase", "redemption", "adjustment", "stars_expired"]
    assert all(t["card_id"] is None for t in feed)
    assert feed[0]["prev_hash"] == GENESIS and feed[0]["hash"] == purchase["hash"]
    assert feed[1]["hash"] == redemption["hash"] and adjustment.status_code == 201
    assert first_break(feed, feed[-1]["hash"]) is None
