"""The call-center console in headless Chromium, against the local stack over a real socket.
Each test seeds its own member through the API and reads the outcome back through the API too."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import SCREENSHOTS


def _adjust(console, amount: str, reason: str = "goodwill", note: str = "") -> None:
    form = console.form("Adjust balance")
    form.get_by_label("Amount").fill(amount)
    form.get_by_label("Reason").select_option(reason)
    form.get_by_label("Note").fill(note)
    form.get_by_role("button", name="Apply adjustment").click()


def test_agent_finds_a_member_by_email_and_by_card_number(console_tab, world):
    member = world.member(balances=(1000, 500))
    console = console_tab().sign_in("agent", "A1")
    page = console.page
    expect(page.get_by_text("Signed in as agent")).to_be_visible()

    console.find(member["email"])
    expect(page.get_by_role("heading", name="Ada Lovelace")).to_be_visible()
    expect(page.locator("#member-email")).to_have_text(member["email"])
    expect(page.locator("#member-tier")).to_have_text("green")
    cards = page.locator("#cards-table")
    expect(cards).to_contain_text("10.00 USD")
    expect(cards).to_contain_text("5.00 USD")
    expect(cards).to_contain_text(re.compile(r"\*{12}\d{4}"))
    expect(page.locator("#as-of-age")).to_have_text(re.compile(r"\(\d+ s ago\)"))
    expect(page.locator("#activity-table")).to_contain_text("reload")
    expect(page.locator("#activity-table")).to_contain_text("phone")

    expect(page.locator("#card-held")).to_be_hidden()  # no holds in the API's cards yet: no columns for them

    # Cards as v1.1 shows them once holds exist (held, available): the console shows both.
    def with_a_hold(route):
        response = route.fetch()
        card = response.json()
        card |= {"held": {"amount": 100, "currency": "USD"},
                 "available": {"amount": card["balance"]["amount"] - 100, "currency": "USD"}}
        route.fulfill(response=response, json=card)

    page.route(re.compile(r"/v1/cards/[^/?]+$"), with_a_hold)
    second = member["cards"][1]
    console.find(second["card_number"])  # the 201 of POST /v1/cards shows the full number
    expect(page.get_by_role("heading", name=f"Card ************{second['card_number'][-4:]}")).to_be_visible()
    expect(page.locator("#card-balance")).to_have_text("5.00 USD")
    expect(page.locator("#card-held")).to_have_text("1.00 USD")
    expect(page.locator("#card-available")).to_have_text("4.00 USD")
    expect(page.locator("#cards-table th", has_text="Available")).to_be_visible()
    expect(page.get_by_role("heading", name="Ada Lovelace")).to_be_visible()


def test_agent_adjusts_a_card_and_sees_the_exact_new_balance(console_tab, world):
    member = world.member(balances=(1000,))
    console = console_tab().sign_in("agent", "A1")
    console.find(member["email"])
    _adjust(console, "5.10", "service_recovery", "coffee was cold")
    result = console.form("Adjust balance").get_by_role("status")
    expect(result).to_have_text("Applied +5.10 USD: new balance 15.10 USD.")
    expect(console.page.locator("#card-balance")).to_have_text("15.10 USD")
    assert world.balance(member["cards"][0]["card_id"]) == 1510
    adjustment = world.transactions(member["cards"][0]["card_id"])[0]
    assert (adjustment["kind"], adjustment["amount"]["amount"], adjustment["reason_code"]) == ("adjustment", 510, "service_recovery")

    _adjust(console, "-3")
    expect(result).to_have_text("Applied -3.00 USD: new balance 12.10 USD.")
    assert world.balance(member["cards"][0]["card_id"]) == 1210


def test_a_bad_amount_is_an_alert_and_never_leaves_the_page_and_a_refusal_shows_its_problem(console_tab, world):
    member = world.member(balances=(1000,))
    console = console_tab().sign_in("agent", "A1")
    console.find(member["email"])
    expect(console.page.locator("#card-balance")).to_have_text("10.00 USD")
    sent = []
    console.page.on("request", lambda request: sent.append(request.url) if request.method == "POST" else None)
    for bad in ("abc", "5.101", "1e3", "0", ""):
        _adjust(console, bad)
        expect(console.alert).to_contain_text("Invalid amount")
        expect(console.alert).to_contain_text(f'"{bad}" is not an amount')
    assert sent == []

    _adjust(console, "-20.00")  # more than the balance: the server's problem+json, title and detail
    expect(console.alert).to_contain_text("Insufficient funds: ")
    assert len(sent) == 1
    assert world.balance(member["cards"][0]["card_id"]) == 1000


def test_a_large_adjustment_waits_for_another_supervisor_and_applies_once(console_tab, world):
    member = world.member(balances=(1000,))
    card_id = member["cards"][0]["card_id"]
    agent = console_tab().sign_in("agent", "A1")
    agent.find(member["email"])
    _adjust(agent, "60.00", "correction", "missing top-up")
    expect(agent.form("Adjust balance").get_by_role("status")).to_contain_text("Pending approval")
    assert world.balance(card_id) == 1000

    supervisor = console_tab().sign_in("supervisor", "S-2")
    supervisor.page.get_by_role("button", name="Approvals").click()
    row = supervisor.page.get_by_role("row").filter(has_text=card_id)
    expect(row).to_contain_text("A1")
    expect(row).to_contain_text("+60.00 USD")
    expect(row).to_contain_text("Correction")
    expect(row).to_contain_text("missing top-up")
    row.get_by_role("button", name="Approve").dblclick()
    expect(row.get_by_role("status")).to_have_text("Approved: new balance 70.00 USD.")
    assert world.balance(card_id) == 7000
    assert [tx["amount"]["amount"] for tx in world.transactions(card_id) if tx["kind"] == "adjustment"] == [6000]

    # The supervisor looks the member up and reads the audit trail of what happened.
    supervisor.find(member["email"])
    expect(supervisor.page.locator("#card-balance")).to_have_text("70.00 USD")
    supervisor.page.get_by_role("button", name="Audit").click()
    audit = supervisor.page.locator("#audit-table")
    expect(audit).to_contain_text("S-2")
    expect(audit).to_contain_text("A1")
    expect(audit).to_contain_text("missing top-up")

    # The next large one is rejected, with a note; nothing moves.
    _adjust(agent, "75", "goodwill")
    expect(agent.form("Adjust balance").get_by_role("status")).to_contain_text("Pending approval")
    supervisor.page.get_by_role("button", name="Approvals").click()
    row = supervisor.page.get_by_role("row").filter(has_text="+75.00 USD")
    row.get_by_label("Rejection note").fill("no ticket")
    row.get_by_role("button", name="Reject").click()
    expect(row.get_by_role("status")).to_have_text("Rejected.")
    assert world.balance(card_id) == 7000


def test_a_double_click_or_a_retry_after_a_lost_response_applies_once(console_tab, world):
    member = world.member(balances=(1000,))
    card_id = member["cards"][0]["card_id"]
    console = console_tab().sign_in("agent", "A1")
    console.find(member["email"])
    page = console.page
    form = console.form("Adjust balance")
    form.get_by_label("Amount").fill("1.25")
    form.get_by_role("button", name="Apply adjustment").dblclick()
    expect(form.get_by_role("status")).to_have_text("Applied +1.25 USD: new balance 11.25 USD.")
    page.wait_for_timeout(300)  # a second request, had there been one, would have landed by now
    assert world.balance(card_id) == 1125
    assert len([tx for tx in world.transactions(card_id) if tx["kind"] == "adjustment"]) == 1

    keys = []

    def lose_the_answer(route):
        keys.append(route.request.headers["idempotency-key"])
        route.fetch()  # the server applies it ...
        route.abort("connectionreset")  # ... and the answer never reaches the browser

    page.route("**/adjustments", lose_the_answer, times=1)
    page.on("request", lambda request: keys.append(request.headers.get("idempotency-key"))
            if request.url.endswith("/adjustments") and len(keys) >= 1 else None)
    _adjust(console, "2.00")
    expect(console.alert).to_contain_text("Network error")
    form.get_by_role("button", name="Apply adjustment").click()
    expect(form.get_by_role("status")).to_have_text("Applied +2.00 USD: new balance 13.25 USD.")
    assert len(set(k for k in keys if k)) == 1, keys
    assert world.balance(card_id) == 1325

    _adjust(console, "2.00")  # a new submission of the same form is a new adjustment, with a new key
    expect(form.get_by_role("status")).to_have_text("Applied +2.00 USD: new balance 15.25 USD.")
    assert len(set(k for k in keys if k)) == 2


def test_freeze_unfreeze_and_transfer(console_tab, world):
    member = world.member(balances=(1000, 500))
    first, second = (card["card_id"] for card in member["cards"])
    console = console_tab().sign_in("agent", "A1")
    console.find(member["cards"][0]["card_number"])
    page = console.page
    page.get_by_role("button", name="Freeze card").click()
    expect(page.locator("#card-status")).to_have_text("frozen")
    assert world.card(first)["status"] == "frozen"

    transfer = console.form("Transfer balance")
    transfer.get_by_label("To card").select_option(second)
    transfer.get_by_label("Amount to move").fill("4.00")
    transfer.get_by_role("button", name="Transfer balance").click()  # a frozen card can still be emptied
    expect(transfer.get_by_role("status")).to_contain_text("Moved 4.00 USD")
    expect(page.locator("#card-balance")).to_have_text("6.00 USD")
    assert (world.balance(first), world.balance(second)) == (600, 900)

    transfer.get_by_label("To card").select_option("new")
    transfer.get_by_role("button", name="Transfer balance").click()
    expect(transfer.get_by_role("status")).to_contain_text("Moved 6.00 USD")
    assert world.balance(first) == 0
    cards = [card for card in world.wallet(member["member_id"])["cards"]]
    world.wait_for(lambda: len(world.wallet(member["member_id"])["cards"]) == 3, "the new card in the wallet")
    new = next(c for c in world.wallet(member["member_id"])["cards"] if c["card_id"] not in (first, second))
    assert world.balance(new["card_id"]) == 600, cards

    page.get_by_role("button", name="Unfreeze card").click()
    expect(page.locator("#card-status")).to_have_text("active")
    assert world.card(first)["status"] == "active"


def test_agent_refunds_a_payment_from_its_row_and_adjusts_stars(console_tab, world):
    member = world.member(balances=(2000,))
    card_id = member["cards"][0]["card_id"]
    world.http.ok("POST", f"/v1/cards/{card_id}/payments", world.till, {"amount": {"amount": 450, "currency": "USD"}})
    console = console_tab().sign_in("agent", "A1")
    console.find(member["email"])
    page = console.page
    page.locator("#tx-table").get_by_role("button", name=re.compile("Refund payment of -4.50 USD")).click()
    refund = console.form("Refund payment")
    refund.get_by_label("Refund amount").fill("1.50")
    refund.get_by_role("button", name="Apply refund").click()
    expect(refund.get_by_role("status")).to_have_text("Refunded 1.50 USD: new balance 17.00 USD.")
    assert world.balance(card_id) == 1700

    stars = console.form("Adjust stars")
    stars.get_by_label("Stars").fill("40")
    stars.get_by_label("Reason").select_option("goodwill")
    stars.get_by_role("button", name="Apply adjustment").click()
    expect(stars.get_by_role("status")).to_have_text(re.compile(r"Applied \+40 stars: the member now has \d+\."))
    stars.get_by_label("Stars").fill("600")
    stars.get_by_role("button", name="Apply adjustment").click()
    expect(stars.get_by_role("status")).to_contain_text("Pending approval")


def test_the_console_works_from_the_keyboard_alone(console_tab, world):
    member = world.member(balances=(1000,))
    console = console_tab()
    page, keyboard = console.page, console.page.keyboard
    keyboard.press("Tab")
    expect(page.get_by_label("Token", exact=True)).to_be_focused()
    keyboard.type(__import__("tests.browser.conftest", fromlist=["token"]).token("agent", agent_id="K1"))
    keyboard.press("Enter")
    expect(page.get_by_label("Find member", exact=True)).to_be_focused()
    keyboard.type(member["email"])
    keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Ada Lovelace")).to_be_focused()
    expect(page.locator("#card-balance")).to_have_text("10.00 USD")
    page.get_by_label("Amount", exact=True).focus()  # then Tab through the form, as a user who reached it would
    keyboard.type("0.50")
    keyboard.press("Tab")
    expect(page.locator("#adjust-reason")).to_be_focused()
    keyboard.press("Tab")
    keyboard.type("keyboard only")
    keyboard.press("Enter")
    expect(console.form("Adjust balance").get_by_role("status")).to_have_text("Applied +0.50 USD: new balance 10.50 USD.")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280


def test_sign_in_with_the_identity_provider_uses_pkce(console_tab, world):
    console = console_tab()
    console.page.get_by_role("button", name="Sign in with the identity provider").click()
    expect(console.page.get_by_text("Signed in as supervisor")).to_be_visible()
    expect(console.page.get_by_text("agent_id S-IDP")).to_be_visible()
    assert console.page.url == world.base + "/console"  # the single-use code is gone from the address bar
    exchange = world.idp.exchanges[-1]
    assert exchange["grant_type"] == "authorization_code" and len(exchange["code_verifier"]) >= 43
    expect(console.page.get_by_role("button", name="Approvals")).to_be_visible()


# What staff type → minor units (None: refused before any request). Expected values are computed
# here with Decimal, independently of the page's string arithmetic.
AMOUNTS = ["5.10", "-3", "+3", "0.01", "-0.01", ".5", "5.", " 12.30 ", "999999999.99", "007", "0",
           "abc", "5.101", "1e3", "1,000", "--1", "+-1", ".", "", "-", "5 10", "1.2.3", "0x10", "Infinity", "1000000000"]


def _expected_minor(text: str):
    from decimal import Decimal

    stripped = text.strip()
    if not re.fullmatch(r"[+-]?(\d{1,9}(\.\d{0,2})?|\.\d{1,2})", stripped):
        return None
    return int(Decimal(stripped) * 100)


def test_amounts_become_exact_minor_units_and_money_reads_back_exactly(console_tab):
    page = console_tab().page
    parsed = page.evaluate("texts => texts.map(t => window.omnicardConsole.parseMinor(t, 'USD'))", AMOUNTS)
    assert dict(zip(AMOUNTS, parsed)) == {text: _expected_minor(text) for text in AMOUNTS}
    shown = page.evaluate("""amounts => amounts.map(a => window.omnicardConsole.formatMoney({amount: a, currency: 'USD'}))""",
                          [0, 1, -1, 510, -300, 100000, 99999999999])
    assert shown == ["0.00 USD", "0.01 USD", "-0.01 USD", "5.10 USD", "-3.00 USD", "1,000.00 USD", "999,999,999.99 USD"]


def test_fields_are_labelled_reasons_are_the_contracts_and_sign_out_forgets_the_token(console_tab):
    console = console_tab().sign_in("supervisor", "S-4")
    page = console.page
    values = page.locator("#adjust-reason option").evaluate_all("options => options.map(o => o.value)")
    assert values == ["goodwill", "service_recovery", "correction", "fraud", "other"]
    unlabeled = page.evaluate("""() => [...document.querySelectorAll('input, select')]
        .filter(field => !document.querySelector(`label[for="${field.id}"]`)).map(field => field.id || field.name)""")
    assert unlabeled == []

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("Token", exact=True)).to_be_visible()
    expect(page.get_by_label("Find member", exact=True)).to_be_hidden()
    page.reload()
    expect(page.get_by_label("Token", exact=True)).to_be_visible()
