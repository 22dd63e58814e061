"""`make demo`: a day of Omnicard on a running local stack, through its public HTTP API.

Creates members with cards, reloads from the app, the web, the phone and a till, till payments at
three stores, order-ahead payments, a purchase paid in cash, a redemption, a partial refund, a
transfer between a member's cards, a gift card sold at a till, and two call-center adjustments — one
under the approval threshold (applied) and one above it (left pending for the supervisor). Then it
waits until the stream views show the last writes and prints the ids, the card numbers and
ready-to-use tokens as `export` lines.

    make run                       # one terminal
    make demo                      # another; the same PORT, or URL=http://… for another stack
    eval "$(make -s demo | grep '^export ')"   # the same, with the tokens in your shell

It uses only the standard library (urllib), as any client could, and never starts a stack itself: the
data it writes lives in the running stack (in-process moto lasts until `make run` stops), so the
tokens it prints are for that stack. Every POST carries an Idempotency-Key derived from the run id,
so a request retried after a lost connection applies once; each run uses a fresh run id (new emails),
so running it again adds another set rather than failing on the first set's emails.
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from local.tokens import make_token

# Who the printed tokens are: one of each role the contract names. The supervisor's agent_id differs
# from the agent's, so it may approve the agent's pending adjustment (maker-checker).
AGENT_ID = "A1"
SUPERVISOR_ID = "SUP1"
HOME_STORE, HOME_TERMINAL = "S1", "T1"
TOKEN_TTL_SECONDS = 12 * 3600  # a working day with the demo's data
VIEW_TIMEOUT_SECONDS = 30.0
CURRENCY = "USD"


class DemoFailed(Exception):
    """The stack is unreachable or answered something the demo did not expect (`status`, if it answered)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def money(minor: int) -> dict[str, Any]:
    return {"amount": minor, "currency": CURRENCY}


def shown(amount: dict[str, Any] | None) -> str:
    """Minor units as a decimal string, by integer arithmetic (no float near money)."""
    if amount is None:
        return "-"
    minor = amount["amount"]
    sign = "-" if minor < 0 else ""
    return f"{sign}{abs(minor) // 100}.{abs(minor) % 100:02d} {amount['currency']}"


class Api:
    """A minimal JSON-over-HTTP client: one call per request, problem+json turned into DemoFailed."""

    def __init__(self, base_url: str, run_id: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.run_id = run_id
        self.timeout = timeout
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via http_proxy
        self.replies: list[tuple[str, str, int]] = []

    def call(self, method: str, path: str, token: str | None = None, body: Any = None, *,
             key: str | None = None, expect: Sequence[int] = (200, 201)) -> Any:
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if key:
            headers["Idempotency-Key"] = f"demo-{self.run_id}-{key}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.base_url + path, data=data, headers=headers, method=method)
        status, payload = self._send(request, retry=key is not None or method == "GET")
        self.replies.append((method, path, status))
        if status not in expect:
            problem = payload if isinstance(payload, dict) else {}
            raise DemoFailed(f"{method} {path} answered {status} {problem.get('code', '')}: "
                             f"{problem.get('detail', payload)}", status)
        return payload

    def _send(self, request: urllib.request.Request, *, retry: bool) -> tuple[int, Any]:
        # A POST is retried only under its Idempotency-Key: the retry then applies at most once.
        attempts = 3 if retry else 1
        for attempt in range(1, attempts + 1):
            try:
                with self.opener.open(request, timeout=self.timeout) as response:
                    return response.status, _json(response.read())
            except urllib.error.HTTPError as error:
                payload = _json(error.read())
                in_progress = isinstance(payload, dict) and payload.get("code") == "request_in_progress"
                if not (in_progress and attempt < attempts):
                    return error.code, payload
            except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
                if attempt == attempts:
                    reason = getattr(error, "reason", error)
                    raise DemoFailed(f"{request.get_method()} {request.full_url}: {reason}") from error
            time.sleep(0.5)
        raise AssertionError("unreachable")


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw.decode(errors="replace")


@dataclass
class Tokens:
    """The demo's principals. Customers are per member; tills per store."""

    secret: str | None = None
    ttl: int = TOKEN_TTL_SECONDS

    def customer(self, member_id: str, channel: str = "app") -> str:
        return make_token("customer", secret=self.secret, ttl_seconds=self.ttl, member_id=member_id, channel=channel)

    def pos(self, store_id: str = HOME_STORE, terminal_id: str = HOME_TERMINAL) -> str:
        return make_token("pos", secret=self.secret, ttl_seconds=self.ttl, store_id=store_id, terminal_id=terminal_id)

    def agent(self) -> str:
        return make_token("agent", secret=self.secret, ttl_seconds=self.ttl, agent_id=AGENT_ID)

    def supervisor(self) -> str:
        return make_token("supervisor", secret=self.secret, ttl_seconds=self.ttl, agent_id=SUPERVISOR_ID)

    def service(self) -> str:
        return make_token("service", secret=self.secret, ttl_seconds=self.ttl)


@dataclass
class Member:
    member_id: str
    name: str
    email: str
    channel: str
    cards: list[dict[str, Any]] = field(default_factory=list)  # the issue responses (full numbers)
    last_tx: str | None = None


@dataclass
class Day:
    """What the demo created: enough to print a summary and to check the views caught up."""

    members: list[Member] = field(default_factory=list)
    gift_card: dict[str, Any] | None = None
    transactions: list[dict[str, Any]] = field(default_factory=list)
    pending_adjustment: dict[str, Any] | None = None
    refundable_payment: str | None = None


def run_day(api: Api, tokens: Tokens) -> Day:
    """The demo's writes, in the order a day might bring them. Amounts in minor units."""
    day = Day()
    service, agent = tokens.service(), tokens.agent()
    run = api.run_id

    def record(member: Member | None, tx: dict[str, Any]) -> dict[str, Any]:
        day.transactions.append(tx)
        if member is not None:
            member.last_tx = tx["tx_id"]
        return tx

    # Members: two who use the app or the web site, one who only ever calls the call center.
    for name, local_part, channel in (("Ada Lovelace", "ada", "app"), ("Grace Hopper", "grace", "web"),
                                      ("Alan Turing", "alan", "phone")):
        body = {"name": name, "email": f"{local_part}+{run}@example.com"}
        enrolled = api.call("POST", "/v1/members", service, body, key=f"enrol-{local_part}")
        day.members.append(Member(enrolled["member_id"], name, body["email"], channel))
    ada, grace, alan = day.members
    ada_app, grace_web = tokens.customer(ada.member_id, "app"), tokens.customer(grace.member_id, "web")

    # Cards: customers issue their own in the app and on the web; the agent issues Alan's on the phone.
    for member, token, count in ((ada, ada_app, 2), (grace, grace_web, 1), (alan, agent, 1)):
        for index in range(count):
            member.cards.append(api.call("POST", "/v1/cards", token, {"member_id": member.member_id},
                                         key=f"issue-{member.member_id}-{index}"))
    ada_card, ada_spare = ada.cards[0]["card_id"], ada.cards[1]["card_id"]
    grace_card, alan_card = grace.cards[0]["card_id"], alan.cards[0]["card_id"]

    def reload(member: Member, card_id: str, token: str, amount: int, ref: str) -> None:
        record(member, api.call("POST", f"/v1/cards/{card_id}/reloads", token,
                                {"amount": money(amount), "payment_ref": ref}, key=f"reload-{ref}"))

    # Reloads from every channel: the app, the web, the phone, a till.
    reload(ada, ada_card, ada_app, 5_000, "psp-app-1")
    reload(grace, grace_card, grace_web, 4_000, "psp-web-1")
    reload(alan, alan_card, agent, 3_000, "psp-phone-1")
    reload(ada, ada_card, tokens.pos(), 2_000, "till-S1-1")

    def pay(member: Member | None, card_id: str, token: str, amount: int, key: str, **extra: Any) -> dict[str, Any]:
        return record(member, api.call("POST", f"/v1/cards/{card_id}/payments", token,
                                       {"amount": money(amount), **extra}, key=key))

    # Till payments at three stores, and order-ahead payments from the app and the web (pickup store named).
    pay(ada, ada_card, tokens.pos("S1", "T1"), 1_275, "till-S1-ada")
    pay(alan, alan_card, tokens.pos("S2", "T1"), 850, "till-S2-alan")
    grace_at_s3 = pay(grace, grace_card, tokens.pos("S3", "T2"), 980, "till-S3-grace")
    pay(ada, ada_card, ada_app, 640, "order-ada", store_id="S2", order_ref=f"order-{run}-1")
    pay(grace, grace_card, grace_web, 1_120, "order-grace", store_id="S3", order_ref=f"order-{run}-2")
    day.refundable_payment = grace_at_s3["tx_id"]

    # Stars for a purchase paid in cash at a till (Alan has no app: the till records his stars).
    record(alan, api.call("POST", f"/v1/members/{alan.member_id}/purchases", tokens.pos("S2", "T1"),
                          {"amount": money(1_250), "tender": "cash", "store_id": "S2"}, key="purchase-alan"))

    # Ada's payments earned 2 stars per dollar: 25 + 12 = 37; she redeems the 25-star reward at the till.
    record(ada, api.call("POST", f"/v1/members/{ada.member_id}/redemptions", tokens.pos(),
                         {"reward_id": "rw_25"}, key="redeem-ada"))

    # A partial refund by the till of the store that took the payment (stars go back in proportion).
    record(grace, api.call("POST", f"/v1/transactions/{grace_at_s3['tx_id']}/refunds", tokens.pos("S3", "T2"),
                           {"amount": money(300)}, key="refund-grace"))

    # Ada moves 10.00 to her spare card in the app.
    moved = api.call("POST", f"/v1/cards/{ada_card}/transfers", ada_app,
                     {"to_card_id": ada_spare, "amount": money(1_000)}, key="transfer-ada")
    record(None, moved["out"])
    record(ada, moved["in"])

    # Call center: a goodwill credit under the approval threshold is applied at once (201); a larger
    # service-recovery credit waits for a supervisor with another agent_id (202 pending_approval).
    record(alan, api.call("POST", f"/v1/cards/{alan_card}/adjustments", agent,
                          {"amount": money(500), "reason_code": "goodwill", "note": "cold coffee"},
                          key="adjust-alan", expect=(201,)))
    day.pending_adjustment = api.call(
        "POST", f"/v1/cards/{grace_card}/adjustments", agent,
        {"amount": money(7_500), "reason_code": "service_recovery", "note": "double charge at S3"},
        key="adjust-grace", expect=(202,))

    # A gift card sold at a till: issued unregistered and loaded there. It is the day's last write.
    till = tokens.pos("S3", "T2")
    day.gift_card = api.call("POST", "/v1/cards", till, {}, key="gift-issue")
    record(None, api.call("POST", f"/v1/cards/{day.gift_card['card_id']}/reloads", till,
                          {"amount": money(2_500), "payment_ref": "till-S3-gift"}, key="gift-load"))
    return day


def wait_for_views(api: Api, tokens: Tokens, day: Day, timeout: float = VIEW_TIMEOUT_SECONDS) -> float:
    """Wait until each member's activity feed (a stream view) shows its last transaction and the
    liability view has processed the day's last write; returns the seconds waited."""
    started = time.monotonic()
    last_created = max(tx["created_at"] for tx in day.transactions)
    waiting = {member.member_id: member.last_tx for member in day.members if member.last_tx}
    supervisor = tokens.supervisor()
    while True:
        for member_id, tx_id in list(waiting.items()):
            page = api.call("GET", f"/v1/members/{member_id}/activity?limit=100", tokens.customer(member_id))
            if any(item["tx_id"] == tx_id for item in page["items"]):
                del waiting[member_id]
        liability = api.call("GET", "/v1/reports/liability", supervisor)
        if not waiting and (liability.get("as_of") or "") >= last_created:
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise DemoFailed(f"the stream views did not catch up within {timeout:.0f} s (members still waiting: "
                             f"{', '.join(waiting) or 'none'}; liability as_of {liability.get('as_of')}). "
                             "Is the stack's stream pump running? See `make run`'s log.")
        time.sleep(0.2)


def check_stack(api: Api) -> None:
    try:
        health = api.call("GET", "/v1/health")
    except DemoFailed as error:
        raise DemoFailed(f"no Omnicard stack answers at {api.base_url} ({error}).\n"
                         "Start one in another terminal with `make run` (PORT=<port> for another port), "
                         "then run `make demo` again with the same PORT (or URL=http://… for another address).") from error
    if health != {"status": "ok"}:
        raise DemoFailed(f"{api.base_url}/v1/health answered {health!r}, not an Omnicard stack")


def report(api: Api, tokens: Tokens, day: Day, waited: float) -> str:
    """The summary and the export lines, as printed."""
    lines = [f"Omnicard demo on {api.base_url} (run {api.run_id}): "
             f"{len(api.replies)} HTTP calls, views caught up {waited:.1f} s after the last write", ""]
    lines.append("members and cards (full card numbers are shown once, at issue; balances as of now)")
    for member in day.members:
        wallet = api.call("GET", f"/v1/members/{member.member_id}", tokens.customer(member.member_id))
        lines.append(f"  {member.member_id}  {member.name:<13} {member.email:<28} {member.channel:<5} "
                     f"tier {wallet['tier']}, {wallet['stars']} stars")
        for card in member.cards:
            current = api.call("GET", f"/v1/cards/{card['card_id']}", tokens.customer(member.member_id))
            lines.append(f"      card {card['card_id']}  number {card['card_number']}  "
                         f"balance {shown(current['balance'])}")
    if day.gift_card is not None:
        gift = api.call("GET", f"/v1/cards/{day.gift_card['card_id']}", tokens.pos("S3", "T2"))
        lines.append(f"  gift card (unregistered, sold at S3)  card {gift['card_id']}  "
                     f"number {day.gift_card['card_number']}  balance {shown(gift['balance'])}")
    kinds = Counter(tx["kind"] for tx in day.transactions)
    channels = Counter(tx["channel"] for tx in day.transactions)
    lines += ["", f"{len(day.transactions)} transactions: " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())),
              "  by channel: " + ", ".join(f"{c} {n}" for c, n in sorted(channels.items()))]
    pending = day.pending_adjustment or {}
    lines.append(f"  pending adjustment {pending.get('adjustment_id')} ({shown(pending.get('amount'))}, by agent "
                 f"{AGENT_ID}): approve it as supervisor {SUPERVISOR_ID} (see below)")
    ada = day.members[0]
    exports = {
        "OMNICARD_URL": api.base_url,
        "CUSTOMER_TOKEN": tokens.customer(ada.member_id, "app"),
        "POS_TOKEN": tokens.pos(),
        "AGENT_TOKEN": tokens.agent(),
        "SUPERVISOR_TOKEN": tokens.supervisor(),
        "SERVICE_TOKEN": tokens.service(),
        "MEMBER_ID": ada.member_id,
        "CARD_ID": ada.cards[0]["card_id"],
        "CARD_NUMBER": ada.cards[0]["card_number"],
        "ADJUSTMENT_ID": pending.get("adjustment_id", ""),
    }
    hours = tokens.ttl // 3600
    lines += ["", f"# tokens for {api.base_url}, valid {hours} h: customer = {ada.name} ({ada.member_id}, app), "
              f"pos = store {HOME_STORE} till {HOME_TERMINAL}, agent {AGENT_ID}, supervisor {SUPERVISOR_ID}",
              "# load them with:  eval \"$(make -s demo | grep '^export ')\"  (or paste the lines below)"]
    lines += [f"export {name}={value}" for name, value in exports.items()]
    lines += ["# then, for example:",
              '#   curl -s "$OMNICARD_URL/v1/members/$MEMBER_ID" -H "Authorization: Bearer $CUSTOMER_TOKEN"',
              '#   curl -s "$OMNICARD_URL/v1/cards?number=$CARD_NUMBER" -H "Authorization: Bearer $POS_TOKEN"',
              '#   curl -s -X POST "$OMNICARD_URL/v1/adjustments/$ADJUSTMENT_ID/approve" -H "Idempotency-Key: approve-1" \\',
              '#        -H "Authorization: Bearer $SUPERVISOR_TOKEN"', ""]
    return "\n".join(lines)


def default_url() -> str:
    """`make run`'s address. Not $OMNICARD_URL: that is what the demo exports for curl, and a stale
    one left in the shell must not send the next demo to another stack than PORT says."""
    return f"http://127.0.0.1:{os.environ.get('PORT') or 8000}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="omnicard-demo", description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=default_url(),
                        help="the running stack (default http://127.0.0.1:$PORT, PORT 8000)")
    parser.add_argument("--run-id", default=None, help="suffix of emails and Idempotency-Keys (default: random)")
    parser.add_argument("--view-timeout", type=float, default=VIEW_TIMEOUT_SECONDS)
    args = parser.parse_args(argv)
    api = Api(args.url, args.run_id or secrets.token_hex(3))
    tokens = Tokens()  # signed with OMNICARD_JWT_SECRET, else the local default, as `make run` verifies
    try:
        check_stack(api)
        day = run_day(api, tokens)
        waited = wait_for_views(api, tokens, day, args.view_timeout)
        print(report(api, tokens, day, waited), flush=True)
    except BrokenPipeError:  # `make demo | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 0
    except DemoFailed as error:
        print(f"make demo: {error}", file=sys.stderr)
        if error.status == 401:
            print("make demo: the stack refused the demo's tokens: give `make run` and `make demo` the same "
                  "OMNICARD_JWT_SECRET (or leave it unset in both)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
