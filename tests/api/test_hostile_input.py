"""Input built to break the parser, the token check or the id lookup gets a 4xx problem+json —
never a 500 — and changes nothing (issue 11, items 5 and 7)."""
import json
import time

import jwt
import pytest

from tests.conftest import TEST_SECRET, money, tokens


def _problem(response, status, code):
    assert response.status_code == status, response.body
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json["code"] == code
    assert set(response.json) >= {"type", "title", "status", "detail", "code"}
    assert response.json["status"] == status


@pytest.fixture
def card(api):
    return api.issue()


@pytest.fixture
def paid(api, card):
    """A card with a till payment on it: (card, the payment's tx_id)."""
    assert api.reload(card["card_id"], 10_000).status_code == 201
    payment = api.pay(card["card_id"], 2_000)
    assert payment.status_code == 201
    return card, payment.json["tx_id"]


@pytest.mark.parametrize("depth", [500, 990, 1_000, 10_000])
@pytest.mark.parametrize("opener,closer", [("[", "]"), ('{"a":', "}")])
def test_deeply_nested_json_is_a_validation_error(api, card, depth, opener, closer):
    raw = '{"amount":' + opener * depth + "1" + closer * depth + ',"payment_ref":"p"}'
    response = api.request("POST", f"/v1/cards/{card['card_id']}/reloads", tokens.agent(), key="deep", raw=raw)
    _problem(response, 422, "validation_error")
    assert api.balance(card["card_id"]) == 0


def test_deeply_nested_json_just_under_the_body_limit_is_a_validation_error(api, card):
    depth = 32 * 1024 - 40  # 64 KiB of brackets: the deepest body the size limit lets through
    raw = '{"a":' + "[" * depth + "]" * depth + "}"
    response = api.request("POST", f"/v1/cards/{card['card_id']}/reloads", tokens.agent(), key="deep", raw=raw)
    _problem(response, 422, "validation_error")


@pytest.mark.parametrize("raw", [
    '{"amount":{"amount":' + "9" * 5_000 + ',"currency":"USD"},"payment_ref":"p"}',
    '{"amount":{"amount":1e400,"currency":"USD"},"payment_ref":"p"}',
    '{"amount":{"amount":-1e400,"currency":"USD"},"payment_ref":"p"}',
    '{"amount":{"amount":NaN,"currency":"USD"},"payment_ref":"p"}',
    '{"amount":{"amount":Infinity,"currency":"USD"},"payment_ref":"p"}',
    '{"amount":{"amount":1000.0,"currency":"USD"},"payment_ref":"p"}',
    '{"amount":{"amount":1E3,"currency":"USD"},"payment_ref":"p"}',
    '{"amount":{"amount":"1000","currency":"USD"},"payment_ref":"p"}',
], ids=["5000-digits", "1e400", "-1e400", "NaN", "Infinity", "1000.0", "1E3", "string"])
def test_huge_or_non_integer_numbers_are_validation_errors(api, card, raw):
    response = api.request("POST", f"/v1/cards/{card['card_id']}/reloads", tokens.agent(), key="big", raw=raw)
    _problem(response, 422, "validation_error")
    assert api.balance(card["card_id"]) == 0


def _signed(**claims):
    base = {"sub": "someone", "exp": int(time.time()) + 60}
    return jwt.encode({**base, **claims}, TEST_SECRET, algorithm="HS256")


@pytest.mark.parametrize("claims", [
    {"role": ["agent"], "agent_id": "A1"},
    {"role": {"agent": True}, "agent_id": "A1"},
    {"role": 7, "agent_id": "A1"},
    {"role": None, "agent_id": "A1"},
    {"role": "agent", "agent_id": ["A1"]},
    {"role": "agent", "agent_id": 12},
    {"role": "agent", "agent_id": {"id": "A1"}},
    {"role": "agent", "agent_id": True},
    {"role": "customer", "member_id": ["mem_1"], "channel": "app"},
    {"role": "customer", "member_id": "mem_1", "channel": ["app"]},
    {"role": "customer", "member_id": "mem_1", "channel": {"app": 1}},
    {"role": "pos", "store_id": 1, "terminal_id": "T1"},
    {"role": "pos", "store_id": "S1", "terminal_id": ["T1"]},
    {"role": "agent", "agent_id": "A1", "sub": ["x"]},
    {"role": "agent", "agent_id": "A1", "sub": 5},
    {"role": "agent", "agent_id": "A1", "sub": {"id": 1}},
    {"role": "agent", "agent_id": "A1", "exp": "tomorrow"},
    {"role": "agent", "agent_id": "A1", "exp": [1]},
    {"role": "agent", "agent_id": "A1", "iat": "now"},
    {"role": "agent", "agent_id": "A1", "nbf": {"x": 1}},
], ids=repr)
def test_validly_signed_token_with_a_claim_of_the_wrong_type_is_unauthorized(api, card, claims):
    response = api.get(f"/v1/cards/{card['card_id']}", _signed(**claims))
    _problem(response, 401, "unauthorized")


def test_wrong_type_claims_on_a_write_are_unauthorized_and_change_nothing(api, card):
    response = api.reload(card["card_id"], 1_000, token=_signed(role=["agent"], agent_id="A1"))
    _problem(response, 401, "unauthorized")
    assert api.balance(card["card_id"]) == 0


_NOT_IDS = [
    "tx_" + "9" * 4_400,
    "9" * 5_000,
    "crd_" + "f" * 4_400,
    "²³",
    "tx_crd_" + "a" * 20 + "_²",
    "tx_crd_" + "a" * 20 + "_" + "9" * 4_400,
    "٣",
    "１２３",
    "𝟙𝟚",
    "\u0000",
    "%00",
    "..",
    "a" * 2_000,
]


@pytest.mark.parametrize("value", _NOT_IDS, ids=lambda value: repr(value[:12]))
def test_a_refund_of_an_id_that_cannot_exist_is_not_found(api, paid, value):
    card, _ = paid
    before = api.balance(card["card_id"])
    response = api.post(f"/v1/transactions/{value}/refunds", tokens.agent(), {})
    _problem(response, 404, "not_found")
    assert api.balance(card["card_id"]) == before


@pytest.mark.parametrize("template", [
    "/v1/cards/{x}", "/v1/cards/{x}/transactions", "/v1/members/{x}", "/v1/members/{x}/activity",
])
@pytest.mark.parametrize("value", _NOT_IDS, ids=lambda value: repr(value[:12]))
def test_reads_of_ids_that_cannot_exist_are_not_found(api, template, value):
    response = api.get(template.format(x=value), tokens.agent())
    _problem(response, 404, "not_found")


def _non_canonical_spellings(tx_id):
    """The same id written another way: leading zeros, non-ASCII digits, signs, spaces, case."""
    prefix, _, tail = tx_id.rpartition("_")
    arabic_indic = tx_id.translate({ord(d): chr(0x0660 + int(d)) for d in "0123456789"})
    fullwidth = tx_id.translate({ord(d): chr(0xFF10 + int(d)) for d in "0123456789"})
    superscript = tx_id.translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"))
    spellings = [f"{prefix}_0{tail}", f"{prefix}_000{tail}", arabic_indic, fullwidth, superscript, f"{prefix}_+{tail}",
                 f"{prefix}_ {tail}", f"{tx_id} ", f" {tx_id}", tx_id.upper(), tx_id.lower(), tx_id + "=", "TX" + tx_id[2:]]
    return [spelling for spelling in dict.fromkeys(spellings) if spelling != tx_id]


def test_a_refund_names_its_payment_only_by_the_canonical_id(api, paid):
    card, tx_id = paid
    for spelling in _non_canonical_spellings(tx_id):
        response = api.post(f"/v1/transactions/{spelling}/refunds", tokens.agent(), {"amount": money(100)})
        assert response.status_code == 404, (spelling, response.body)
        assert response.json["code"] == "not_found"
    assert api.balance(card["card_id"]) == 8_000
    assert all(entry["kind"] != "refund" for entry in api.ledger(card["card_id"]))
    refund = api.post(f"/v1/transactions/{tx_id}/refunds", tokens.agent(), {"amount": money(100)})
    assert refund.status_code == 201, refund.body
    assert refund.json["reverses"] == tx_id


@pytest.mark.parametrize("content_type", [
    "text/plain", "application/octet-stream", "image/png", "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x", "application/xml", "text/html", "application/jsonx", "json",
    "application/vnd.api+json", "application/json; charset=iso-8859-1", "application/json, text/plain", "*/*",
])
def test_a_body_that_is_not_json_by_content_type_is_415_problem_json(api, card, content_type):
    body = json.dumps({"amount": money(1000), "payment_ref": "p"})
    response = api.request("POST", f"/v1/cards/{card['card_id']}/reloads", tokens.agent(), key="ct", raw=body,
                           headers={"Content-Type": content_type})
    _problem(response, 415, "validation_error")
    assert api.balance(card["card_id"]) == 0


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8",
                                          "Application/JSON;charset=UTF-8"])
def test_json_with_or_without_utf8_charset_is_accepted(api, card, content_type):
    body = json.dumps({"amount": money(1000), "payment_ref": "p"})
    response = api.request("POST", f"/v1/cards/{card['card_id']}/reloads", tokens.agent(), key="ct", raw=body,
                           headers={"Content-Type": content_type})
    assert response.status_code == 201, response.body


def test_every_id_the_server_mints_has_the_shape_its_path_parameter_accepts(api, paid):
    from chalicelib.api.http import ID_SHAPES

    card, tx_id = paid
    member = api.enrol()["member_id"]
    pending = api.post(f"/v1/cards/{card['card_id']}/adjustments", tokens.agent("A2"),
                       {"amount": money(9_000), "reason_code": "goodwill"}).json["adjustment_id"]
    hold_id = api.post(f"/v1/cards/{card['card_id']}/holds", tokens.pos(), {"amount": money(100)}).json["hold_id"]
    webhook = api.post("/v1/webhooks", tokens.service(), {"url": "https://hooks.example.com/x"}).json["webhook_id"]
    minted = {"card_id": card["card_id"], "member_id": member, "adjustment_id": pending, "tx_id": tx_id,
              "hold_id": hold_id, "webhook_id": webhook}
    assert set(minted) == set(ID_SHAPES)
    assert {name: ID_SHAPES[name][0](value) for name, value in minted.items()} == dict.fromkeys(minted, True)
