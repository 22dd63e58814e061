"""GET /v1/docs in headless Chromium: Swagger UI from the assets Powertools ships, served by the app."""
from __future__ import annotations

import json

from playwright.sync_api import expect


def test_the_docs_page_lists_every_operation_grouped_by_tag_and_tries_them_here(browser, world):
    document = json.loads(world.http.get_text("/v1/openapi.json")[2])
    expected = {(method.upper(), path) for path, operations in document["paths"].items() for method in operations}
    tags = {operation["tags"][0] for operations in document["paths"].values() for operation in operations.values()}
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if "Content Security Policy" in message.text else None)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(world.base + "/v1/docs")
    page.locator(".opblock").first.wait_for()
    shown = {tuple(pair) for pair in page.locator(".opblock").evaluate_all("""blocks => blocks.map(block => [
        block.querySelector('.opblock-summary-method').textContent.trim(),
        block.querySelector('.opblock-summary-path').getAttribute('data-path')])""")}
    assert shown == expected
    sections = set(page.locator(".opblock-tag").evaluate_all("tags => tags.map(tag => tag.getAttribute('data-tag'))"))
    assert sections == tags
    assert all(url.startswith(world.base) for url in requests), requests  # no CDN: everything from this origin

    # "Try it out" calls this origin.
    health = page.locator("#operations-meta-health")
    health.locator(".opblock-summary-control").click()
    health.get_by_role("button", name="Try it out").click()
    health.get_by_role("button", name="Execute").click()
    expect(health.locator(".live-responses-table tbody .response-col_status").first).to_have_text("200")
    expect(health.locator(".live-responses-table tbody .microlight").first).to_contain_text('"status": "ok"')
    assert world.base + "/v1/health" in health.locator(".request-url").inner_text()
    context.close()
    assert errors == []
