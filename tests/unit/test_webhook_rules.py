"""Webhook rules without AWS: our signature is what the `standardwebhooks` library verifies, the
retry schedules meet the contract (local: 3+ attempts, first retry within 5 s, all within 60 s;
deployed: retries for at least 24 hours), and which addresses delivery may connect to."""
from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks import Webhook as Verifier

from chalicelib.domain import webhooks as rules
from chalicelib.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 1, 15, 12, 0, tzinfo=timezone.utc)


def test_a_new_secret_is_whsec_and_base64_of_at_least_24_random_bytes():
    secrets = {rules.new_secret() for _ in range(50)}

    assert len(secrets) == 50
    assert all(s.startswith("whsec_") and len(base64.b64decode(s[6:], validate=True)) >= 24 for s in secrets)


@given(st.dictionaries(st.text(), st.one_of(st.integers(), st.text(), st.none()), max_size=5), st.text(min_size=1, max_size=40))
def test_our_signature_verifies_with_the_standardwebhooks_library(data, message_id):
    secret = rules.new_secret()
    payload = rules.body("card.updated", "2026-01-15T12:00:00Z", data)
    now = datetime.now(timezone.utc)

    verified = Verifier(secret).verify(payload, rules.headers(secret, message_id, now, payload))

    assert verified == {"type": "card.updated", "timestamp": "2026-01-15T12:00:00Z", "data": data}


def test_a_signature_with_another_secret_or_an_old_timestamp_does_not_verify():
    secret, payload = rules.new_secret(), rules.body("card.updated", "t", {})

    with pytest.raises(Exception):
        Verifier(rules.new_secret()).verify(payload, rules.headers(secret, "e1", datetime.now(timezone.utc), payload))
    with pytest.raises(Exception):  # receivers refuse replays of old deliveries: each attempt signs afresh
        Verifier(secret).verify(payload, rules.headers(secret, "e1", datetime.now(timezone.utc) - timedelta(hours=1), payload))


def attempts(delays: tuple[int, ...], window: int) -> list[float]:
    """When each attempt starts if every one fails at once."""
    at, times, attempt = 0.0, [0.0], 1
    while (delay := rules.next_delay(attempt, T0, T0 + timedelta(seconds=at), delays, window)) is not None:
        at += delay
        times.append(at)
        attempt += 1
    return times


def test_the_local_stages_schedule_meets_the_contract():
    stage = json.loads((ROOT / ".chalice" / "config.json").read_text())["stages"]["local"]["environment_variables"]
    settings = Settings.model_validate({"jwt_secret": "x", "webhook_retry_delays": stage["OMNICARD_WEBHOOK_RETRY_DELAYS"],
                                        "webhook_retry_seconds": stage["OMNICARD_WEBHOOK_RETRY_SECONDS"]})

    times = attempts(settings.webhook_retry_delays, settings.webhook_retry_seconds)

    assert len(times) >= 3 and times[1] <= 5
    # the last attempt starts within the window and, with the 10 s timeout, ends within 60 s
    assert times[-1] + settings.webhook_timeout_seconds <= 60
    assert stage["OMNICARD_WEBHOOK_HTTP_LOOPBACK"] == "true"


def test_the_deployed_schedule_retries_for_at_least_24_hours_and_never_beyond_sqs_delays():
    settings = Settings.model_validate({"jwt_secret": "x"})

    times = attempts(settings.webhook_retry_delays, settings.webhook_retry_seconds)

    assert times[-1] >= 24 * 3600 and times[1] <= 5
    assert max(settings.webhook_retry_delays) <= 900  # SQS DelaySeconds' maximum
    assert not settings.webhook_http_loopback


@pytest.mark.parametrize("address, loopback, allowed", [
    ("93.184.216.34", False, True), ("2606:2800:220:1:248:1893:25c8:1946", False, True),
    ("127.0.0.1", False, False), ("127.0.0.1", True, True), ("::1", True, True),
    ("10.1.2.3", True, False), ("172.16.0.1", False, False), ("192.168.1.1", False, False),
    ("169.254.169.254", True, False), ("fd00::1", False, False), ("fe80::1%eth0", False, False),
    ("::ffff:10.0.0.1", False, False), ("::ffff:127.0.0.1", False, False), ("0.0.0.0", True, False),
    ("100.64.0.1", False, False), ("224.0.0.1", False, False),
])
def test_delivery_connects_to_public_addresses_only(address, loopback, allowed):
    assert rules.may_connect(address, loopback=loopback) is allowed


def test_a_subscription_without_types_wants_every_type_and_one_with_types_only_those():
    every = rules.Webhook(webhook_id="whk_1", url="https://x.example", event_types=None, created_at="t")
    cards = rules.Webhook(webhook_id="whk_2", url="https://x.example", event_types=["card.updated"], created_at="t")

    assert all(every.wants(t) for t in rules.EVENT_TYPES)
    assert [t for t in rules.EVENT_TYPES if cards.wants(t)] == ["card.updated"]
