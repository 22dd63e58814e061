"""Webhook subscriptions over the API (service role): subscribe, list without secrets, delete;
hostile URLs refused; the Idempotency-Key replays the first 201, secret included."""
from __future__ import annotations

import base64

import boto3
import pytest

from chalicelib.domain.webhooks import EVENT_TYPES
from chalicelib.settings import get_settings, reset_settings
from tests.conftest import tokens

URL = "https://hooks.example.com/omnicard"


def subscribe(api, body, key="auto"):
    return api.post("/v1/webhooks", tokens.service(), body, key=key)


def test_a_subscription_shows_its_secret_once_and_is_listed_without_it(api):
    created = subscribe(api, {"url": URL, "event_types": ["transaction.created"]})

    assert created.status_code == 201, created.json
    body = created.json
    assert set(body) == {"webhook_id", "url", "event_types", "secret", "created_at"}
    assert body["url"] == URL and body["event_types"] == ["transaction.created"]
    assert body["secret"].startswith("whsec_") and len(base64.b64decode(body["secret"][6:])) >= 24
    listed = api.get("/v1/webhooks", tokens.service())
    assert listed.status_code == 200
    assert listed.json == {"items": [{k: v for k, v in body.items() if k != "secret"}]}
    assert body["secret"] not in listed.body.decode()


def test_without_event_types_a_subscription_takes_every_type(api):
    body = subscribe(api, {"url": URL}).json

    assert body["event_types"] is None


def test_the_secret_is_stored_encrypted_never_in_plain(api):
    body = subscribe(api, {"url": URL}, key="k-plain").json

    raw = b""
    for table in boto3.client("dynamodb").list_tables()["TableNames"]:
        raw += repr(boto3.client("dynamodb").scan(TableName=table)["Items"]).encode()
    assert body["secret"].encode() not in raw
    assert body["secret"][6:].encode() not in raw
    assert body["webhook_id"].encode() in raw


def test_the_same_key_replays_the_first_201_with_the_same_secret_and_subscribes_once(api):
    first = subscribe(api, {"url": URL}, key="wh-1")
    again = subscribe(api, {"url": URL}, key="wh-1")

    assert again.status_code == 201 and again.json == first.json
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert len(api.get("/v1/webhooks", tokens.service()).json["items"]) == 1
    assert subscribe(api, {"url": URL + "/other"}, key="wh-1").json["code"] == "idempotency_key_reused"


def test_a_subscription_needs_an_idempotency_key(api):
    response = subscribe(api, {"url": URL}, key=None)

    assert response.status_code == 400 and response.json["code"] == "idempotency_key_required"


def test_delete_unsubscribes_and_a_second_delete_is_404(api):
    webhook_id = subscribe(api, {"url": URL}).json["webhook_id"]

    gone = api.request("DELETE", f"/v1/webhooks/{webhook_id}", tokens.service())
    assert gone.status_code == 204 and not gone.body
    assert api.get("/v1/webhooks", tokens.service()).json == {"items": []}
    again = api.request("DELETE", f"/v1/webhooks/{webhook_id}", tokens.service())
    assert again.status_code == 404 and again.json["code"] == "not_found"
    assert api.request("DELETE", "/v1/webhooks/whk_nope", tokens.service()).status_code == 404


@pytest.mark.parametrize("url", [
    "http://hooks.example.com/x",  # plain http to a public host
    "ftp://hooks.example.com/x", "hooks.example.com/x", "https://", "https:///path", "//hooks.example.com",
    "https://user:pass@hooks.example.com/x", "https://hooks.example.com@evil.example/x",
    "https://127.0.0.1/x", "https://10.0.0.8/x", "https://169.254.169.254/latest/meta-data",
    "https://[::1]/x", "https://[fd00::1]/x", "https://[::ffff:127.0.0.1]/x", "https://0.0.0.0/x",
    "https://localhost/x", "https://api.localhost/x", "https://metadata.google.internal/x",
    "https://2130706433/x", "https://0x7f.1/x", "https://hooks.example.com:0/x", "https://hooks.example.com:99999/x",
    "https://hooks.example.com/x#frag", "https://hooks.example.com/ x", "https://hooks.example.com/\u00e9",
    "https://exa mple.com/", "https://" + "a" * 2050 + ".com/", "javascript:alert(1)", "https://-bad-.com/",
])
def test_hostile_or_internal_urls_are_refused_with_422(api, url):
    response = subscribe(api, {"url": url})

    assert response.status_code == 422, (url, response.json)
    assert response.json["code"] == "validation_error"
    assert api.get("/v1/webhooks", tokens.service()).json == {"items": []}


@pytest.mark.parametrize("body", [
    {"url": URL, "event_types": ["transaction.deleted"]}, {"url": URL, "event_types": []},
    {"url": URL, "event_types": "card.updated"}, {"url": 5}, {}, {"url": URL, "secret": "whsec_mine"},
])
def test_unknown_event_types_and_bad_bodies_are_422(api, body):
    response = subscribe(api, body)

    assert response.status_code == 422 and response.json["code"] == "validation_error"


def test_plain_http_is_allowed_to_loopback_only_where_the_stage_says(api, monkeypatch):
    monkeypatch.setenv("OMNICARD_WEBHOOK_HTTP_LOOPBACK", "false")  # a deployed stage (a local stack may have run)
    reset_settings()
    get_settings()
    assert subscribe(api, {"url": "http://127.0.0.1:9/hook"}).status_code == 422  # a deployed stage's default

    monkeypatch.setenv("OMNICARD_WEBHOOK_HTTP_LOOPBACK", "true")  # the local stage (.chalice/config.json)
    reset_settings()
    get_settings()
    for url in ("http://127.0.0.1:9/hook", "http://localhost:8080/hook"):
        assert subscribe(api, {"url": url}).status_code == 201
    for url in ("http://10.0.0.1/hook", "http://example.com/hook", "http://127.0.0.2/hook"):
        assert subscribe(api, {"url": url}).status_code == 422
    monkeypatch.delenv("OMNICARD_WEBHOOK_HTTP_LOOPBACK")
    reset_settings()


def test_every_event_type_can_be_chosen(api):
    body = subscribe(api, {"url": URL, "event_types": list(EVENT_TYPES)}).json

    assert body["event_types"] == list(EVENT_TYPES)


@pytest.mark.parametrize("role", ["customer", "pos", "agent", "supervisor"])
def test_only_the_service_role_manages_webhooks(api, role):
    token = {"customer": tokens.customer("mem_00000000000000000000"), "pos": tokens.pos(), "agent": tokens.agent(),
             "supervisor": tokens.supervisor()}[role]

    assert api.post("/v1/webhooks", token, {"url": URL}).status_code == 403
    assert api.get("/v1/webhooks", token).status_code == 403
    assert api.request("DELETE", "/v1/webhooks/whk_00000000000000000000", token).status_code == 403
