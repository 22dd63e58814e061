"""Change events on the `omnicard` bus (read back through a rule to an SQS queue in moto)."""
from collections import Counter

import boto3

from tests.conftest import tokens
from tests.streams.conftest import entry_records


def _journey(api):
    ada = api.enrol()
    card = api.issue(ada["member_id"])
    reload = api.reload(card["card_id"], 3000).json
    payment = api.pay(card["card_id"], 1000, tokens.pos("S5")).json
    return ada, card, reload, payment


def test_every_committed_change_reaches_the_bus_as_the_api_shows_it(api, drain, bus):
    ada, card, reload, payment = _journey(api)
    drain()

    received = bus.received()

    assert {event["source"] for event in received} == {"omnicard"}
    # enrol, stars earned by the payment; issue, reload, payment; the two ledger entries
    assert Counter(event["detail-type"] for event in received) == {
        "member.updated": 2, "card.updated": 3, "transaction.created": 2}
    assert len({event["detail"]["event_id"] for event in received}) == len(received)
    transactions = [event["detail"] for event in received if event["detail-type"] == "transaction.created"]
    assert [{k: v for k, v in t.items() if k != "event_id"} for t in transactions] == [reload, payment]
    latest_card = max((e["detail"] for e in received if e["detail-type"] == "card.updated"), key=lambda c: c["version"])
    read = api.get(f"/v1/cards/{card['card_id']}", tokens.agent()).json
    assert latest_card["member"] is None and read["member"]["stars"] == payment["stars"]  # loyalty: on reads only
    assert {k: v for k, v in latest_card.items() if k != "event_id"} == read | {"member": None}
    wallet = api.get(f"/v1/members/{ada['member_id']}", tokens.agent()).json
    latest_member = [e["detail"] for e in received if e["detail-type"] == "member.updated"][-1]
    assert latest_member["stars"] == wallet["stars"] == payment["stars"] > 0
    assert {k: v for k, v in latest_member.items() if k != "event_id"} == {
        k: v for k, v in wallet.items() if k not in ("cards", "as_of")}


def test_a_redelivered_change_is_sent_again_with_the_same_event_id_and_detail(api, deliveries, handler, bus):
    _journey(api)
    records = deliveries()
    first = bus.received()

    assert handler(records) == {"batchItemFailures": []}

    # Delivery is at least once: consumers de-duplicate on event_id, which names the change
    again = bus.received()[len(first):]
    assert sorted((e["detail"]["event_id"], e["detail-type"], str(e["detail"])) for e in again) == sorted(
        (e["detail"]["event_id"], e["detail-type"], str(e["detail"])) for e in first)


def test_a_bus_that_refuses_events_fails_those_records_and_they_are_sent_once_it_is_back(
        api, drain, handler, bus, deliveries):
    events = boto3.client("events")
    events.remove_targets(Rule="everything", EventBusName="omnicard", Ids=["queue"])
    events.delete_rule(Name="everything", EventBusName="omnicard")
    events.delete_event_bus(Name="omnicard")
    ada, card, reload, payment = _journey(api)

    # The pump retries each failing record and then parks it, like the on-failure destination
    delivered = deliveries()
    parked = [entry["record"] for entry in drain.pump.parked]
    changes = [r for r in delivered if not r["dynamodb"]["Keys"]["PK"]["S"].startswith(("IDEM#", "EMAIL#", "CARDNO#", "AUDIT#"))]
    assert sorted(r["dynamodb"]["SequenceNumber"] for r in parked) == sorted(
        {r["dynamodb"]["SequenceNumber"] for r in changes})
    # A failed record is reported alone: the views were still brought up to date
    wallet = api.get(f"/v1/members/{ada['member_id']}", tokens.agent()).json
    assert wallet["cards"][0]["balance"]["amount"] == 2000
    response = handler(parked)
    assert sorted(f["itemIdentifier"] for f in response["batchItemFailures"]) == sorted(
        r["dynamodb"]["SequenceNumber"] for r in parked)

    # When the bus is back and the parked records are replayed, every change is published
    events.create_event_bus(Name="omnicard")
    bus.subscribe()
    assert handler(parked) == {"batchItemFailures": []}
    received = bus.received()
    assert Counter(e["detail-type"] for e in received) == {"member.updated": 2, "card.updated": 3,
                                                           "transaction.created": 2}
    assert {e["detail"]["tx_id"] for e in received if e["detail-type"] == "transaction.created"} == {
        reload["tx_id"], payment["tx_id"]}
    assert len(entry_records(parked)) == 2
