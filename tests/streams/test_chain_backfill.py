"""A stage that ran before the verifiable ledger: its entries were written unchained. Once
`omnicard backfill-chain` links them, the member's feed shows the same links as the card's
transactions, and the links are the one change an entry may get (reconcile, with stream history,
still holds)."""
from __future__ import annotations

from chalicelib.domain.ledger_chain import first_break
from chalicelib.ops.chain import backfill_chain
from chalicelib.settings import get_settings
from tests.conftest import money, tokens
from tests.reconciled import assert_reconciled


def test_backfilled_links_reach_the_feed_and_new_entries_continue_the_chain(api, drain, monkeypatch):
    # Given a card and a member whose transactions were written by a version without the chain
    monkeypatch.setattr("chalicelib.services.ledger.link_after", lambda head, count: None)
    ada = api.enrol()
    member = ada["member_id"]
    card = api.issue(member)["card_id"]
    api.reload(card, 5_000)
    api.pay(card, 1_000, tokens.pos("S1"))
    api.post(f"/v1/members/{member}/purchases", tokens.pos("S1"), {"amount": money(2_000), "tender": "cash"})
    drain()
    feed = api.get(f"/v1/members/{member}/activity", tokens.agent()).json["items"]
    assert len(feed) == 3 and all(t["hash"] is None and t["prev_hash"] is None for t in feed)
    assert api.get(f"/v1/cards/{card}", tokens.agent()).json["ledger_head"] is None
    monkeypatch.undo()

    # When the backfill runs (the card and the member: two chains), and the stream delivers its links
    result = backfill_chain(get_settings().ledger_table)
    assert (len(result.chained), result.entries, result.skipped) == (2, 3, [])
    api.pay(card, 500, tokens.pos("S1"))  # the first entry written after it continues the chain
    drain()

    # Then the card's chain verifies to its head, and the feed shows exactly what the card shows
    transactions = api.get(f"/v1/cards/{card}/transactions", tokens.agent()).json["items"][::-1]
    head = api.get(f"/v1/cards/{card}", tokens.agent()).json["ledger_head"]
    assert len(transactions) == 3 and first_break(transactions, head) is None
    feed = api.get(f"/v1/members/{member}/activity", tokens.agent()).json["items"]
    assert {t["tx_id"]: t for t in transactions}.items() <= {t["tx_id"]: t for t in feed}.items()
    assert all(t["hash"] for t in feed)
    assert_reconciled(drain=drain)  # views and stream history included
