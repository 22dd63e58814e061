"""Faults at the botocore layer — throttling, cancelled transactions, timeouts before and after
DynamoDB applied a write, a crash after commit and before the response, a crash half-way through
a stream batch — each followed by the client's retry with the same Idempotency-Key: the change is
applied once, the client gets the same answer, and every invariant holds."""
from __future__ import annotations

from chalicelib.settings import get_settings
from chalicelib.store.client import dynamodb
from tests.conftest import money, tokens
from tests.faults.injector import Crash, read_timeout, throttled, transaction_conflict
from tests.reconciled import assert_reconciled


def _member_card(api, balance=10_000):
    member = api.enrol()["member_id"]
    card = api.issue(member)["card_id"]
    api.reload(card, balance)
    return member, card


def _payments(api, card):
    return [t for t in api.ledger(card) if t["kind"] == "payment"]


def test_throttling_that_botocore_rides_out_is_invisible_and_applies_once(api, faults, drain):
    member, card = _member_card(api)
    fault = faults.before_send("TransactWriteItems", throttled, times=2)

    paid = api.pay(card, 1_500, key="till-1")

    assert fault.struck == 2 and paid.status_code == 201
    assert api.balance(card) == 8_500 and len(_payments(api, card)) == 1
    assert_reconciled(drain=drain)


def test_throttling_that_outlasts_the_retries_is_503_and_the_retry_with_the_key_applies_once(api, faults, drain):
    member, card = _member_card(api)
    faults.before_send("TransactWriteItems", throttled, times=dynamodb().meta.config.retries["total_max_attempts"])

    refused = api.pay(card, 1_500, key="till-1")
    retried = api.pay(card, 1_500, key="till-1")
    again = api.pay(card, 1_500, key="till-1")

    assert (refused.status_code, refused.json["code"], refused.headers["Retry-After"]) == (503, "service_unavailable", "1")
    assert retried.status_code == 201 and "Idempotent-Replayed" not in retried.headers
    assert (again.status_code, again.json, again.headers["Idempotent-Replayed"]) == (201, retried.json, "true")
    assert api.balance(card) == 8_500 and _payments(api, card) == [retried.json]
    assert_reconciled(drain=drain)


def test_cancelled_transactions_are_planned_again_from_a_fresh_read_and_apply_once(api, faults, drain):
    member, card = _member_card(api)
    other = api.issue(member)["card_id"]
    fault = faults.before_send("TransactWriteItems", transaction_conflict, times=3)

    moved = api.post(f"/v1/cards/{card}/transfers", tokens.agent(), {"to_card_id": other, "amount": money(2_500)})

    assert fault.struck == 3 and moved.status_code == 201
    assert (api.balance(card), api.balance(other)) == (7_500, 2_500)
    assert_reconciled(drain=drain)


def test_conflicts_outlasting_the_write_attempts_are_409_and_the_retry_with_the_key_applies_once(api, faults, drain):
    member, card = _member_card(api)
    faults.before_send("TransactWriteItems", transaction_conflict, times=get_settings().write_attempts)

    refused = api.pay(card, 2_000, tokens.customer(member, "app"), key="order-1")
    retried = api.pay(card, 2_000, tokens.customer(member, "app"), key="order-1")

    assert (refused.status_code, refused.json["code"]) == (409, "concurrent_update")
    assert retried.status_code == 201 and "Idempotent-Replayed" not in retried.headers
    assert api.balance(card) == 8_000 and _payments(api, card) == [retried.json]
    assert_reconciled(drain=drain)


def test_a_timeout_before_the_write_reached_dynamodb_is_retried_by_botocore_and_applies_once(api, faults, drain):
    member, card = _member_card(api)
    fault = faults.before_send("TransactWriteItems", read_timeout, times=1)

    paid = api.pay(card, 1_000, key="till-1")

    assert fault.struck == 1 and paid.status_code == 201
    assert api.balance(card) == 9_000 and _payments(api, card) == [paid.json]
    assert_reconciled(drain=drain)


def test_a_timeout_after_dynamodb_committed_the_payment_applies_it_once(api, faults, drain):
    """The response to TransactWriteItems is lost after DynamoDB committed it, and botocore sends the
    same transaction again, which now fails its conditions (moto, DynamoDB Local and any retry
    without botocore's ClientRequestToken). The payment must not be taken a second time: the
    request may say it is still in progress, and the client's retry gets the committed payment."""
    member, card = _member_card(api)
    fault = faults.after_send("TransactWriteItems", read_timeout, times=1)

    paid = api.pay(card, 1_000, key="till-1")
    retried = api.pay(card, 1_000, key="till-1")

    assert fault.struck == 1
    assert api.balance(card) == 9_000, [t["tx_id"] for t in _payments(api, card)]
    assert (paid.status_code, paid.json.get("code")) in ((201, None), (409, "request_in_progress")), paid.json
    assert retried.status_code == 201 and _payments(api, card) == [retried.json]
    assert_reconciled(drain=drain)


def test_a_refusal_whose_record_write_lost_its_response_is_answered_as_the_refusal_and_replayed(api, faults, drain):
    """A refusal's first response is stored by one PutItem of its own, conditioned on the key being
    new. That PutItem is applied and its response lost; botocore's resend meets the record it
    wrote: this request must see its own answer — the refusal, not a replay or request_in_progress —
    and the client's retry gets it replayed."""
    member, card = _member_card(api, balance=500)
    fault = faults.after_send("PutItem", read_timeout, times=1, table=get_settings().ledger_table)

    refused = api.pay(card, 1_000, key="till-1")
    retried = api.pay(card, 1_000, key="till-1")

    assert fault.struck == 1
    assert (refused.status_code, refused.json["code"]) == (409, "insufficient_funds")
    assert "Idempotent-Replayed" not in refused.headers
    assert (retried.status_code, retried.json, retried.headers["Idempotent-Replayed"]) == (409, refused.json, "true")
    assert api.balance(card) == 500 and _payments(api, card) == []
    assert_reconciled(drain=drain)


def test_a_duplicate_that_loses_the_race_for_the_key_replays_the_winners_response(api, faults, drain):
    """Two requests under one key read "no record" and both plan; the first commits. The second's
    transaction fails on the key's condition (and the card's version): it reads the record and
    answers with the winner's response, as a replay, having moved nothing."""
    member, card = _member_card(api)
    winner, sent = [], []

    def duplicate_commits_first(request, **_):
        if not sent:
            sent.append(True)
            winner.append(api.pay(card, 1_000, key="till-1"))  # the duplicate, between our read and our write

    faults._register("before-send.dynamodb.TransactWriteItems", duplicate_commits_first)
    loser = api.pay(card, 1_000, key="till-1")

    assert winner[0].status_code == 201 and "Idempotent-Replayed" not in winner[0].headers
    assert (loser.status_code, loser.json, loser.headers["Idempotent-Replayed"]) == (201, winner[0].json, "true")
    assert api.balance(card) == 9_000 and _payments(api, card) == [winner[0].json]
    assert_reconciled(drain=drain)


def test_a_crash_after_commit_and_before_the_response_is_replayed_on_the_retry(api, faults, drain):
    member, card = _member_card(api)
    faults.after_call("TransactWriteItems", times=1)

    crashed = api.pay(card, 1_000, tokens.pos("S1", "T4"), key="till-4-sale-9")
    retried = api.pay(card, 1_000, tokens.pos("S1", "T4"), key="till-4-sale-9")

    assert crashed.status_code == 500 and "Traceback" not in crashed.body.decode()
    assert retried.status_code == 201 and retried.headers["Idempotent-Replayed"] == "true"
    assert api.balance(card) == 9_000 and _payments(api, card) == [retried.json]
    assert retried.json["stars"] == 20
    assert_reconciled(drain=drain)


def test_a_crash_after_a_transfer_committed_is_replayed_and_moves_the_money_once(api, faults, drain):
    member, card = _member_card(api)
    other = api.issue(member)["card_id"]
    faults.after_call("TransactWriteItems", times=1)
    owner = tokens.customer(member, "web")

    crashed = api.post(f"/v1/cards/{card}/transfers", owner, {"to_card_id": other}, key="move-all")
    retried = api.post(f"/v1/cards/{card}/transfers", owner, {"to_card_id": other}, key="move-all")

    assert crashed.status_code == 500
    assert retried.status_code == 201 and retried.headers["Idempotent-Replayed"] == "true"
    assert retried.json["out"]["amount"] == money(-10_000)
    assert (api.balance(card), api.balance(other)) == (0, 10_000)
    assert_reconciled(drain=drain)


def test_a_view_write_failing_mid_batch_is_retried_and_every_view_ends_exact(api, faults, drain):
    member, card = _member_card(api)
    for amount in (400, 700, 1_100):
        api.pay(card, amount, tokens.pos("S2"))
    api.post(f"/v1/members/{member}/purchases", tokens.pos(), {"amount": money(3_000), "tender": "cash"})
    # the batch's counter transaction (one per batch) fails even after botocore's retries
    fault = faults.before_send("TransactWriteItems", throttled, times=4, skip=0, table=get_settings().views_table)

    assert_reconciled(drain=drain)
    assert fault.struck == 4


def test_a_crash_half_way_through_a_stream_batch_is_redelivered_and_every_view_ends_exact(api, drain):
    member, card = _member_card(api, 5_000)
    api.request("PUT", f"/v1/cards/{card}/auto-reload", tokens.customer(member),
                {"threshold": money(2_000), "amount": money(2_500), "payment_ref": "psp-auto"})
    for amount in (900, 1_300, 2_000):
        api.pay(card, amount, tokens.pos("S1"))
    pump = drain.pump
    deliver = pump._deliver
    crashes = []

    def crash_half_way(event):
        if not crashes:
            half = event["Records"][: len(event["Records"]) // 2]
            deliver({**event, "Records": half})  # the same shard's function, half-way
            crashes.append(len(half))
            raise Crash("the stream function died half-way through its batch")
        return deliver(event)

    pump._deliver = crash_half_way
    try:
        assert_reconciled(drain=drain)
    finally:
        pump._deliver = deliver
    assert crashes and crashes[0] > 0
    auto_reloads = [t for t in api.ledger(card) if t["kind"] == "auto_reload"]
    assert len(auto_reloads) == 1 and api.balance(card) == 5_000 - 4_200 + 2_500
