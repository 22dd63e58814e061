"""The call-center console in headless Chromium, against the local stack over a real socket."""
from __future__ import annotations

import re

from playwright.sync_api import expect


def test_agent_finds_a_member_by_email_and_by_card_number(console_tab, world):
    member = world.member(balances=(1000, 500))
    console = console_tab().sign_in("agent", "A1")
    expect(console.page.get_by_text("Signed in as agent")).to_be_visible()

    console.find(member["email"])
    page = console.page
    expect(page.get_by_role("heading", name="Ada Lovelace")).to_be_visible()
    expect(page.locator("#member-email")).to_have_text(member["email"])
    expect(page.locator("#member-tier")).to_have_text("green")
    expect(page.locator("#cards-table")).to_contain_text("10.00 USD")
    expect(page.locator("#cards-table")).to_contain_text("5.00 USD")
    expect(page.locator("#as-of-age")).to_have_text(re.compile(r"\(\d+ s ago\)"))
    expect(page.locator("#activity-table")).to_contain_text("reload")
    expect(page.locator("#activity-table")).to_contain_text("phone")
