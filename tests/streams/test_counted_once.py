"""The counters (channel report, liability) are added once per stream batch, and still count each
ledger entry exactly once however the event source mapping delivers: again, bisected, from a
reported failure, or after the handler died half-way through a batch (README, "Scale")."""
import random

import pytest

from chalicelib.store import reports as report_store
from chalicelib.streams import changes, events, ledger
from chalicelib.store import events as event_store
from tests.conftest import money, tokens
from tests.reconciled import assert_reconciled
from tests.streams.conftest import entry_records


class Crash(BaseException):
    """The function dies (a timeout, out of memory): no response, Lambda retries the batch."""


def _traffic(api):
    """A few members and gift cards, every channel, stars, refunds and a transfer: ~60 records."""
    members = [api.enrol() for _ in range(3)]
    cards = [api.issue(m["member_id"]) for m in members]
    gift = api.post("/v1/cards", tokens.pos("S2"), {}).json
    for n, card in enumerate(cards):
        api.reload(card["card_id"], 5000, tokens.customer(members[n]["member_id"], "web"))
        paid = api.pay(card["card_id"], 700 + n, tokens.pos(f"S{n + 1}")).json
        api.pay(card["card_id"], 300, tokens.customer(members[n]["member_id"]))
        api.post(f"/v1/transactions/{paid['tx_id']}/refunds", tokens.pos(f"S{n + 1}"), {"amount": money(200)})
    api.reload(gift["card_id"], 2000, tokens.pos("S2"))
    api.pay(gift["card_id"], 450, tokens.pos("S2"))
    api.post(f"/v1/members/{members[0]['member_id']}/purchases", tokens.pos("S1"), {"amount": money(1500), "tender": "cash"})
    api.post(f"/v1/cards/{cards[0]['card_id']}/transfers", tokens.agent(), {"to_card_id": cards[1]["card_id"],
                                                                             "amount": money(1000)})


def _reports(api):
    return (api.get("/v1/reports/channels", tokens.supervisor()).json,
            api.get("/v1/reports/liability", tokens.supervisor()).json)


@pytest.fixture
def recorded(api, deliveries, views):
    """The traffic's stream records, the reports in-order delivery made, and empty views."""
    _traffic(api)
    records = deliveries()
    expected = _reports(api)
    views.wipe()
    assert _reports(api)[1]["stars"] == 0
    return records, expected


def test_a_bisected_redelivery_counts_nothing_again(api, recorded, handler):
    records, expected = recorded
    assert handler(records) == {"batchItemFailures": []}

    # The event source mapping retried the batch (the first response was lost) and bisected it
    half = len(records) // 2
    for part in (records[:half], records[half:], records[:half // 2], records[half // 2:half], records):
        assert handler(part) == {"batchItemFailures": []}

    assert _reports(api) == expected


def test_a_record_that_failed_before_counting_is_counted_when_it_comes_again(api, recorded, handler, monkeypatch):
    records, expected = recorded
    entries = entry_records(records)
    broken = {entries[3]["dynamodb"]["SequenceNumber"], entries[7]["dynamodb"]["SequenceNumber"]}
    parse = changes.from_record

    def failing(record):
        if record["dynamodb"]["SequenceNumber"] in broken:
            raise RuntimeError("cannot read this record yet")
        return parse(record)

    monkeypatch.setattr(changes, "from_record", failing)
    response = handler(records)
    assert {f["itemIdentifier"] for f in response["batchItemFailures"]} == broken
    assert _reports(api) != expected  # the rest is counted, the two are not

    # Then the mapping retries from the first failure: the same records (and the ones after them) again
    monkeypatch.setattr(changes, "from_record", parse)
    first = min(index for index, r in enumerate(records) if r["dynamodb"]["SequenceNumber"] in broken)
    assert handler(records[first:]) == {"batchItemFailures": []}
    assert handler(records) == {"batchItemFailures": []}

    assert _reports(api) == expected


def test_a_record_that_failed_after_counting_is_not_counted_again(api, recorded, handler, monkeypatch):
    records, expected = recorded
    target = entry_records(records)[2]["dynamodb"]["SequenceNumber"]
    event_of = events.event_of

    def refusing(change):
        if getattr(change, "key", None) == {"PK": target_pk(records, target), "SK": target_sk(records, target)}:
            raise RuntimeError("the bus is down for this one")
        return event_of(change)

    monkeypatch.setattr(events, "event_of", refusing)
    assert handler(records) == {"batchItemFailures": [{"itemIdentifier": target}]}
    monkeypatch.setattr(events, "event_of", event_of)
    index = next(i for i, r in enumerate(records) if r["dynamodb"]["SequenceNumber"] == target)
    assert handler(records[index:]) == {"batchItemFailures": []}

    assert _reports(api) == expected


def target_pk(records, sequence):
    return next(r["dynamodb"]["Keys"]["PK"]["S"] for r in records if r["dynamodb"]["SequenceNumber"] == sequence)


def target_sk(records, sequence):
    return next(r["dynamodb"]["Keys"]["SK"]["S"] for r in records if r["dynamodb"]["SequenceNumber"] == sequence)


def test_a_handler_that_died_after_counting_or_between_transactions_counts_once_on_the_retry(
        api, recorded, handler, monkeypatch):
    records, expected = recorded
    # Given a batch counted in several transactions (one report row each), and a function that dies
    # after the second of them committed
    monkeypatch.setattr(report_store, "ROWS_PER_TRANSACTION", 1)
    transact = report_store.transact
    calls = {"n": 0}

    def dying(items):
        calls["n"] += 1
        transact(items)
        if calls["n"] == 2:
            raise Crash()

    monkeypatch.setattr(report_store, "transact", dying)
    with pytest.raises(Crash):
        handler(records)
    # … and, on the retry, dies again after every transaction but before sending its events
    monkeypatch.setattr(report_store, "transact", transact)
    publish = event_store.publish_many

    def crash(*args, **kwargs):
        raise Crash()

    monkeypatch.setattr(event_store, "publish_many", crash)
    with pytest.raises(Crash):
        handler(records)

    # Then the third delivery completes, and every entry is counted exactly once
    monkeypatch.setattr(event_store, "publish_many", publish)
    assert handler(records) == {"batchItemFailures": []}
    assert _reports(api) == expected


@pytest.mark.parametrize("seed", range(4))
def test_any_delivery_the_event_source_mapping_may_make_counts_each_entry_once(
        api, recorded, handler, monkeypatch, drain, seed):
    """Random batches from a checkpoint, bisection after a crash, records failing before or after
    the counters once each, and retries from the first reported failure — as the event source
    mapping does — leave the counters equal to the ledger's fold (omnicard reconcile)."""
    records, expected = recorded
    rng = random.Random(seed)
    sequences = [r["dynamodb"]["SequenceNumber"] for r in records]
    fail_early = set(rng.sample(sequences, 4))
    fail_late = set(rng.sample(sequences, 4)) - fail_early
    parse, event_of, transact = changes.from_record, events.event_of, report_store.transact
    late_keys = {}
    for record in records:
        if record["dynamodb"]["SequenceNumber"] in fail_late:
            late_keys[(record["dynamodb"]["Keys"]["PK"]["S"], record["dynamodb"]["Keys"]["SK"]["S"])] = \
                record["dynamodb"]["SequenceNumber"]

    def early(record):
        if record["dynamodb"]["SequenceNumber"] in fail_early:
            fail_early.discard(record["dynamodb"]["SequenceNumber"])
            raise RuntimeError("early")
        return parse(record)

    def late(change):
        key = getattr(change, "key", None) or {"PK": change.item["PK"], "SK": change.item["SK"]}
        sequence = late_keys.pop((key["PK"], key["SK"]), None)
        if sequence is not None:
            raise RuntimeError("late")
        return event_of(change)

    crashes = {"left": 3}

    def sometimes_dying(items):
        transact(items)
        if crashes["left"] and rng.random() < 0.3:
            crashes["left"] -= 1
            raise Crash()

    monkeypatch.setattr(changes, "from_record", early)
    monkeypatch.setattr(events, "event_of", late)
    monkeypatch.setattr(report_store, "transact", sometimes_dying)
    monkeypatch.setattr(report_store, "ROWS_PER_TRANSACTION", 3)

    checkpoint, deliveries_made = 0, 0
    while checkpoint < len(records):
        batch = records[checkpoint:checkpoint + rng.randint(1, 25)]
        while True:
            deliveries_made += 1
            assert deliveries_made < 500
            try:
                response = handler(batch)
            except Crash:
                if len(batch) > 1 and rng.random() < 0.5:
                    batch = batch[:len(batch) // 2]  # BisectBatchOnFunctionError
                continue
            failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
            if not failed:
                checkpoint += len(batch)
            else:
                checkpoint += min(i for i, r in enumerate(batch) if r["dynamodb"]["SequenceNumber"] in failed)
            break

    assert not fail_early  # every early failure happened (and was retried)
    assert _reports(api) == expected
    assert_reconciled(drain=drain)
