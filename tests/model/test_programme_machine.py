"""Model-based test: hypothesis drives the real API (Chalice's test client on moto) and a plain-Python
model of the programme side by side — reloads, payments, holds (placed, captured whole or in part,
voided, expired by moving the clock), purchases, redemptions, transfers, refunds, adjustments with
approval, freezes, auto-reload, offline till batches, replays of earlier requests, clock moves, the expiry
run and stream drains — and every answer must be the model's. The invariant checker runs every few
steps (ledger), after every drain (ledger, views and the stream's history) and at the end.

CI runs a few examples; `pytest --slow` runs many more and longer ones."""
from __future__ import annotations

import contextlib
import json
import re
import uuid
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from chalicelib.services import stars as star_service
from chalicelib.settings import get_settings
from tests.budget import is_slow
from tests.conftest import tokens
from tests.model.programme import (Actor, CardState, MemberState, Ok, Outcome, PendingAdjustment, Programme, Refused,
                                   money)
from tests.reconciled import assert_reconciled, settle
from tests.stack import fresh_stack

CARDS = ("A", "B", "C", "G")  # A, B: Ada's; C: Bob's; G: a gift card (registered to Bob later, maybe)
RECONCILE_EVERY = 4
REPLAYABLE = {"insufficient_funds", "insufficient_stars", "card_not_active", "already_refunded", "already_decided",
              "limit_exceeded", "currency_mismatch", "already_exists", "hold_not_active"}
SYSTEM = Actor("system", "", "system")
# When an offline sale was taken, from now: the window's edges (7 days back, 5 minutes ahead) and beyond.
OFFLINE_TIMES = (-timedelta(days=7, seconds=1), -timedelta(days=7), -timedelta(hours=2), -timedelta(minutes=1),
                 timedelta(0), timedelta(minutes=5), timedelta(minutes=5, seconds=1))


def _actors(ada: str, bob: str) -> dict[str, Actor]:
    return {
        "ada_app": Actor("ada_app", tokens.customer(ada, "app"), "app", member_id=ada),
        "ada_web": Actor("ada_web", tokens.customer(ada, "web"), "web", member_id=ada),
        "bob_app": Actor("bob_app", tokens.customer(bob, "app"), "app", member_id=bob),
        "till_1": Actor("till_1", tokens.pos("S1", "T1"), "pos", store_id="S1"),
        "till_2": Actor("till_2", tokens.pos("S2", "T7"), "pos", store_id="S2"),
        "agent": Actor("agent", tokens.agent("A1"), "phone", agent_id="A1"),
        "agent_2": Actor("agent_2", tokens.agent("A2"), "phone", agent_id="A2"),
        "checker": Actor("checker", tokens.supervisor("S-1"), "phone", agent_id="S-1"),
        "other_checker": Actor("other_checker", tokens.supervisor("S-2"), "phone", agent_id="S-2"),
    }


_HEX64 = re.compile(r"[0-9a-f]{64}")


def _unchained(body: Any) -> Any:
    """A response without its transactions' chain links, each checked to be a well-formed hash.
    The model predicts the transactions; their links are checked by reconcile (ledger_chains_verify,
    every few steps and at teardown), which recomputes every chain from the entries."""
    if isinstance(body, list):
        return [_unchained(item) for item in body]
    if not isinstance(body, dict):
        return body
    if "tx_id" in body and "hash" in body:
        assert _HEX64.fullmatch(body["hash"] or "") and _HEX64.fullmatch(body["prev_hash"] or ""), body
    return {key: _unchained(value) for key, value in body.items()
            if not ("tx_id" in body and key in ("hash", "prev_hash"))}


class ProgrammeMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self._exit = contextlib.ExitStack()
        self.stack = self._exit.enter_context(fresh_stack())
        self.api, self.clock = self.stack.api, self.stack.clock
        self.model = Programme(get_settings().rules)
        ada, bob = self.api.enrol()["member_id"], self.api.enrol()["member_id"]
        self.actors = _actors(ada, bob)
        gift = self.api.post("/v1/cards", self.actors["till_1"].token, {}).json
        self.gift_number = gift["card_number"]  # what the gift card's buyer holds: the proof of possession
        self.ids = {"A": self.api.issue(ada, self.actors["ada_app"].token)["card_id"],
                    "B": self.api.issue(ada)["card_id"], "C": self.api.issue(bob)["card_id"],
                    "G": gift["card_id"], "ada": ada, "bob": bob}
        for name, member in (("A", ada), ("B", ada), ("C", bob), ("G", None)):
            self.model.cards[self.ids[name]] = CardState(self.ids[name], member)
        for member in (ada, bob):
            self.model.members[member] = MemberState(member)
        self.sent: list[dict[str, Any]] = []
        self.steps = 0
        for name, amount in (("A", 20_000), ("B", 5_000), ("C", 12_000), ("G", 3_000)):  # money to move
            self.reload(name, amount, pick=2)

    def teardown(self) -> None:
        try:
            assert_reconciled(drain=self.stack.drain, history=True)
        finally:
            self._exit.close()

    # --- plumbing -------------------------------------------------------------------------------

    def now(self):
        return self.clock.now()

    def card(self, name: str):
        return self.model.cards[self.ids[name]]

    def owner(self, name: str, pick: int) -> Actor | None:
        member = self.card(name).member_id
        owners = [a for a in self.actors.values() if a.member_id is not None and a.member_id == member]
        return owners[pick % len(owners)] if owners else None

    def choose(self, pick: int, *names: str | None) -> Actor:
        found = [self.actors[name] if isinstance(name, str) else name for name in names if name is not None]
        found = [actor for actor in found if actor is not None]
        return found[pick % len(found)]

    def send(self, method: str, path: str, actor: Actor, body: Any, *, key: str | None = "auto") -> Any:
        key = uuid.uuid4().hex if key == "auto" else key
        response = self.api.request(method, path, actor.token, body, key=key)
        assert response.status_code < 500, response.json
        stored = 200 <= response.status_code < 300 or (response.json or {}).get("code") in REPLAYABLE
        if key is not None and method == "POST" and stored:
            self.sent.append({"method": method, "path": path, "actor": actor, "body": body, "key": key,
                              "status": response.status_code, "json": response.json})
        return response

    def expect(self, response: Any, expected: Outcome, *, subset: bool = False) -> None:
        if isinstance(expected, Refused):
            assert (response.status_code, response.json.get("code")) == (expected.status, expected.code), \
                f"expected {expected}, got {response.status_code} {response.json}"
            return
        assert response.status_code == expected.status, f"expected {expected}, got {response.status_code} {response.json}"
        body = _unchained(response.json)
        if subset:
            shown = {key: body.get(key) for key in expected.body}
            assert shown == expected.body, f"expected {expected.body}, got {response.json}"
        else:
            assert body == expected.body

    @invariant()
    def ledger_invariants_hold_every_few_steps(self) -> None:
        self.steps += 1
        if self.steps % RECONCILE_EVERY == 0:
            assert_reconciled(views=False, history=False)

    # --- money ----------------------------------------------------------------------------------

    @rule(name=st.sampled_from(CARDS), amount=st.one_of(st.integers(100, 60_000), st.sampled_from([500, 50_000, 499])),
          pick=st.integers(0, 9))
    def reload(self, name, amount, pick):
        actor = self.choose(pick, self.owner(name, pick), "till_1", "agent")
        expected = self.model.reload(self.ids[name], amount, actor, self.now())
        response = self.send("POST", f"/v1/cards/{self.ids[name]}/reloads", actor,
                             {"amount": money(amount), "payment_ref": "psp-1"})
        self.expect(response, expected)

    @rule(name=st.sampled_from(CARDS), amount=st.integers(1, 30_000), pick=st.integers(0, 9),
          pickup=st.sampled_from([None, "S2"]))
    def pay(self, name, amount, pick, pickup):
        actor = self.choose(pick, self.owner(name, pick), "till_1", "till_2")
        body = {"amount": money(amount)}
        if actor.channel != "pos" and pickup:
            body["store_id"] = pickup
        expected = self.model.pay(self.ids[name], amount, actor, self.now(), body.get("store_id"))
        self.expect(self.send("POST", f"/v1/cards/{self.ids[name]}/payments", actor, body), expected)

    @rule(source=st.sampled_from(CARDS), to=st.sampled_from(CARDS),
          amount=st.one_of(st.none(), st.integers(0, 60_000)), pick=st.integers(0, 9))
    def transfer(self, source, to, amount, pick):
        target = to
        if source == target:
            return
        same_owner = self.card(source).member_id is not None and \
            self.card(source).member_id == self.card(target).member_id
        actor = self.choose(pick, self.owner(source, pick) if same_owner else None, "agent")
        body = {"to_card_id": self.ids[target], **({"amount": money(amount)} if amount is not None else {})}
        expected = self.model.transfer(self.ids[source], self.ids[target], amount, actor, self.now())
        self.expect(self.send("POST", f"/v1/cards/{self.ids[source]}/transfers", actor, body), expected)

    @precondition(lambda self: self.model.payments)
    @rule(index=st.integers(0, 50), amount=st.one_of(st.none(), st.integers(1, 30_000)), pick=st.integers(0, 9))
    def refund(self, index, amount, pick):
        payment = self.model.payments[index % len(self.model.payments)]
        till = {"S1": "till_1", "S2": "till_2"}.get(payment.store_id or "")
        actor = self.choose(pick, till, "agent")
        expected = self.model.refund(payment, amount, actor, self.now())
        body = {"amount": money(amount)} if amount is not None else {}
        self.expect(self.send("POST", f"/v1/transactions/{payment.tx_id}/refunds", actor, body), expected)

    @rule(name=st.sampled_from(CARDS), frozen=st.booleans(), pick=st.integers(0, 9))
    def freeze_or_unfreeze(self, name, frozen, pick):
        actor = self.choose(pick, self.owner(name, pick), "agent")
        expected = self.model.set_status(self.ids[name], "frozen" if frozen else "active")
        path = f"/v1/cards/{self.ids[name]}/{'freeze' if frozen else 'unfreeze'}"
        self.expect(self.send("POST", path, actor, {}), expected, subset=True)

    @rule(name=st.sampled_from(("A", "B", "C")), threshold=st.integers(500, 5_000), amount=st.integers(500, 5_000),
          pick=st.integers(0, 9))
    def switch_auto_reload_on(self, name, threshold, amount, pick):
        actor = self.choose(pick, self.owner(name, pick), "agent")
        expected = self.model.set_auto_reload(self.ids[name], threshold, amount)
        response = self.api.request("PUT", f"/v1/cards/{self.ids[name]}/auto-reload", actor.token,
                                    {"threshold": money(threshold), "amount": money(amount), "payment_ref": "psp-auto"})
        self.expect(response, expected, subset=True)

    @precondition(lambda self: self.card("G").member_id is None)
    @rule()
    def register_the_gift_card(self):
        card = self.card("G")
        card.member_id, card.version = self.ids["bob"], card.version + 1
        response = self.send("POST", "/v1/cards/register", self.actors["agent"],
                             {"card_number": self.gift_number, "member_id": self.ids["bob"]})
        self.expect(response, Ok(200, {"member_id": self.ids["bob"], "version": card.version}), subset=True)

    # --- holds ----------------------------------------------------------------------------------

    @rule(name=st.sampled_from(CARDS), amount=st.integers(1, 15_000), pick=st.integers(0, 9),
          expires_in=st.sampled_from([60, 3_600, 604_800]), pickup=st.sampled_from([None, "S1", "S2"]))
    def place_hold(self, name, amount, pick, expires_in, pickup):
        actor = self.choose(pick, self.owner(name, pick), "till_1", "till_2")
        body = {"amount": money(amount), "expires_in": expires_in}
        if actor.channel != "pos" and pickup:
            body["store_id"] = pickup
        store_id = actor.store_id if actor.channel == "pos" else body.get("store_id")
        expected = self.model.place_hold(self.ids[name], amount, actor, self.now(), store_id, expires_in)
        self.expect(self.send("POST", f"/v1/cards/{self.ids[name]}/holds", actor, body), expected)

    def _hold_actor(self, hold, pick, *staff):
        card = self.model.cards[hold.card_id]
        owners = [a for a in self.actors.values() if a.member_id is not None and a.member_id == card.member_id]
        till = {"S1": "till_1", "S2": "till_2"}.get(hold.store_id or "")
        return self.choose(pick, owners[pick % len(owners)] if owners else None, till, *staff)

    @precondition(lambda self: self.model.holds)
    @rule(data=st.data(), amount=st.one_of(st.none(), st.integers(1, 16_000)), pick=st.integers(0, 9))
    def capture_hold(self, data, amount, pick):
        """Capture all, part or more than held — of a hold open, settled or expired by the clock."""
        hold = self.model.holds[data.draw(st.sampled_from(sorted(self.model.holds)))]
        actor = self._hold_actor(hold, pick)
        if actor is None:
            return
        expected = self.model.capture(hold.hold_id, amount, actor, self.now())
        body = {"amount": money(amount)} if amount is not None else {}
        self.expect(self.send("POST", f"/v1/holds/{hold.hold_id}/capture", actor, body), expected)

    @precondition(lambda self: self.model.holds)
    @rule(data=st.data(), pick=st.integers(0, 9))
    def void_hold(self, data, pick):
        hold = self.model.holds[data.draw(st.sampled_from(sorted(self.model.holds)))]
        actor = self._hold_actor(hold, pick, "agent")
        expected = self.model.void(hold.hold_id, self.now())
        self.expect(self.send("POST", f"/v1/holds/{hold.hold_id}/void", actor, {}), expected)

    @precondition(lambda self: self.model.holds)
    @rule(data=st.data())
    def read_hold(self, data):
        hold = self.model.holds[data.draw(st.sampled_from(sorted(self.model.holds)))]
        response = self.api.get(f"/v1/holds/{hold.hold_id}", self.actors["agent"].token)
        self.expect(response, Ok(200, hold.body(self.now())))

    # --- offline till batches -------------------------------------------------------------------

    @rule(sales=st.lists(st.tuples(st.integers(0, 7), st.sampled_from((*CARDS, "unknown")), st.integers(1, 9_000),
                                   st.sampled_from(OFFLINE_TIMES)), min_size=1, max_size=5),
          till=st.sampled_from(("till_1", "till_2")), by_number=st.booleans())
    def offline_batch(self, sales, till, by_number):
        """A till back online sends sales it took: keys repeat across batches (duplicates) and, rarely,
        within one (refused whole); times straddle the window's edges."""
        actor, now = self.actors[till], self.now()
        items, model_sales = [], []
        for key, name, amount, offset in sales:
            occurred = now + offset
            item = {"item_key": f"sale-{key}", "amount": money(amount), "occurred_at": occurred.isoformat()}
            if name == "unknown":
                item["card_number"] = "6000000000000000"
            elif name == "G" and by_number:
                item["card_number"] = self.gift_number
            else:
                item["card_id"] = self.ids[name]
            items.append(item)
            model_sales.append((f"sale-{key}", self.ids.get(name), amount, occurred))
        expected = self.model.offline_batch(model_sales, actor, now)
        response = self.send("POST", "/v1/pos/batches", actor, {"items": items})
        if isinstance(expected, Ok):  # the model predicts each problem's code; its detail is prose
            shown = json.loads(response.body)
            for result in shown["results"]:
                if result["problem"]:
                    assert result["problem"].pop("detail")
            response = SimpleNamespace(status_code=response.status_code, json=shown)
        self.expect(response, expected)

    # --- stars ----------------------------------------------------------------------------------

    @rule(member=st.sampled_from(("ada", "bob")), pick=st.integers(0, 9),
          amount=st.one_of(st.integers(1, 40_000), st.sampled_from([100_000, 100_001])))
    def purchase(self, member, amount, pick):
        """Tills record purchases (the owner's own word earns nothing), at most 1,000.00 each."""
        owner = "ada_web" if member == "ada" else "bob_app"
        actor = self.choose(pick, owner, "till_1")
        expected = self.model.purchase(self.ids[member], amount, actor, self.now())
        self.expect(self.send("POST", f"/v1/members/{self.ids[member]}/purchases", actor,
                              {"amount": money(amount), "tender": "cash"}), expected)

    @rule(member=st.sampled_from(("ada", "bob")), reward=st.sampled_from(("rw_25", "rw_100", "rw_200")),
          pick=st.integers(0, 9))
    def redeem(self, member, reward, pick):
        actor = self.choose(pick, "ada_app" if member == "ada" else "bob_app", "till_2")
        expected = self.model.redeem(self.ids[member], reward, actor, self.now())
        self.expect(self.send("POST", f"/v1/members/{self.ids[member]}/redemptions", actor, {"reward_id": reward}),
                    expected)

    # --- staff ----------------------------------------------------------------------------------

    @rule(name=st.sampled_from(CARDS), amount=st.integers(-8_000, 8_000).filter(bool),
          reason=st.sampled_from(("goodwill", "correction", "fraud")), pick=st.integers(0, 9))
    def adjust_card(self, name, amount, reason, pick):
        actor = self.choose(pick, "agent", "agent", "agent_2")
        expected = self.model.adjust_card(self.ids[name], amount, reason, actor, self.now())
        response = self.send("POST", f"/v1/cards/{self.ids[name]}/adjustments", actor,
                             {"amount": money(amount), "reason_code": reason})
        self._file_if_pending(response, expected)

    @rule(member=st.sampled_from(("ada", "bob")), stars=st.integers(-700, 700).filter(bool), pick=st.integers(0, 9))
    def adjust_stars(self, member, stars, pick):
        actor = self.choose(pick, "agent", "agent", "agent_2")
        expected = self.model.adjust_stars(self.ids[member], stars, "service_recovery", actor, self.now())
        response = self.send("POST", f"/v1/members/{self.ids[member]}/adjustments", actor,
                             {"stars": stars, "reason_code": "service_recovery"})
        self._file_if_pending(response, expected)

    def _file_if_pending(self, response, expected):
        self.expect(response, expected, subset=expected.status == 202 if isinstance(expected, Ok) else False)
        if isinstance(expected, Ok) and expected.status == 202:
            body = expected.body
            self.model.adjustments[response.json["adjustment_id"]] = PendingAdjustment(
                response.json["adjustment_id"], body["card_id"], body["member_id"],
                body.get("amount", {}).get("amount") if body.get("amount") else None, body.get("stars"),
                body["reason_code"], body["agent_id"])

    @precondition(lambda self: self.model.adjustments)
    @rule(data=st.data())
    def approve(self, data):
        adjustment_id = data.draw(st.sampled_from(sorted(self.model.adjustments)))
        actor = self.actors["checker"]
        expected = self.model.approve(adjustment_id, actor, self.now())
        self.expect(self.send("POST", f"/v1/adjustments/{adjustment_id}/approve", actor, {}), expected)

    @precondition(lambda self: self.model.adjustments)
    @rule(data=st.data())
    def reject(self, data):
        adjustment_id = data.draw(st.sampled_from(sorted(self.model.adjustments)))
        expected = self.model.reject(adjustment_id)
        response = self.send("POST", f"/v1/adjustments/{adjustment_id}/reject", self.actors["other_checker"], {})
        self.expect(response, expected, subset=True)

    # --- retries, time, the stream ------------------------------------------------------------

    @precondition(lambda self: self.sent)
    @rule(data=st.data())
    def replay_an_earlier_request(self, data):
        """A client that lost the response sends the same request with the same key: the first
        response again, marked replayed, and nothing changes."""
        first = data.draw(st.sampled_from(self.sent))
        response = self.api.request(first["method"], first["path"], first["actor"].token, first["body"],
                                    key=first["key"])
        assert (response.status_code, response.json) == (first["status"], first["json"])
        assert response.headers.get("Idempotent-Replayed") == "true"

    @precondition(lambda self: any("amount" in sent["body"] for sent in self.sent))
    @rule(data=st.data())
    def reuse_a_key_for_another_amount(self, data):
        first = data.draw(st.sampled_from([sent for sent in self.sent if "amount" in sent["body"]]))
        changed = json.loads(json.dumps(first["body"]))
        changed["amount"]["amount"] += 1
        response = self.api.request(first["method"], first["path"], first["actor"].token, changed, key=first["key"])
        assert (response.status_code, response.json["code"]) == (422, "idempotency_key_reused")

    @rule(hours=st.one_of(st.integers(1, 30), st.integers(24 * 20, 24 * 120)))
    def time_passes(self, hours):
        self.clock.advance(timedelta(hours=hours))

    @rule()
    def daily_expiry_run(self):
        run = star_service.expire_due_stars()
        assert run.stars_expired == self.model.expire(self.now())

    @rule()
    def stream_delivers(self):
        """Drain the stream: auto-reloads follow, views catch up, and every view equals the ledger."""
        settle(self.stack.drain)
        for tx in self.model.follow_auto_reloads(SYSTEM, self.now()):
            ledger = self.api.ledger(tx["card_id"])
            assert next(t for t in ledger if t["tx_id"] == tx["tx_id"]) == tx
        settle(self.stack.drain)
        till = self.actors["till_1"].token
        for name in CARDS:
            card, shown = self.card(name), self.api.get(f"/v1/cards/{self.ids[name]}", till).json
            held = self.model.held(card.card_id, self.now())
            assert (shown["balance"], shown["held"], shown["available"], shown["status"], shown["version"],
                    shown["member_id"]) == (money(card.balance), money(held), money(card.balance - held), card.status,
                                            card.version, card.member_id)
        for member, owner in (("ada", "ada_app"), ("bob", "bob_app")):
            wallet = self.api.get(f"/v1/members/{self.ids[member]}", self.actors[owner].token).json
            assert wallet["stars"] == self.model.available(self.ids[member], self.now())
            assert {c["card_id"]: (c["balance"]["amount"], c["available"]["amount"]) for c in wallet["cards"]} == \
                {c.card_id: (c.balance, self.model.spendable(c.card_id, self.now()))
                 for c in self.model.cards.values() if c.member_id == self.ids[member]}
        assert_reconciled(views=True, history=True)


def test_the_api_behaves_like_the_model_and_the_invariants_hold(request):
    slow = is_slow(request.config)
    run_state_machine_as_test(ProgrammeMachine, settings=settings(
        max_examples=150 if slow else 8, stateful_step_count=60 if slow else 25, deadline=None,
        suppress_health_check=list(HealthCheck)))
