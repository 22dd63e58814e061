"""The browser suite's world: `make run`'s stack (local.server.running_stack: in-process moto, the
tables, the stream pump, the API on 127.0.0.1 and a free port) over a real socket, a stand-in
identity provider for the PKCE sign-in, and headless Chromium driven by playwright. Data is seeded
through the public API.

Debian's chromium is used (`playwright install` cannot download browsers here). Without it every
test here is skipped and the run ends with one line saying how to enable them."""
from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import shutil
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from tests.conftest import ROOT, TEST_SECRET
from tests.local.http import Http as LocalHttp

CHROMIUM = os.environ.get("OMNICARD_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
ENABLE = ("browser tests skipped: no Chromium at {path}. Enable them with "
          "`sudo apt-get install -y --no-install-recommends chromium` (or set OMNICARD_CHROMIUM to a Chromium binary); "
          ".ci/run installs it.")
HERE = Path(__file__).resolve().parent
SCREENSHOTS = ROOT / "docs" / "screenshots"


def chromium_available() -> bool:
    return os.access(CHROMIUM, os.X_OK) or shutil.which(CHROMIUM) is not None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if chromium_available():
        return
    skip = pytest.mark.skip(reason=ENABLE.format(path=CHROMIUM))
    browser_items = [item for item in items if Path(str(item.fspath)).is_relative_to(HERE)]
    for item in browser_items:
        item.add_marker(skip)
    # The run's closing line is written by tests/conftest.py's pytest_terminal_summary: under
    # pytest-xdist only the root conftest's hooks run in the process that writes the summary.


# ---------------------------------------------------------------------------------------------
# HTTP seeding through the public API

class Http(LocalHttp):
    """tests/local's JSON client, plus what these tests need: a call that must succeed, and raw pages."""

    def ok(self, method: str, path: str, token: str, body: Any = None) -> Any:
        status, payload = self.call(method, path, token, body if body is not None or method != "POST" else {})
        assert status < 300, (method, path, status, payload)
        return payload

    def get_text(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
        request = urllib.request.Request(self.base + path, headers=headers or {})
        try:
            with self.opener.open(request, timeout=10) as response:
                return response.status, dict(response.headers), response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read().decode()


def token(role: str, **claims: Any) -> str:
    from local.tokens import make_token

    return make_token(role, secret=TEST_SECRET, **claims)


@dataclass
class World:
    """The running stack and helpers to seed and observe it through the API."""

    base: str
    http: Http
    idp: "FakeIdentityProvider"
    service: str = field(default_factory=lambda: token("service"))
    till: str = field(default_factory=lambda: token("pos", store_id="S1", terminal_id="T1"))

    def member(self, balances: tuple[int, ...] = (1000,), name: str = "Ada Lovelace") -> dict[str, Any]:
        """A member with one card per balance (minor units), visible in the wallet view."""
        agent = token("agent", agent_id="SEED")
        email = f"{uuid.uuid4().hex[:10]}@example.com"
        member = self.http.ok("POST", "/v1/members", self.service, {"name": name, "email": email})
        cards = []
        for balance in balances:
            card = self.http.ok("POST", "/v1/cards", agent, {"member_id": member["member_id"]})
            if balance:
                self.http.ok("POST", f"/v1/cards/{card['card_id']}/reloads", agent,
                             {"amount": {"amount": balance, "currency": "USD"}, "payment_ref": "seed"})
            cards.append(card)
        expected = {card["card_id"]: balance for card, balance in zip(cards, balances)}
        self.wait_for(lambda: {c["card_id"]: c["balance"]["amount"] for c in self.wallet(member["member_id"])["cards"]}
                      == expected, "the wallet view to show the seeded cards")
        return {**member, "cards": cards}

    def wallet(self, member_id: str) -> dict[str, Any]:
        return self.http.ok("GET", f"/v1/members/{member_id}", token("agent", agent_id="SEED"))

    def card(self, card_id: str) -> dict[str, Any]:
        return self.http.ok("GET", f"/v1/cards/{card_id}", self.till)

    def balance(self, card_id: str) -> int:
        return self.card(card_id)["balance"]["amount"]

    def transactions(self, card_id: str) -> list[dict[str, Any]]:
        return self.http.ok("GET", f"/v1/cards/{card_id}/transactions?limit=100", self.till)["items"]

    @staticmethod
    def wait_for(condition: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.05)


# ---------------------------------------------------------------------------------------------
# A stand-in identity provider: authorization code + PKCE (S256), public client, CORS on /token

class FakeIdentityProvider:
    """Hands out a code for whoever asks (as if they had logged in), and a token only for the verifier
    whose SHA-256 matches that code's challenge: the console's PKCE has to be right to sign in."""

    CLIENT_ID = "omnicard-console"

    def __init__(self, claims: dict[str, Any]) -> None:
        self.claims = claims
        self.codes: dict[str, dict[str, str]] = {}
        self.exchanges: list[dict[str, str]] = []
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                if url.path != "/authorize" or query.get("client_id") != provider.CLIENT_ID \
                        or query.get("code_challenge_method") != "S256" or query.get("response_type") != "code":
                    self.send_response(400)
                    self.end_headers()
                    return
                code = secrets.token_urlsafe(16)
                provider.codes[code] = query
                target = query["redirect_uri"] + "?" + urllib.parse.urlencode({"code": code, "state": query["state"]})
                self.send_response(302)
                self.send_header("Location", target)
                self.end_headers()

            def do_POST(self) -> None:  # noqa: N802
                form = dict(urllib.parse.parse_qsl(self.rfile.read(int(self.headers["Content-Length"])).decode()))
                provider.exchanges.append(form)
                asked = provider.codes.pop(form.get("code", ""), None)
                verifier = form.get("code_verifier", "").encode()
                challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=").decode()
                good = (asked is not None and form.get("grant_type") == "authorization_code"
                        and form.get("client_id") == provider.CLIENT_ID and form.get("redirect_uri") == asked["redirect_uri"]
                        and challenge == asked["code_challenge"])
                body = ({"access_token": token(**provider.claims), "token_type": "Bearer", "expires_in": 3600} if good
                        else {"error": "invalid_grant", "error_description": "code or code_verifier does not match"})
                payload = json.dumps(body).encode()
                self.send_response(200 if good else 400)
                self.send_header("Content-Type", "application/json")
                self.send_header("Access-Control-Allow-Origin", self.headers.get("Origin", "*"))
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, name="fake-idp", daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# ---------------------------------------------------------------------------------------------
# The stack and the browser, per test module: the stack's moto must stop before other modules'
# tests start their own (a moto mock still running would leak its tables and bus into theirs).

@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    if not chromium_available():
        pytest.skip(ENABLE.format(path=CHROMIUM))
    from chalicelib.settings import reset_settings
    from chalicelib.store.client import reset_clients
    from local.server import running_stack

    idp = FakeIdentityProvider({"role": "supervisor", "agent_id": "S-IDP"})
    console_env = {"OMNICARD_OAUTH_CLIENT_ID": idp.CLIENT_ID, "OMNICARD_OAUTH_AUTHORIZE_URL": idp.url + "/authorize",
                   "OMNICARD_OAUTH_TOKEN_URL": idp.url + "/token", "OMNICARD_OAUTH_SCOPE": "openid omnicard"}
    os.environ.update(console_env)
    try:
        with running_stack(0) as stack:  # what `make run` runs: moto, tables, pump, the local edge, a free port
            yield World(base=stack.url, http=Http(stack.url), idp=idp)
    finally:
        idp.close()
        for name in console_env:
            os.environ.pop(name, None)
        reset_clients()
        reset_settings()


@pytest.fixture(scope="module")
def browser(world: World) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class Console:
    """One staff member's browser tab on /console."""

    page: Any
    world: World
    errors: list[str]

    def sign_in(self, role: str, agent_id: str) -> "Console":
        self.page.get_by_label("Token", exact=True).fill(token(role, agent_id=agent_id))
        self.page.get_by_role("button", name="Sign in", exact=True).click()
        self.page.get_by_text(f"agent_id {agent_id}").wait_for()
        return self

    def find(self, query: str) -> None:
        self.page.get_by_label("Find member", exact=True).fill(query)
        self.page.get_by_role("button", name="Search").click()

    def form(self, name: str) -> Any:
        return self.page.get_by_role("form", name=name)

    @property
    def alert(self) -> Any:
        return self.page.get_by_role("alert")


@pytest.fixture
def console_tab(browser: Any, world: World) -> Iterator[Callable[[], Console]]:
    """Opens fresh tabs (own context each: own sessionStorage) at 1280×800 on /console. A CSP
    violation or a script error in any of them fails the test."""
    contexts = []
    consoles: list[Console] = []

    def open_tab() -> Console:
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        contexts.append(context)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
        page.on("console", lambda message: errors.append(f"console {message.type}: {message.text}")
                if message.type == "error" and "Content Security Policy" in message.text else None)
        page.goto(world.base + "/console")
        console = Console(page, world, errors)
        consoles.append(console)
        return console

    yield open_tab
    for context in contexts:
        context.close()
    problems = [error for console in consoles for error in console.errors]
    assert not problems, problems
