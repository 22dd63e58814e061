"""Webhook delivery, as deployed: the stream handler publishes to the bus, a rule sends the events
to the delivery queue (moto), and the app's `deliver_webhooks` handler POSTs them to subscribers
— here real HTTP servers on 127.0.0.1 — verified on the receiver's side with the `standardwebhooks`
library, never with our own signing code."""
from __future__ import annotations

import json
import time

import boto3
import pytest
from standardwebhooks import Webhook as Verifier

from chalicelib.settings import get_settings, reset_settings
from local.webhooks import WebhookPump, create_webhook_queues
from tests.conftest import tokens
from tests.webhook_receiver import receiver


@pytest.fixture
def hooks(client, monkeypatch):
    """The delivery queue and its dead letters, the local stage's loopback setting, a fast retry
    schedule (1 s, then 2 s; 4 s window), and pump() handing the queue to the app's handler."""
    queues = create_webhook_queues(boto3.client("events"), boto3.client("sqs"), "omnicard")
    for name, value in {"OMNICARD_WEBHOOK_QUEUE_URL": queues.queue_url,
                        "OMNICARD_WEBHOOK_DEAD_LETTER_URL": queues.dead_letter_url,
                        "OMNICARD_WEBHOOK_HTTP_LOOPBACK": "true", "OMNICARD_WEBHOOK_RETRY_DELAYS": "1,2",
                        "OMNICARD_WEBHOOK_RETRY_SECONDS": "4", "OMNICARD_WEBHOOK_TIMEOUT_SECONDS": "1"}.items():
        monkeypatch.setenv(name, value)
    reset_settings()
    get_settings()  # parsed now, from this environment (the test client's calls add the local stage's values)
    pump = WebhookPump(boto3.client("sqs"), queues, lambda event: client.lambda_.invoke("deliver_webhooks", event).payload)
    yield pump
    reset_settings()


def subscribe(api, url: str, event_types: list[str] | None = None) -> dict:
    body = {"url": url} if event_types is None else {"url": url, "event_types": event_types}
    response = api.post("/v1/webhooks", tokens.service(), body)
    assert response.status_code == 201, response.json
    return response.json


def dead_letters() -> list[dict]:
    url = get_settings().webhook_dead_letter_url
    found = []
    while messages := boto3.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        found += [json.loads(m["Body"]) for m in messages]
    return found


def pay(api) -> dict:
    card = api.issue(api.enrol()["member_id"])["card_id"]
    api.reload(card, 3_000)
    return api.pay(card, 1_000, tokens.pos("S1")).json


def test_a_failed_first_attempt_is_retried_and_the_retry_verifies_with_standardwebhooks(api, drain, hooks):
    with receiver(script=[500]) as hook:
        webhook = subscribe(api, hook.url, ["transaction.created"])
        payment = pay(api)
        drain()

        received = hook.wait_for(3, pump=hooks.drain)  # the reload's and the payment's, one of them twice

    [first] = [r for r in received if r.status == 500]
    [retry] = [r for r in received if r.headers["webhook-id"] == first.headers["webhook-id"] and r.status == 200]
    assert len(received) == 3 and retry.at - first.at < 5  # the first retry comes within 5 s of the failure
    verified = Verifier(webhook["secret"]).verify(retry.body, retry.headers)
    assert verified["type"] == "transaction.created"
    assert retry.headers["webhook-id"] == verified["data"]["event_id"]
    assert {k: v for k, v in verified["data"].items() if k != "event_id"} in api.ledger(payment["card_id"])
    assert retry.headers["content-type"] == "application/json"
    assert verified["timestamp"].endswith("Z")
    for request in received:  # every attempt is signed, each with its own timestamp
        Verifier(webhook["secret"]).verify(request.body, request.headers)
    with pytest.raises(Exception):  # a tampered body does not verify
        Verifier(webhook["secret"]).verify(retry.body.replace(b"transaction", b"Transaction"), retry.headers)


def test_each_subscriber_gets_only_the_types_it_chose(api, drain, hooks):
    with receiver() as cards, receiver() as everything:
        subscribe(api, cards.url, ["card.updated"])
        subscribe(api, everything.url)
        pay(api)
        drain()
        hooks.drain()

        wanted = {"card.updated", "member.updated", "transaction.created"}
        deadline = time.monotonic() + 15
        while {json.loads(r.body)["type"] for r in everything.requests} != wanted and time.monotonic() < deadline:
            time.sleep(0.05)  # (hooks.drain() delivers synchronously; this only guards a slow receiver thread)
        types = {json.loads(r.body)["type"] for r in everything.requests}
        assert {json.loads(r.body)["type"] for r in cards.requests} == {"card.updated"}
    assert types == {"card.updated", "member.updated", "transaction.created"}


def test_a_dead_endpoint_neither_holds_back_nor_duplicates_the_others_and_ends_on_the_dead_letter_queue(api, drain, hooks):
    with receiver() as healthy, receiver(script=[503] * 20) as dead:
        subscribe(api, healthy.url, ["transaction.created"])
        dead_hook = subscribe(api, dead.url, ["transaction.created"])
        payment = pay(api)
        drain()
        hooks.drain()
        assert len(healthy.requests) == 2  # reload and payment, at once

        deadline = time.monotonic() + 12
        while time.monotonic() < deadline and len(dead.requests) < 6:
            hooks.drain()
            time.sleep(0.1)
        time.sleep(0.3)
        hooks.drain()

    assert len(healthy.requests) == 2  # never again, whatever the dead one does
    ids = [r.headers["webhook-id"] for r in dead.requests]
    assert len(ids) == 6 and len(set(ids)) == 2  # two events, each tried 3 times (at 0, 1 and 3 s)
    parked = dead_letters()
    assert len(parked) == 2
    assert {p["retry"]["webhook_ids"] == [dead_hook["webhook_id"]] for p in parked} == {True}
    assert payment["tx_id"] in {p["event"]["detail"].get("tx_id") for p in parked}
    assert {p["dead_letter"]["attempts"] for p in parked} == {3}


def test_a_dead_letter_moved_back_to_the_queue_is_delivered_to_the_subscriber_it_missed(api, drain, hooks):
    with receiver(script=[500] * 3) as hook, receiver() as other:
        webhook = subscribe(api, hook.url, ["transaction.created"])
        subscribe(api, other.url, ["transaction.created"])
        api.reload(api.issue()["card_id"], 3_000)
        drain()
        hook.wait_for(3, pump=hooks.drain)
        time.sleep(0.2)
        hooks.drain()
        [parked] = dead_letters()

        # the operator's redrive (README, Webhooks): the dead letter's body goes back as it is
        boto3.client("sqs").send_message(QueueUrl=get_settings().webhook_queue_url, MessageBody=json.dumps(parked))
        hooks.drain()

        assert [r.status for r in hook.requests] == [500, 500, 500, 200]
        assert len(other.requests) == 1
        Verifier(webhook["secret"]).verify(hook.requests[-1].body, hook.requests[-1].headers)


def test_no_answer_within_the_timeout_is_a_failure_and_is_retried(api, drain, hooks):
    with receiver(pause=[2.5]) as slow:  # the first answer comes after the 1 s timeout of this stage
        webhook = subscribe(api, slow.url, ["transaction.created"])
        api.reload(api.issue()["card_id"], 3_000)
        drain()
        slow.wait_for(2, pump=hooks.drain)

    assert len({r.headers["webhook-id"] for r in slow.requests}) == 1 and len(slow.requests) == 2
    Verifier(webhook["secret"]).verify(slow.requests[1].body, slow.requests[1].headers)


def test_the_stream_handler_never_calls_a_subscriber(api, drain, hooks):
    with receiver(pause=[30] * 5) as hanging:
        subscribe(api, hanging.url)
        pay(api)

        drain()  # every view and event of the journey

        assert hanging.connections == 0  # the ledger stream is done without a single call to it
        waiting = boto3.client("sqs").get_queue_attributes(QueueUrl=get_settings().webhook_queue_url,
                                                          AttributeNames=["ApproximateNumberOfMessages"])
        assert int(waiting["Attributes"]["ApproximateNumberOfMessages"]) >= 5  # its events wait on the queue


def test_delivery_refuses_an_address_that_is_not_public_and_dead_letters_it_at_once(api, drain, hooks, monkeypatch):
    with receiver() as hook:
        subscribe(api, hook.url, ["transaction.created"])  # accepted while the stage allowed loopback
        monkeypatch.setenv("OMNICARD_WEBHOOK_HTTP_LOOPBACK", "false")  # as a deployed stage delivers
        reset_settings()
        get_settings()
        api.reload(api.issue()["card_id"], 3_000)
        drain()
        hooks.drain()

        assert hook.connections == 0
    [parked] = dead_letters()
    assert parked["dead_letter"]["refused"] == parked["retry"]["webhook_ids"]


def test_a_message_that_is_not_a_change_event_is_reported_for_sqs_to_redeliver(client, hooks):
    records = [{"messageId": "m1", "body": "not json"}, {"messageId": "m2", "body": json.dumps({"detail-type": "x"})}]

    response = client.lambda_.invoke("deliver_webhooks", {"Records": records}).payload

    assert response == {"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m2"}]}


def test_an_unsubscribed_webhook_gets_nothing_more(api, drain, hooks):
    with receiver() as hook:
        webhook = subscribe(api, hook.url, ["transaction.created"])
        assert api.request("DELETE", f"/v1/webhooks/{webhook['webhook_id']}", tokens.service()).status_code == 204
        api.reload(api.issue()["card_id"], 3_000)
        drain()
        hooks.drain()

        assert hook.connections == 0
