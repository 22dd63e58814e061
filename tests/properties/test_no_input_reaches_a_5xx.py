"""No input reaches a 5xx (issue 11): every route of the registry, with generated path parameters,
bodies, query strings, tokens and content types — deep nesting, huge numbers, odd Unicode digits,
claims of the wrong type among them — answers below 500, and every 4xx is problem+json.

The routes come from the route registry (chalicelib/api/http.py REGISTRY, which the OpenAPI document
is built from), so a new route is covered without a new test. CI replays a few fixed examples per
route plus one hostile request of each kind per route; `pytest --slow` explores many more."""
from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

import jwt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.api.http import REGISTRY, EndpointSpec
from tests.budget import examples
from tests.conftest import TEST_SECRET, money, tokens
from tests.reconciled import assert_reconciled
from tests.stack import fresh_stack

SPECS = sorted(REGISTRY, key=lambda spec: (spec.path, spec.method))
PARAM = re.compile(r"{(\w+)}")


@pytest.fixture(scope="module")
def world():
    """One stack for the module: a member with two cards, money on one, a payment, a pending adjustment."""
    with fresh_stack(start=None) as stack:
        api = stack.api
        member = api.enrol()["member_id"]
        card, other = api.issue(member)["card_id"], api.issue(member)["card_id"]
        assert api.reload(card, 50_000).status_code == 201
        payment = api.pay(card, 2_000).json["tx_id"]
        pending = api.post(f"/v1/cards/{other}/adjustments", tokens.agent("A2"),
                           {"amount": money(9_000), "reason_code": "goodwill"}).json["adjustment_id"]
        known = {"member_id": member, "card_id": card, "tx_id": payment, "adjustment_id": pending, "reward_id": "rw_25"}
        yield stack, known


# --- what a hostile client sends -------------------------------------------------------------------

ODD_DIGITS = st.text(st.characters(categories=["Nd", "No"]), min_size=1, max_size=8)  # ²٣１𝟙 …
HUGE_DIGITS = st.integers(4_000, 6_000).map(lambda n: "9" * n)


DIGIT_ZEROS = {"arabic_indic": 0x0660, "fullwidth": 0xFF10, "mathematical": 0x1D7CE, "superscript": None}
SUPERSCRIPTS = "⁰¹²³⁴⁵⁶⁷⁸⁹"


def _respelled(value: str, how: str) -> str:
    """The same id written another way: leading zeros, non-ASCII digits, case, padding."""
    if how == "zeros":
        head, _, tail = value.rpartition("_")
        return f"{head}_0{tail}"
    if how == "upper":
        return value.upper()
    if how == "pad":
        return f" {value}"
    zero = DIGIT_ZEROS[how]
    return "".join((SUPERSCRIPTS[int(c)] if zero is None else chr(zero + int(c))) if c in "0123456789" else c
                   for c in value)


def path_value(name: str, known: dict[str, str]) -> st.SearchStrategy[str]:
    real = known.get(name, "x")
    return st.one_of(
        st.just(real),
        st.builds(lambda tail: real.rpartition("_")[0] + "_" + tail, st.one_of(ODD_DIGITS, HUGE_DIGITS)),
        st.sampled_from(["zeros", "upper", "pad", *DIGIT_ZEROS]).map(lambda how: _respelled(real, how)),
        ODD_DIGITS, HUGE_DIGITS,
        st.text(st.characters(exclude_characters="/?#", exclude_categories=["Cs"]), min_size=1, max_size=40),
    )


JSON_LEAF = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(min_value=10**30).map(lambda n: -n),
                      st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20), ODD_DIGITS)
JSON_VALUE = st.recursive(JSON_LEAF, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                             st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                          max_leaves=12)


def _deep(depth: int) -> str:
    return '{"amount":' + "[" * depth + "]" * depth + "}"


@st.composite
def body(draw: Any, spec: EndpointSpec) -> str | None:
    """Raw request body text: near-valid objects (the model's own fields with arbitrary values), deep
    nesting, numbers past every limit, malformed JSON, or nothing."""
    fields = list(spec.body.model_fields) if spec.body else ["amount"]
    near_valid = st.dictionaries(st.sampled_from(fields + ["extra"]),
                                 st.one_of(JSON_VALUE, st.just(money(1_000)),
                                           st.builds(money, st.integers(), st.sampled_from(["USD", "usd", "EUR", "²"]))),
                                 max_size=len(fields) + 1).map(json.dumps)
    return draw(st.one_of(
        near_valid,
        st.integers(900, 20_000).map(_deep),
        HUGE_DIGITS.map(lambda n: '{"amount":{"amount":' + n + ',"currency":"USD"}}'),
        st.sampled_from(["1e400", '{"amount":{"amount":NaN,"currency":"USD"}}', "[]", "null", '"x"', "{", "\xff\xfe"]),
        JSON_VALUE.map(json.dumps),
        st.none(),
    ))


def _signed(claims: dict[str, Any]) -> str:
    return jwt.encode({"sub": "hostile", "exp": int(time.time()) + 3600, **claims}, TEST_SECRET, algorithm="HS256")


WRONG_TYPES = st.one_of(st.lists(st.text(max_size=5), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
                        st.integers(), st.booleans(), st.none(), st.floats(allow_nan=False))


@st.composite
def token(draw: Any, known: dict[str, str]) -> str | None:
    """A valid token of any role (allowed or not), none, garbage, or a signed one with a claim of the wrong type."""
    role = draw(st.sampled_from(["customer", "pos", "agent", "supervisor", "service"]))
    valid = {"customer": lambda: tokens.customer(known["member_id"]), "pos": tokens.pos, "agent": tokens.agent,
             "supervisor": tokens.supervisor, "service": tokens.service}[role]
    claims = {"customer": {"member_id": known["member_id"], "channel": "app"}, "pos": {"store_id": "S1", "terminal_id": "T1"},
              "agent": {"agent_id": "A1"}, "supervisor": {"agent_id": "S-1"}, "service": {}}[role]
    wrong_claim = draw(st.sampled_from(["role", "sub", "exp", "iat", *claims]))
    return draw(st.one_of(
        st.builds(lambda _: valid(), st.none()),
        st.builds(lambda bad: _signed({**claims, "role": role, wrong_claim: bad}), WRONG_TYPES),
        st.none(), st.just("garbage"), st.text(st.characters(codec="ascii"), max_size=30),
    ))


@st.composite
def request(draw: Any, spec: EndpointSpec, known: dict[str, str]) -> dict[str, Any]:
    path = PARAM.sub(lambda match: draw(path_value(match.group(1), known)), spec.path)
    if spec.query:
        query = draw(st.dictionaries(st.sampled_from(list(spec.query.model_fields) + ["x"]),
                                     st.one_of(st.text(max_size=20), ODD_DIGITS, HUGE_DIGITS), max_size=3))
        path += "?" + "&".join(f"{name}={value}" for name, value in query.items())
    headers = {"Content-Type": draw(st.sampled_from(["application/json", "application/json; charset=utf-8",
                                                     "text/plain", "application/octet-stream", "*/*"]))}
    bearer = draw(token(known))
    if bearer is not None:
        headers["Authorization"] = f"Bearer {bearer}"
    key = draw(st.one_of(st.builds(lambda: uuid.uuid4().hex), st.none(), st.text(max_size=300)))
    if key is not None:
        headers["Idempotency-Key"] = key
    return {"method": spec.method, "path": path, "headers": headers, "body": draw(body(spec))}


def _send(world: Any, sent: dict[str, Any]) -> Any:
    stack, _ = world
    raw = sent["body"].encode("utf-8", "surrogateescape") if sent["body"] is not None else b""
    response = stack.client.http.request(sent["method"], sent["path"], headers=sent["headers"], body=raw)
    assert response.status_code < 500, (sent["method"], sent["path"][:200], response.status_code, response.body[:300])
    if response.status_code >= 400:
        assert response.headers["Content-Type"] == "application/problem+json", (sent["path"][:200], response.body[:300])
        problem = json.loads(response.body)
        assert problem["status"] == response.status_code and isinstance(problem["code"], str)
        assert set(problem) >= {"type", "title", "status", "detail", "code"}
    return response


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: f"{spec.method} {spec.path}")
def test_no_generated_request_reaches_a_5xx_and_every_4xx_is_problem_json(world, spec):
    @given(sent=request(spec, world[1]))
    @settings(max_examples=examples(None, ci=8, slow=300), deadline=None,
              suppress_health_check=list(HealthCheck))
    def check(sent: dict[str, Any]) -> None:
        _send(world, sent)

    check()


HOSTILE = {
    "deep_body": lambda spec, known: {"body": _deep(10_000)},
    "huge_number": lambda spec, known: {"body": '{"amount":{"amount":' + "9" * 5_000 + ',"currency":"USD"}}'},
    "odd_digit_ids": lambda spec, known: {"path": PARAM.sub(lambda m: known.get(m.group(1), "x") + "²٣１", spec.path)},
    "huge_ids": lambda spec, known: {"path": PARAM.sub(lambda m: "tx_crd_" + "0" * 20 + "_" + "9" * 4_400, spec.path)},
    "role_as_list": lambda spec, known: {"headers": {"Authorization": "Bearer " + _signed({"role": ["agent"], "agent_id": "A1"})}},
}


@pytest.mark.parametrize("kind", sorted(HOSTILE))
@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: f"{spec.method} {spec.path}")
def test_each_hostile_kind_on_each_route_is_a_4xx_problem(world, spec, kind):
    _, known = world
    sent = {"method": spec.method, "path": PARAM.sub(lambda m: known.get(m.group(1), "x"), spec.path),
            "headers": {"Content-Type": "application/json", "Authorization": f"Bearer {tokens.agent()}",
                        "Idempotency-Key": uuid.uuid4().hex}, "body": "{}"}
    change = HOSTILE[kind](spec, known)
    sent.update({**change, "headers": {**sent["headers"], **change.get("headers", {})}})
    response = _send(world, sent)
    if kind in ("odd_digit_ids", "huge_ids") and PARAM.search(spec.path) and "{reward_id}" not in spec.path:
        assert response.status_code == 404, response.body
    if kind == "role_as_list" and not spec.public:
        assert response.status_code == 401, response.body


def test_the_generated_requests_left_every_ledger_invariant_intact(world):
    assert_reconciled(views=False, history=True)
