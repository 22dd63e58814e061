"""Who may call what: the whole role × route matrix as one table, checked against the running app.

The cases are generated from the app's route registry (`app.routes`), so a route added without a
row here fails (and so does a row left behind for a route that is gone). Each cell sends a valid
request — for the resources of the owner, Ada — and expects `ok` (any 2xx), or the status of a
refusal: 403 (the role may not do this) or 404 (a customer asking about another member's things
learns nothing, not even that they exist). Columns:

  owner      a customer whose member is Ada (her cards, her stars)
  stranger   a customer of another member (Bob) acting on Ada's member and cards
  pos        a till of store S1 (Ada's payment was made there)
  agent, supervisor (another than the requester of adjustments), service
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import pytest

from chalicelib.api import edges
from chalicelib.api.pages import PAGES
from tests.conftest import chalice_app, money, tokens
from tests.reconciled import assert_reconciled
from tests.stack import fresh_stack

ROLES = ("owner", "stranger", "pos", "agent", "supervisor", "service")


@dataclass
class World:
    api: Any
    ada: str
    bob: str
    card: str
    spare: str
    lost: str
    payment: str

    def token(self, role: str) -> str:
        return {"owner": tokens.customer(self.ada), "stranger": tokens.customer(self.bob), "pos": tokens.pos("S1"),
                "agent": tokens.agent("A1"), "supervisor": tokens.supervisor("S-1"),
                "service": tokens.service()}[role]

    def gift_number(self) -> str:
        return self.api.post("/v1/cards", tokens.pos("S1"), {}).json["card_number"]

    def pending_adjustment(self) -> str:
        response = self.api.post(f"/v1/cards/{self.card}/adjustments", tokens.agent("A9"),
                                 {"amount": money(6_000), "reason_code": "goodwill"})
        assert response.status_code == 202, response.json
        return response.json["adjustment_id"]

    def hold(self) -> str:
        """A fresh hold on Ada's card, placed by a till of store S1 (so S1 is "the hold's store")."""
        response = self.api.post(f"/v1/cards/{self.card}/holds", tokens.pos("S1"), {"amount": money(100)})
        assert response.status_code == 201, response.json
        return response.json["hold_id"]

    def webhook(self) -> str:
        response = self.api.post("/v1/webhooks", tokens.service(), {"url": "https://hooks.example.com/matrix"})
        assert response.status_code == 201, response.json
        return response.json["webhook_id"]

    def reward(self) -> str:
        reward_id = "rw_" + uuid.uuid4().hex[:8]
        assert self.api.request("PUT", f"/v1/rewards/{reward_id}", tokens.service(),
                                {"name": "Matrix", "stars": 10}).status_code == 200
        return reward_id


Request = Callable[[World, str], tuple[str, Any]]  # (world, role) → (path, JSON body or None)


def fixed(path: str, body: Any = None) -> Request:
    """The same request for every role; its path and body's strings may name the world's ids:
    {ada}, {card}, {spare}, {lost}, {payment}."""
    def build(w: World, role: str) -> tuple[str, Any]:
        ids = {"ada": w.ada, "card": w.card, "spare": w.spare, "lost": w.lost, "payment": w.payment}
        named = {key: value.format(**ids) if isinstance(value, str) else value for key, value in (body or {}).items()}
        return path.format(**ids), named if body is not None else None
    return build


# Each row: (expected outcome per role, in ROLES order) and how to build a valid request.
#                                                       owner stranger pos  agent super service
MATRIX: dict[tuple[str, str], tuple[str, Request]] = {
    ("GET", "/v1/health"):                                ("ok  ok   ok   ok   ok   ok",  fixed("/v1/health")),
    ("GET", "/v1/openapi.json"):                          ("ok  ok   ok   ok   ok   ok",  fixed("/v1/openapi.json")),
    ("POST", "/v1/members"):                              ("403 403  403  ok   ok   ok",  lambda w, role: (
        "/v1/members", {"name": "New", "email": f"{uuid.uuid4().hex[:12]}@example.com"})),
    ("GET", "/v1/members"):                               ("403 403  403  ok   ok   403", fixed(
        "/v1/members?email=ada.matrix@example.com")),
    ("GET", "/v1/members/{member_id}"):                   ("ok  404  403  ok   ok   403", fixed("/v1/members/{ada}")),
    ("GET", "/v1/members/{member_id}/activity"):          ("ok  404  403  ok   ok   403", fixed(
        "/v1/members/{ada}/activity")),
    ("GET", "/v1/members/{member_id}/audit"):             ("403 403  403  403  ok   403", fixed(
        "/v1/members/{ada}/audit")),
    ("POST", "/v1/members/{member_id}/adjustments"):      ("403 403  403  ok   ok   403", fixed(
        "/v1/members/{ada}/adjustments", {"stars": 1, "reason_code": "goodwill"})),
    ("POST", "/v1/members/{member_id}/purchases"):        ("403 403  ok   403  403  403", fixed(
        "/v1/members/{ada}/purchases", {"amount": money(100), "tender": "cash"})),
    ("POST", "/v1/members/{member_id}/redemptions"):      ("ok  404  ok   403  403  403", fixed(
        "/v1/members/{ada}/redemptions", {"reward_id": "rw_25"})),
    ("POST", "/v1/cards"):                                ("ok  403  ok   ok   ok   403", lambda w, role: (
        "/v1/cards", {} if role == "pos" else {"member_id": w.ada})),
    ("GET", "/v1/cards"):                                 ("403 403  ok   ok   ok   403", lambda w, role: (
        f"/v1/cards?number={w.gift_number()}", None)),
    ("POST", "/v1/cards/register"):                       ("ok  403  403  ok   ok   403", lambda w, role: (
        "/v1/cards/register", {"card_number": w.gift_number(), "member_id": w.ada})),
    ("GET", "/v1/cards/{card_id}"):                       ("ok  404  ok   ok   ok   403", fixed("/v1/cards/{card}")),
    ("GET", "/v1/cards/{card_id}/transactions"):          ("ok  404  ok   ok   ok   403", fixed(
        "/v1/cards/{card}/transactions")),
    ("POST", "/v1/cards/{card_id}/reloads"):              ("ok  404  ok   ok   ok   403", fixed(
        "/v1/cards/{card}/reloads", {"amount": money(500), "payment_ref": "psp-matrix"})),
    ("POST", "/v1/cards/{card_id}/payments"):             ("ok  404  ok   403  403  403", fixed(
        "/v1/cards/{card}/payments", {"amount": money(100)})),
    ("POST", "/v1/cards/{card_id}/transfers"):            ("ok  404  403  ok   ok   403", fixed(
        "/v1/cards/{card}/transfers", {"to_card_id": "{spare}", "amount": money(100)})),
    ("POST", "/v1/cards/{card_id}/holds"):                ("ok  404  ok   403  403  403", fixed(
        "/v1/cards/{card}/holds", {"amount": money(100)})),
    ("GET", "/v1/holds/{hold_id}"):                       ("ok  404  ok   ok   ok   403", lambda w, role: (
        f"/v1/holds/{w.hold()}", None)),
    ("POST", "/v1/holds/{hold_id}/capture"):              ("ok  404  ok   403  403  403", lambda w, role: (
        f"/v1/holds/{w.hold()}/capture", {"amount": money(50)})),
    ("POST", "/v1/holds/{hold_id}/void"):                 ("ok  404  ok   ok   ok   403", lambda w, role: (
        f"/v1/holds/{w.hold()}/void", {})),
    ("POST", "/v1/cards/{card_id}/freeze"):               ("ok  404  403  ok   ok   403", fixed(
        "/v1/cards/{lost}/freeze")),
    ("POST", "/v1/cards/{card_id}/unfreeze"):             ("ok  404  403  ok   ok   403", fixed(
        "/v1/cards/{lost}/unfreeze")),
    ("PUT", "/v1/cards/{card_id}/auto-reload"):           ("ok  404  403  ok   ok   403", fixed(
        "/v1/cards/{lost}/auto-reload", {"threshold": money(500), "amount": money(1_000), "payment_ref": "psp-m"})),
    ("DELETE", "/v1/cards/{card_id}/auto-reload"):        ("ok  404  403  ok   ok   403", fixed(
        "/v1/cards/{lost}/auto-reload")),
    ("POST", "/v1/cards/{card_id}/adjustments"):          ("403 403  403  ok   ok   403", fixed(
        "/v1/cards/{card}/adjustments", {"amount": money(1), "reason_code": "goodwill"})),
    ("POST", "/v1/transactions/{tx_id}/refunds"):         ("403 403  ok   ok   ok   403", fixed(
        "/v1/transactions/{payment}/refunds", {"amount": money(1)})),
    ("GET", "/v1/adjustments"):                           ("403 403  403  403  ok   403", fixed("/v1/adjustments")),
    ("POST", "/v1/adjustments/{adjustment_id}/approve"):  ("403 403  403  403  ok   403", lambda w, role: (
        f"/v1/adjustments/{w.pending_adjustment()}/approve", {})),
    ("POST", "/v1/adjustments/{adjustment_id}/reject"):   ("403 403  403  403  ok   403", lambda w, role: (
        f"/v1/adjustments/{w.pending_adjustment()}/reject", {})),
    ("GET", "/v1/rewards"):                               ("ok  ok   ok   ok   ok   ok",  fixed("/v1/rewards")),
    ("PUT", "/v1/rewards/{reward_id}"):                   ("403 403  403  403  403  ok",  lambda w, role: (
        f"/v1/rewards/rw_{uuid.uuid4().hex[:8]}", {"name": "Matrix", "stars": 10})),
    ("DELETE", "/v1/rewards/{reward_id}"):                ("403 403  403  403  403  ok",  lambda w, role: (
        f"/v1/rewards/{w.reward()}", None)),
    ("POST", "/v1/pos/batches"):                          ("403 403  ok   403  403  403", lambda w, role: (
        "/v1/pos/batches", {"items": [{"item_key": uuid.uuid4().hex, "card_id": w.card, "amount": money(100),
                                       "occurred_at": datetime.now(timezone.utc).isoformat()}]})),
    ("GET", "/v1/reports/channels"):                      ("403 403  403  403  ok   ok",  fixed("/v1/reports/channels")),
    ("GET", "/v1/reports/liability"):                     ("403 403  403  403  ok   ok",  fixed("/v1/reports/liability")),
    ("POST", "/v1/webhooks"):                             ("403 403  403  403  403  ok",  fixed(
        "/v1/webhooks", {"url": "https://hooks.example.com/matrix"})),
    ("GET", "/v1/webhooks"):                              ("403 403  403  403  403  ok",  fixed("/v1/webhooks")),
    ("DELETE", "/v1/webhooks/{webhook_id}"):              ("403 403  403  403  403  ok",  lambda w, role: (
        f"/v1/webhooks/{w.webhook()}", None)),
}


def _operations() -> set[tuple[str, str]]:
    """Every (method, path) the app serves as an operation (not the 405 and OPTIONS answers that
    chalicelib/api/edges.py registers on every path)."""
    return {(method, path) for path, methods in chalice_app.routes.items() for method, route in methods.items()
            if not edges.is_edge(route)}


def _routes() -> list[tuple[str, str]]:
    """Every operation the app serves. Not here: the console and docs pages, which take no token and
    answer anyone the same files (tests/api/test_pages.py)."""
    return sorted({(method, path) for method, path in _operations() if (path, method) not in PAGES} | set(MATRIX))


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    """Ada with a loaded card, a spare one (transfers land there), one she freezes and unfreezes, and
    stars; Bob; a payment at S1 — one world for every row."""
    with fresh_stack(start=None) as stack:
        api = stack.api
        ada = api.enrol(email="ada.matrix@example.com")["member_id"]
        bob = api.enrol()["member_id"]
        card, spare, lost = (api.issue(ada)["card_id"] for _ in range(3))
        api.reload(card, 50_000)
        payment = api.pay(card, 20_000, tokens.pos("S1")).json["tx_id"]
        api.post(f"/v1/members/{ada}/purchases", tokens.pos("S1"), {"amount": money(50_000), "tender": "cash"})
        yield World(api, ada, bob, card, spare, lost, payment)
        assert_reconciled(views=False, history=False)


@pytest.mark.parametrize("method, path", _routes(), ids=lambda value: value)
def test_every_role_gets_exactly_what_the_matrix_says_on_every_route(world, method, path):
    served = (method, path) in _operations()
    assert served, f"{method} {path} has a row in the role matrix but the app no longer serves it: remove the row"
    assert (method, path) in MATRIX, f"{method} {path} has no row in the role matrix: add who may call it"
    expected, build = MATRIX[(method, path)]
    outcomes = dict(zip(ROLES, expected.split(), strict=True))
    seen = {}
    for role in ROLES:
        url, body = build(world, role)
        if method == "POST":
            response = world.api.post(url, world.token(role), body)
        else:
            response = world.api.request(method, url, world.token(role), body)
        seen[role] = "ok" if 200 <= response.status_code < 300 else str(response.status_code)
        if seen[role] in ("403", "404"):
            assert response.headers["Content-Type"] == "application/problem+json"
            assert response.json["code"] == {"403": "forbidden", "404": "not_found"}[seen[role]]
    assert seen == outcomes, f"{method} {path}"
