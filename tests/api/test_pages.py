"""The console and the docs page as HTTP resources: right content types, a strict CSP, no token,
no JSON-only body rules, ETag revalidation, problem+json for an unknown file."""
from __future__ import annotations

import json
import re

import pytest

from chalicelib.settings import reset_settings


@pytest.mark.parametrize("path, content_type", [
    ("/console", "text/html; charset=utf-8"),
    ("/console/console.js", "text/javascript; charset=utf-8"),
    ("/console/console.css", "text/css; charset=utf-8"),
    ("/v1/docs", "text/html; charset=utf-8"),
    ("/v1/docs/docs.js", "text/javascript; charset=utf-8"),
    ("/v1/docs/swagger-ui.js", "text/javascript; charset=utf-8"),
    ("/v1/docs/swagger-ui.css", "text/css; charset=utf-8"),
])
def test_pages_and_assets_are_served_without_a_token_under_a_strict_csp(api, path, content_type):
    response = api.client.http.get(path)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == content_type
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'self';" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_console_page_carries_no_inline_script_only_its_settings(api):
    html = api.client.http.get("/console").body.decode()
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    inline = [attrs for attrs, body in scripts if body.strip()]
    assert inline == [' id="console-settings" type="application/json"']
    settings = json.loads(re.search(r'id="console-settings" type="application/json">(.*?)</script>', html, re.S).group(1))
    assert settings["token_sign_in"] is True and settings["oauth"] is False
    assert settings["reason_codes"] == ["goodwill", "service_recovery", "correction", "fraud", "other"]


def test_a_stage_with_oauth_allows_its_token_endpoint_and_hides_the_token_field(api, monkeypatch):
    monkeypatch.setenv("OMNICARD_OAUTH_CLIENT_ID", "console")
    monkeypatch.setenv("OMNICARD_OAUTH_AUTHORIZE_URL", "https://login.example.com/oauth2/authorize")
    monkeypatch.setenv("OMNICARD_OAUTH_TOKEN_URL", "https://login.example.com/oauth2/token")
    monkeypatch.setenv("OMNICARD_CONSOLE_TOKEN_SIGN_IN", "false")
    reset_settings()
    try:
        response = api.client.http.get("/console")
        assert "connect-src 'self' https://login.example.com;" in response.headers["Content-Security-Policy"]
        settings = json.loads(re.search(r'type="application/json">(.*?)</script>', response.body.decode(), re.S).group(1))
        assert settings["oauth"] is True and settings["token_sign_in"] is False
    finally:
        monkeypatch.undo()
        reset_settings()


def test_an_unchanged_asset_is_revalidated_with_its_etag(api):
    first = api.client.http.get("/console/console.js")
    again = api.client.http.get("/console/console.js", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.body == b""


def test_an_unknown_file_is_a_problem_not_a_file(api):
    response = api.client.http.get("/console/..%2Fapp.py")
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/problem+json"
    assert json.loads(response.body)["code"] == "not_found"
    assert api.client.http.get("/v1/docs/html.py").status_code == 404


def test_half_configured_oauth_stops_start_up_naming_the_settings(monkeypatch):
    from chalicelib.settings import SettingsError, console_settings

    monkeypatch.setenv("OMNICARD_OAUTH_CLIENT_ID", "console")
    reset_settings()
    try:
        with pytest.raises(SettingsError, match="OMNICARD_OAUTH_AUTHORIZE_URL"):
            console_settings()
    finally:
        monkeypatch.undo()
        reset_settings()


@pytest.mark.parametrize("path", ["/console", "/v1/docs", "/console/console.js"])
def test_a_page_answers_other_methods_with_405_problem_json(api, path):
    response = api.request("POST", path, body={})
    assert response.status_code == 405
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.headers["Allow"] == "GET, OPTIONS"
