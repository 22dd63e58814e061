"""Abuse limits at their boundaries: reloads per card per hour and per day (the per-principal request
rate is the edge's: tests/local/test_edge_rate_limit.py)."""
import json
from datetime import timedelta

import pytest

from chalicelib.settings import reset_settings
from tests.conftest import ROOT, tokens


@pytest.fixture
def strict_rules(tmp_path, monkeypatch):
    rules = json.loads((ROOT / "chalicelib" / "rules.json").read_text())
    rules["limits"] = {"reloads_per_card_per_hour": 3, "reload_amount_per_card_per_day": 3000,
                       "requests_per_principal_per_minute": 30}
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(rules))
    monkeypatch.setenv("OMNICARD_RULES_FILE", str(path))
    reset_settings()
    yield
    monkeypatch.delenv("OMNICARD_RULES_FILE")
    reset_settings()


def test_reloads_past_the_hourly_count_are_limit_exceeded_until_the_next_hour(api, clock, strict_rules):
    card = api.issue()
    assert [api.reload(card["card_id"], 500).status_code for _ in range(3)] == [201, 201, 201]
    refused = api.reload(card["card_id"], 500)
    assert (refused.status_code, refused.json["code"]) == (422, "limit_exceeded")
    assert api.balance(card["card_id"]) == 1500
    clock.advance(timedelta(hours=1))
    assert api.reload(card["card_id"], 500).status_code == 201


def test_reload_amount_per_day_is_inclusive(api, clock, strict_rules):
    card = api.issue()
    assert api.reload(card["card_id"], 2500).status_code == 201
    assert api.reload(card["card_id"], 501).json["code"] == "limit_exceeded"
    assert api.reload(card["card_id"], 500).status_code == 201
    clock.advance(timedelta(days=1))
    assert api.reload(card["card_id"], 3000).status_code == 201


def test_a_till_firing_thirty_payments_at_once_is_not_rate_limited(api):
    card = api.issue()
    api.reload(card["card_id"], 50_000)
    assert {api.pay(card["card_id"], 100, tokens.pos("S1", "T1")).status_code for _ in range(30)} == {201}
