"""The daily channel report shows, per store, the offline till items and what they left uncollected,
each item counted once however often its record is delivered or its item resent."""
from datetime import timedelta

from tests.conftest import money, tokens


def _sale(key, card, amount):
    return {"item_key": key, "card_number": card["card_number"], "amount": money(amount),
            "occurred_at": "2026-01-15T11:00:00Z"}


def _store(report, store_id):
    (pos,) = [c for c in report["channels"] if c["channel"] == "pos"]
    return next(s for s in pos["stores"] if s["store_id"] == store_id)


def test_the_report_counts_each_stores_offline_items_and_uncollected_once(api, drain, deliveries, handler, clock):
    gift = api.issue(token=tokens.pos("S1"))
    api.reload(gift["card_id"], 1_000)
    batch = [_sale("a", gift, 600), _sale("b", gift, 700), _sale("c", gift, 250)]
    assert api.post("/v1/pos/batches", tokens.pos("S1"), {"items": batch}).status_code == 200
    api.post("/v1/pos/batches", tokens.pos("S1"), {"items": batch})  # resent: all duplicates
    api.post("/v1/pos/batches", tokens.pos("S2", "T9"), {"items": [_sale("a", gift, 100)]})  # another till
    records = deliveries()
    handler(records)  # every record delivered twice

    report = api.get("/v1/reports/channels?date=2026-01-15", tokens.supervisor()).json

    s1, s2 = _store(report, "S1"), _store(report, "S2")
    assert s1["offline"] == {"count": 3, "uncollected": [money(300 + 250)]}
    assert s2["offline"] == {"count": 1, "uncollected": [money(100)]}
    payments = next(k for k in s1["kinds"] if k["kind"] == "payment")
    assert payments["count"] == 2 and payments["totals"] == [money(-1_000)]
    assert all(s.get("offline") is None for c in report["channels"] if c["channel"] != "pos" for s in c["stores"])


def test_offline_items_count_on_the_day_they_were_applied(api, drain, clock):
    gift = api.issue(token=tokens.pos("S1"))
    clock.advance(timedelta(days=1))  # sent on the 16th, taken on the 15th
    api.post("/v1/pos/batches", tokens.pos("S1"), {"items": [_sale("late", gift, 100)]})
    drain()

    assert _store(api.get("/v1/reports/channels?date=2026-01-16", tokens.supervisor()).json, "S1")["offline"] == {
        "count": 1, "uncollected": [money(100)]}
