"""The card-number pepper of a deployed stage comes from an SSM SecureString parameter, read once
per process, never from the function's environment; local stages keep their settings value. It
keys both the card-number guard items and the sealing of transaction ids."""
from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator

import boto3
import pytest

from chalicelib import settings
from chalicelib.domain.ledger import parse_tx_id, tx_id_for
from chalicelib.settings import SettingsError, card_number_pepper, reset_settings
from chalicelib.store.client import ssm
from tests.conftest import tokens

PARAMETER = "/omnicard/test/card-number-pepper"
PEPPER = "f" * 16 + "0123456789abcdef0123456789abcdef"


@pytest.fixture
def stage_parameter(aws, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The stage names its parameter (as the template does); yields the GetParameter calls made."""
    boto3.client("ssm").put_parameter(Name=PARAMETER, Value=PEPPER, Type="SecureString")
    monkeypatch.setenv("OMNICARD_CARD_NUMBER_PEPPER_PARAMETER", PARAMETER)
    reset_settings()
    settings._pepper_from_parameter.cache_clear()
    calls: list[str] = []
    ssm().meta.events.register("provide-client-params.ssm.GetParameter", lambda params, **_: calls.append(params["Name"]))
    yield calls
    settings._pepper_from_parameter.cache_clear()
    reset_settings()


def _guard_key(number: str, pepper: str) -> str:
    return "CARDNO#" + hmac.new(pepper.encode(), number.encode(), hashlib.sha256).hexdigest()


def test_issued_cards_are_found_by_the_parameters_pepper_read_once(api, stage_parameter):
    member = api.enrol()

    first = api.issue(member["member_id"])
    second = api.issue(member["member_id"])
    found = api.get(f"/v1/cards?number={second['card_number']}", tokens.agent())

    assert found.status_code == 200 and [card["card_id"] for card in found.json["items"]] == [second["card_id"]]
    items = boto3.client("dynamodb").scan(TableName="omnicard-ledger")["Items"]
    guards = {item["PK"]["S"] for item in items if item["PK"]["S"].startswith("CARDNO#")}
    assert guards == {_guard_key(first["card_number"], PEPPER), _guard_key(second["card_number"], PEPPER)}
    assert stage_parameter == [PARAMETER], "the parameter is read once per process, then cached"


def test_transaction_ids_are_sealed_with_the_parameters_pepper(aws, stage_parameter):
    sealed = tx_id_for("crd_0123456789abcdef0123", 7)

    assert parse_tx_id(sealed) == ("crd_0123456789abcdef0123", 7)
    settings._pepper_from_parameter.cache_clear()
    boto3.client("ssm").put_parameter(Name=PARAMETER, Value=PEPPER[::-1], Type="SecureString", Overwrite=True)
    assert parse_tx_id(sealed) is None, "an id sealed under another pepper does not open"


def test_a_short_pepper_in_the_parameter_stops_the_card_routes(aws, stage_parameter):
    boto3.client("ssm").put_parameter(Name=PARAMETER, Value="too-short", Type="SecureString", Overwrite=True)

    with pytest.raises(SettingsError, match="at least 32"):
        card_number_pepper()


def test_without_a_parameter_the_settings_pepper_is_used_and_ssm_is_not_called(aws):
    calls: list[str] = []
    ssm().meta.events.register("provide-client-params.ssm.GetParameter", lambda params, **_: calls.append(params["Name"]))

    assert card_number_pepper() == "omnicard-local-pepper"
    assert calls == []
