"""Whatever the stream does — redeliver a batch, reorder records across items, duplicate an
INSERT (moto emits a keys-only INSERT before an upsert) — every view ends as one in-order
delivery leaves it, no counter counts twice, no auto-reload repeats, and a poison record is
reported alone while the rest of its batch is applied."""
import copy
import random

import boto3

from chalicelib.settings import get_settings
from tests.conftest import money, tokens
from tests.streams.conftest import entry_records


def _everything(api):
    """A journey touching every view: members, registered and gift cards, every channel, stars,
    a transfer, a freeze, a registration and an auto-reload."""
    ada, bob = api.enrol(), api.enrol()
    card = api.issue(ada["member_id"], tokens.customer(ada["member_id"]))
    spare = api.issue(ada["member_id"])
    gift = api.post("/v1/cards", tokens.pos("S3"), {}).json
    api.reload(card["card_id"], 4000, tokens.customer(ada["member_id"], "web"))
    api.reload(gift["card_id"], 1500, tokens.pos("S3"))
    api.request("PUT", f"/v1/cards/{card['card_id']}/auto-reload", tokens.agent(),
                {"threshold": money(1000), "amount": money(2000), "payment_ref": "psp-9"})
    api.pay(card["card_id"], 1200, tokens.pos("S1"))
    api.post(f"/v1/members/{bob['member_id']}/purchases", tokens.pos("S1"), {"amount": money(3000), "tender": "cash"})
    api.post(f"/v1/cards/{card['card_id']}/transfers", tokens.agent(), {"to_card_id": spare["card_id"],
                                                                        "amount": money(2000)})  # below: auto-reload
    api.post("/v1/cards/register", tokens.agent(), {"card_number": gift["card_number"], "member_id": bob["member_id"]})
    api.pay(gift["card_id"], 700, tokens.pos("S3"))
    api.post(f"/v1/cards/{spare['card_id']}/freeze", tokens.customer(ada["member_id"]), key=None)
    return card


def _keys_only(record):
    duplicate = copy.deepcopy(record)
    duplicate["dynamodb"]["NewImage"] = dict(duplicate["dynamodb"]["Keys"])
    duplicate["dynamodb"].pop("OldImage", None)
    return duplicate


def test_redelivery_reordering_and_duplicate_inserts_leave_every_view_as_one_in_order_delivery(
        api, deliveries, handler, views, bus, drain):
    card = _everything(api)
    records = deliveries()
    records += deliveries()  # what the auto-reload wrote
    expected = views.summed()
    sent = bus.received()
    ledger = api.ledger(card["card_id"])
    assert [t["kind"] for t in ledger].count("auto_reload") == 1
    assert any(key[0] == "REPORT" for key in expected) and any(key[0] == "LIABILITY" for key in expected)

    # When every view is rebuilt from scratch by hostile deliveries
    views.wipe()
    inserts = [r for r in records if r["eventName"] == "INSERT"]
    shuffled = records[:]
    random.Random(4).shuffle(shuffled)
    for batch in (list(reversed(records)), shuffled, [_keys_only(r) for r in inserts] + inserts + inserts, records):
        assert handler(batch) == {"batchItemFailures": []}

    # Then every view item is exactly what in-order delivery made (the counters summed over their
    # shards, as they are read), with nothing counted twice …
    assert views.summed() == expected
    # … the auto-reload did not happen again, and nothing new was written to the ledger
    assert api.ledger(card["card_id"]) == ledger
    assert drain() == 0
    # … and every change sent again kept its event_id
    again = bus.received()[len(sent):]
    assert {e["detail"]["event_id"] for e in again} == {e["detail"]["event_id"] for e in sent}


def test_reports_count_each_transaction_once_however_often_it_arrives(api, deliveries, handler):
    ada = api.enrol()
    card = api.issue(ada["member_id"])
    api.reload(card["card_id"], 5000, tokens.pos("S1"))
    api.pay(card["card_id"], 800, tokens.pos("S1"))
    records = deliveries()
    report = api.get("/v1/reports/channels", tokens.supervisor()).json
    liability = api.get("/v1/reports/liability", tokens.supervisor()).json

    for _ in range(3):
        assert handler(entry_records(records) + records[::-1]) == {"batchItemFailures": []}

    assert api.get("/v1/reports/channels", tokens.supervisor()).json == report
    assert api.get("/v1/reports/liability", tokens.supervisor()).json == liability == {
        "stored_value": [money(4200)], "stars": 16, "as_of": liability["as_of"]}
    pos = {kind["kind"]: (kind["count"], kind["totals"]) for kind in report["channels"][0]["kinds"]}
    assert pos == {"payment": (1, [money(-800)]), "reload": (1, [money(5000)])}


def test_a_poison_record_is_reported_alone_and_the_rest_of_the_batch_applied(api, deliveries, handler, views):
    ada = api.enrol()
    card = api.issue(ada["member_id"])
    api.reload(card["card_id"], 1000)
    api.reload(card["card_id"], 2000)
    records = deliveries()
    first, second = entry_records(records)
    poison = copy.deepcopy(second)
    poison["dynamodb"]["SequenceNumber"] = "999999999999999"
    poison["dynamodb"]["Keys"]["SK"] = poison["dynamodb"]["NewImage"]["SK"] = {"S": "TX#000000000099"}
    poison["dynamodb"]["NewImage"]["kind"] = {"S": "not-a-kind"}
    views.wipe()

    response = handler([first, poison, second])

    assert response == {"batchItemFailures": [{"itemIdentifier": "999999999999999"}]}
    feed = api.get(f"/v1/members/{ada['member_id']}/activity", tokens.agent()).json["items"]
    assert [t["amount"]["amount"] for t in feed] == [2000, 1000]
    [phone] = api.get("/v1/reports/channels", tokens.supervisor()).json["channels"]
    assert phone["kinds"] == [{"kind": "reload", "count": 2, "totals": [money(3000)], "stars": 0}]


def test_a_redelivery_completes_as_of_when_the_first_delivery_stopped_after_counting(api, deliveries, handler, views):
    ada = api.enrol()
    card = api.issue(ada["member_id"])
    api.reload(card["card_id"], 1000, tokens.pos("S1"))
    records = deliveries()
    report = api.get("/v1/reports/channels", tokens.supervisor()).json
    liability = api.get("/v1/reports/liability", tokens.supervisor()).json
    # Given the first delivery counted everything but stopped before moving the as_of items
    client = boto3.client("dynamodb")
    for item in views.items():
        if item["SK"] == "AS_OF":
            client.delete_item(TableName=get_settings().views_table,
                               Key={"PK": {"S": item["PK"]}, "SK": {"S": "AS_OF"}})
    assert api.get("/v1/reports/liability", tokens.supervisor()).json["as_of"] is None

    assert handler(records) == {"batchItemFailures": []}

    assert api.get("/v1/reports/channels", tokens.supervisor()).json == report
    assert api.get("/v1/reports/liability", tokens.supervisor()).json == liability
