"""Idempotency-Key: replays apply nothing and return the first response."""
import threading
import uuid

from tests.conftest import money, tokens


def test_replayed_reload_applies_once_and_returns_the_first_response(api):
    card = api.issue()
    first = api.reload(card["card_id"], 1000, key="reload-1")
    for _ in range(19):
        replay = api.reload(card["card_id"], 1000, key="reload-1")
        assert replay.status_code == 201 and replay.json == first.json
        assert replay.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert api.balance(card["card_id"]) == 1000 and len(api.ledger(card["card_id"])) == 1


def test_concurrent_duplicates_apply_once(api):
    card = api.issue()
    statuses, bodies = [], []

    def send():
        response = api.reload(card["card_id"], 1000, key="same-key")
        statuses.append(response.status_code)
        bodies.append(response.json)

    threads = [threading.Thread(target=send) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(statuses) <= {201, 409}
    assert all(b["code"] == "request_in_progress" for s, b in zip(statuses, bodies) if s == 409)
    assert len({b["tx_id"] for s, b in zip(statuses, bodies) if s == 201}) == 1
    assert api.balance(card["card_id"]) == 1000 and len(api.ledger(card["card_id"])) == 1


def test_same_key_with_a_different_body_is_refused_and_changes_nothing(api):
    card = api.issue()
    api.reload(card["card_id"], 1000, key="k")
    response = api.reload(card["card_id"], 2000, key="k")
    assert (response.status_code, response.json["code"]) == (422, "idempotency_key_reused")
    other_card = api.issue()
    assert api.reload(other_card["card_id"], 1000, key="k").json["code"] == "idempotency_key_reused"
    assert api.balance(card["card_id"]) == 1000 and api.balance(other_card["card_id"]) == 0


def test_keys_are_scoped_to_the_principal(api):
    card = api.issue()
    assert api.reload(card["card_id"], 1000, tokens.agent("A1"), key="shared").status_code == 201
    second = api.reload(card["card_id"], 1000, tokens.agent("A2"), key="shared")
    assert second.status_code == 201 and "Idempotent-Replayed" not in second.headers
    assert api.balance(card["card_id"]) == 2000


def test_business_refusal_is_replayed_as_it_was(api):
    card = api.issue()
    refused = api.pay(card["card_id"], 500, key="pay-1")
    assert refused.json["code"] == "insufficient_funds"
    api.reload(card["card_id"], 1000)
    replay = api.pay(card["card_id"], 500, key="pay-1")
    assert (replay.status_code, replay.json) == (409, refused.json)
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.headers["Content-Type"] == "application/problem+json"
    assert api.balance(card["card_id"]) == 1000


def test_validation_and_authorization_failures_store_nothing(api):
    ada, bob = api.enrol(), api.enrol()
    card = api.issue(ada["member_id"])
    bad = api.post(f"/v1/cards/{card['card_id']}/reloads", tokens.agent(), {"amount": money(-1), "payment_ref": "p"}, key="k1")
    assert bad.status_code == 422
    assert api.reload(card["card_id"], 1000, tokens.agent(), key="k1").status_code == 201
    forbidden = api.reload(card["card_id"], 1000, tokens.customer(bob["member_id"]), key="k2")
    assert forbidden.status_code == 404
    bobs = api.issue(bob["member_id"])
    retried = api.reload(bobs["card_id"], 1000, tokens.customer(bob["member_id"]), key="k2")
    assert retried.status_code == 201 and "Idempotent-Replayed" not in retried.headers


def test_value_moving_posts_require_a_key(api):
    ada = api.enrol()
    card = api.issue(ada["member_id"])
    other = api.issue(ada["member_id"])
    calls = [
        ("/v1/members", tokens.service(), {"name": "X", "email": "x@example.com"}),
        ("/v1/cards", tokens.agent(), {}),
        (f"/v1/cards/{card['card_id']}/reloads", tokens.agent(), {"amount": money(1000), "payment_ref": "p"}),
        (f"/v1/cards/{card['card_id']}/payments", tokens.pos(), {"amount": money(100)}),
        (f"/v1/cards/{card['card_id']}/transfers", tokens.agent(), {"to_card_id": other["card_id"]}),
    ]
    for path, token, body in calls:
        response = api.post(path, token, body, key=None)
        assert (response.status_code, response.json["code"]) == (400, "idempotency_key_required"), path
    assert api.post(path, tokens.agent(), body, key="x" * 256).json["code"] == "validation_error"
    assert api.balance(card["card_id"]) == 0


def test_replayed_card_issue_returns_the_same_card(api):
    first = api.post("/v1/cards", tokens.pos(), {}, key="gift-1")
    replay = api.post("/v1/cards", tokens.pos(), {}, key="gift-1")
    assert replay.json == first.json and replay.headers["Idempotent-Replayed"] == "true"


def test_optional_key_is_honoured_on_freeze(api):
    card = api.issue()
    key = uuid.uuid4().hex
    first = api.post(f"/v1/cards/{card['card_id']}/freeze", tokens.agent(), key=key)
    api.post(f"/v1/cards/{card['card_id']}/unfreeze", tokens.agent(), key=None)
    replay = api.post(f"/v1/cards/{card['card_id']}/freeze", tokens.agent(), key=key)
    assert replay.json == first.json and replay.headers["Idempotent-Replayed"] == "true"
    assert api.get(f"/v1/cards/{card['card_id']}", tokens.agent()).json["status"] == "active"
