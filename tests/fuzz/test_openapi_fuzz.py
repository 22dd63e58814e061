"""Fuzzing every operation of GET /v1/openapi.json with schemathesis against the local stack served
over a real socket (chalice's local server on 127.0.0.1, a random port, moto behind it), with the
token of a role allowed to call each operation. Valid and invalid data; checks: never a 5xx, every
response conforms to the document (status, content type, schema), invalid data is rejected, and
authentication is enforced. Path parameters are often the ids of a seeded world, so the fuzzer
reaches past 404; afterwards every invariant of the ledger must still hold.

CI runs a few examples per operation; `pytest --slow` many more."""
from __future__ import annotations

import threading
import uuid

import pytest
import requests
import schemathesis
from chalice.cli.factory import CLIFactory
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import run_state_machine_as_test
from schemathesis.checks import (content_type_conformance, ignored_auth, negative_data_rejection,
                                 not_a_server_error, response_schema_conformance, status_code_conformance)

from chalicelib.api import openapi
from local.edges import create_local_server
from tests.budget import examples, is_slow
from tests.conftest import ROOT, chalice_app, money, tokens
from tests.reconciled import assert_reconciled
from tests.stack import fresh_stack

CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance,
          negative_data_rejection, ignored_auth]


def _token(method: str, path: str) -> str:
    """A role allowed to call the operation (the fuzzer probes the others through ignored_auth)."""
    if path.startswith(("/v1/reports", "/v1/adjustments")) or path.endswith("/audit"):
        return tokens.supervisor("S-9")
    if path.startswith("/v1/rewards") and method != "GET" or (path == "/v1/members" and method == "POST"):
        return tokens.service()
    if path.endswith(("/payments", "/purchases", "/redemptions")):
        return tokens.pos("S1", "T1")
    return tokens.agent("A1")


@pytest.fixture(scope="module")
def live_stack():
    """The local stack on a real socket, with a member, cards, a payment and a pending adjustment."""
    with fresh_stack(start=None) as stack:
        api = stack.api
        member = api.enrol()["member_id"]
        card, other = api.issue(member)["card_id"], api.issue(member)["card_id"]
        api.reload(card, 50_000)
        payment = api.pay(card, 2_000).json["tx_id"]
        pending = api.post(f"/v1/cards/{other}/adjustments", tokens.agent("A2"),
                           {"amount": money(9_000), "reason_code": "goodwill"}).json["adjustment_id"]
        known = {"member_id": member, "card_id": card, "tx_id": payment, "adjustment_id": pending,
                 "reward_id": "rw_25"}
        config = CLIFactory(str(ROOT), environ={}).create_config_obj(chalice_stage_name="local")
        app_class = chalice_app.__class__
        server = create_local_server(chalice_app, config, "127.0.0.1", 0)
        thread = threading.Thread(target=server.server.serve_forever, name="fuzz-server", daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server.server_address[1]}", known
        finally:
            server.shutdown()
            server.server.server_close()
            chalice_app.__class__ = app_class  # create_local_server swaps the app's class


# The document the server publishes (test_the_fuzzed_document_is_the_served_one checks it), loaded
# at import because schemathesis' lazy fixture loader does not support this pytest.
schema = schemathesis.openapi.from_dict(openapi.document())
# Query strings ignore parameters they do not know (cache-busters, tracking); bodies refuse unknown
# fields as the contract says — so extra query parameters are not invalid data here.
schema.config.generation.update(modes=["positive", "negative"], codec="ascii", allow_x00=False,
                                allow_extra_parameters=False, max_examples=examples(None, ci=10, slow=200))


def test_the_fuzzed_document_is_the_served_one(live_stack):
    base_url, _ = live_stack
    assert requests.get(f"{base_url}/v1/openapi.json", timeout=10).json() == schema.raw_schema


@schema.given(known_ids=st.booleans())
@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_operation_answers_5xx_or_off_its_document(case, known_ids, live_stack):
    base_url, known = live_stack
    if known_ids and case.path_parameters and not case.meta.generation.mode.is_negative:
        case.path_parameters = {name: known.get(name, value) for name, value in case.path_parameters.items()}
    headers = {"Authorization": f"Bearer {_token(case.method, case.path)}"}
    if case.method == "POST" and "Idempotency-Key" not in (case.headers or {}):
        headers["Idempotency-Key"] = uuid.uuid4().hex  # a declared optional key, sent as clients do
    case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS)


def test_stateful_workflows_chain_real_ids_without_a_5xx(live_stack):
    """The stateful phase: operations chained by the links schemathesis infers from the document
    (an enrolled member's id into card issue, a card's id into reloads, payments, transfers …)."""
    base_url, _ = live_stack
    # Hypothesis replays a workflow expecting the same answers; the reward catalogue is one shared
    # list every workflow would rewrite, so its writes stay in the operation-by-operation phase.
    Workflow = schema.exclude(path="/v1/rewards/{reward_id}").as_state_machine()
    Workflow.schema.config.checks.update(included_check_names=[check.__name__ for check in CHECKS])

    class Channels(Workflow):
        def get_call_kwargs(self, case):
            headers = {"Authorization": f"Bearer {_token(case.method, case.path)}"}
            if case.method == "POST" and "Idempotency-Key" not in (case.headers or {}):
                headers["Idempotency-Key"] = uuid.uuid4().hex
            return {"base_url": base_url, "headers": headers}

    assert Workflow.schema.statistic.transitions.total > 0, "no links inferred: nothing to chain"
    run_state_machine_as_test(Channels, settings=settings(
        max_examples=examples(None, ci=15, slow=200), stateful_step_count=15 if is_slow() else 8,
        deadline=None, suppress_health_check=list(HealthCheck), derandomize=True))


def test_fuzzing_left_every_ledger_invariant_intact(live_stack):
    assert_reconciled(views=False, history=True)
