"""Webhooks on `make run`'s stack (local.server.running_stack), over real sockets: subscribe over
HTTP, pay over HTTP, and a receiver on 127.0.0.1 that fails its first delivery gets the retry,
signed as the `standardwebhooks` library verifies — delivered from the server's own process by the
same handler and queue wiring as deployed (local/webhooks.py)."""
from __future__ import annotations

import json
import time
import uuid

from standardwebhooks import Webhook as Verifier

from local.server import Stack
from tests.conftest import tokens
from tests.local.http import Http
from tests.webhook_receiver import receiver


def test_a_payment_made_over_http_reaches_a_loopback_subscriber_signed_after_a_failed_first_attempt(stack: Stack):
    http = Http(stack.url)
    with receiver(script=[500]) as hook:
        status, webhook = http.call("POST", "/v1/webhooks", tokens.service(),
                                    {"url": hook.url, "event_types": ["transaction.created"]})
        assert status == 201, webhook
        status, listed = http.call("GET", "/v1/webhooks", tokens.service())
        assert status == 200 and webhook["secret"] not in json.dumps(listed)

        status, member = http.call("POST", "/v1/members", tokens.service(),
                                   {"name": "Hook", "email": f"{uuid.uuid4().hex[:10]}@example.com"})
        status, card = http.call("POST", "/v1/cards", tokens.agent(), {"member_id": member["member_id"]})
        status, _ = http.call("POST", f"/v1/cards/{card['card_id']}/reloads", tokens.agent(),
                              {"amount": {"amount": 2_000, "currency": "USD"}, "payment_ref": "psp"})
        status, payment = http.call("POST", f"/v1/cards/{card['card_id']}/payments", tokens.pos("S1"),
                                    {"amount": {"amount": 500, "currency": "USD"}})
        assert status == 201, payment

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(
                r.status == 200 and json.loads(r.body)["data"]["tx_id"] == payment["tx_id"] for r in hook.requests):
            time.sleep(0.1)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(hook.requests) < 3:
            time.sleep(0.1)
        received = list(hook.requests)

    [failed] = [r for r in received if r.status == 500]
    [retry] = [r for r in received if r.status == 200 and r.headers["webhook-id"] == failed.headers["webhook-id"]]
    assert retry.at - failed.at <= 5  # the local stage retries within 5 s of a failure
    verified = Verifier(webhook["secret"]).verify(retry.body, retry.headers)
    assert verified["type"] == "transaction.created"
    delivered = {json.loads(r.body)["data"]["tx_id"]: Verifier(webhook["secret"]).verify(r.body, r.headers)["data"]
                 for r in received if r.status == 200}
    assert {k: v for k, v in delivered[payment["tx_id"]].items() if k != "event_id"} == payment
    assert len(delivered) == 2  # the reload and the payment, each delivered (the failed one again)
