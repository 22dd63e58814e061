"""`make screenshots` writes the README's pictures of the main screens to docs/screenshots/ (1280×800).
A plain `make test` skips it: the other browser tests walk the same screens."""
from __future__ import annotations

import os

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SCREENSHOTS

WRITE = os.environ.get("OMNICARD_SCREENSHOTS") == "1"


def _shot(page, name: str) -> None:
    if WRITE:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


@pytest.mark.skipif(not WRITE, reason="writes docs/screenshots/: `make screenshots` (the other browser tests walk these screens)")
def test_main_screens(console_tab, world, browser):
    member = world.member(balances=(2500, 1000), name="Grace Hopper")
    card_id = member["cards"][0]["card_id"]
    world.http.ok("POST", f"/v1/cards/{card_id}/payments", world.till,
                  {"amount": {"amount": 640, "currency": "USD"}, "store_id": "S1"})
    agent = console_tab()
    _shot(agent.page, "console-sign-in")
    agent.sign_in("agent", "A1")
    agent.find(member["cards"][0]["card_number"])
    expect(agent.page.locator("#card-balance")).to_have_text("18.60 USD")
    form = agent.form("Adjust balance")
    form.get_by_label("Amount").fill("75.00")
    form.get_by_label("Reason").select_option("correction")
    form.get_by_label("Note").fill("double charge at store S1, ticket 4411")
    form.get_by_role("button", name="Apply adjustment").click()
    expect(form.get_by_role("status")).to_contain_text("Pending approval")
    form.get_by_label("Amount").fill("abc")
    form.get_by_role("button", name="Apply adjustment").click()
    expect(agent.alert).to_contain_text("Invalid amount")
    agent.page.evaluate("window.scrollTo(0, 0)")
    _shot(agent.page, "console-member")

    supervisor = console_tab().sign_in("supervisor", "S-2")
    supervisor.page.get_by_role("button", name="Approvals").click()
    expect(supervisor.page.get_by_role("row").filter(has_text="double charge")).to_be_visible()
    _shot(supervisor.page, "console-approvals")
    supervisor.page.get_by_role("row").filter(has_text="double charge").get_by_role("button", name="Approve").click()
    expect(supervisor.page.get_by_text("Approved: new balance 93.60 USD.")).to_be_visible()
    supervisor.find(member["cards"][0]["card_number"])
    supervisor.page.get_by_role("button", name="Audit").click()
    expect(supervisor.page.locator("#audit-table")).to_contain_text("S-2")
    _shot(supervisor.page, "console-audit")

    docs = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    docs.goto(world.base + "/v1/docs")
    docs.locator(".opblock").first.wait_for()
    _shot(docs, "docs-page")
    docs.context.close()
