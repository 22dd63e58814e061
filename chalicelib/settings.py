"""Environment and business rules, parsed and validated once per process."""
from __future__ import annotations

import json
import os
import re
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

# The rule models live in the domain; settings loads them (re-exported for callers of settings).
from chalicelib.domain.rules import AbuseLimits, Approvals, MoneyLimits, Rules  # noqa: F401


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ledger_table: str = "omnicard-ledger"
    views_table: str = "omnicard-views"
    event_bus: str = "omnicard"
    auth_mode: Literal["hs256", "jwks"] = "hs256"
    jwt_secret: str | None = None
    jwks_url: str | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    # The card-number HMAC key (read through card_number_pepper() below). Deployed stages name an
    # SSM SecureString parameter instead (card_number_pepper_parameter); local stages and the tests
    # use this value.
    card_number_pepper: str = "omnicard-local-pepper"
    card_number_pepper_parameter: str | None = None
    idempotency_ttl_hours: int = Field(48, ge=24)
    max_body_bytes: int = 64 * 1024
    write_attempts: int = Field(24, ge=1)
    rules: Rules = Field(default_factory=Rules)
    # Browser origins (the web channel) allowed to call the API, per stage: OMNICARD_CORS_ALLOWED_ORIGINS
    # in .chalice/config.json, comma-separated. Empty: no browser origin may call (see README, CORS).
    cors_allowed_origins: tuple[str, ...] = ()
    # Webhooks (README, "Webhooks"): the subscriptions' table, the KMS key their secrets are encrypted
    # with, the delivery queue (retries are sent back to it with a delay) and its dead-letter queue.
    webhooks_table: str = "omnicard-webhooks"
    webhook_key: str = "alias/omnicard-webhooks"
    webhook_queue_url: str | None = None
    webhook_dead_letter_url: str | None = None
    # The local stage only: webhook URLs may be plain http to localhost / 127.0.0.1, and delivery may
    # connect to loopback addresses. Deployed stages leave it off (public https endpoints only).
    webhook_http_loopback: bool = False
    # Retry n waits webhook_retry_delays[n-1] seconds (the last repeats; at most 900, SQS's longest
    # delay); no attempt is scheduled later than webhook_retry_seconds after the first.
    webhook_retry_delays: tuple[int, ...] = (5, 30, 120, 600, 900)
    webhook_retry_seconds: int = Field(25 * 3600, ge=1)
    webhook_timeout_seconds: float = Field(10.0, gt=0, le=30)

    @field_validator("webhook_retry_delays", mode="before")
    @classmethod
    def _delays(cls, value: object) -> object:
        if isinstance(value, str):
            value = [int(part) for part in value.split(",") if part.strip()]
        if not value or any(not isinstance(d, int) or not 0 <= d <= 900 for d in value):  # type: ignore[union-attr]
            raise ValueError("webhook retry delays are 1..n whole seconds, each 0..900")
        return value

    @field_validator("cors_allowed_origins", mode="before")
    @classmethod
    def _origins(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        for origin in value if isinstance(value, (list, tuple)) else ():
            if not isinstance(origin, str) or not _ORIGIN.fullmatch(origin):
                raise ValueError(f"{origin!r} is not an origin: scheme://host[:port] in lower case, no path, "
                                 "https (http only for localhost or 127.0.0.1), no wildcard")
        return value

    @model_validator(mode="after")
    def _auth_configured(self) -> "Settings":
        if self.auth_mode == "hs256" and not self.jwt_secret:
            raise ValueError("OMNICARD_JWT_SECRET is required when OMNICARD_AUTH_MODE=hs256")
        if self.auth_mode == "jwks" and not (self.jwks_url and self.jwt_issuer and self.jwt_audience):
            raise ValueError("OMNICARD_JWKS_URL, OMNICARD_JWT_ISSUER and OMNICARD_JWT_AUDIENCE are required when OMNICARD_AUTH_MODE=jwks")
        return self


_ENV = {
    "ledger_table": "OMNICARD_LEDGER_TABLE",
    "views_table": "OMNICARD_VIEWS_TABLE",
    "event_bus": "OMNICARD_EVENT_BUS",
    "auth_mode": "OMNICARD_AUTH_MODE",
    "jwt_secret": "OMNICARD_JWT_SECRET",
    "jwks_url": "OMNICARD_JWKS_URL",
    "jwt_issuer": "OMNICARD_JWT_ISSUER",
    "jwt_audience": "OMNICARD_JWT_AUDIENCE",
    "card_number_pepper": "OMNICARD_CARD_NUMBER_PEPPER",
    "card_number_pepper_parameter": "OMNICARD_CARD_NUMBER_PEPPER_PARAMETER",
    "cors_allowed_origins": "OMNICARD_CORS_ALLOWED_ORIGINS",
    "webhooks_table": "OMNICARD_WEBHOOKS_TABLE",
    "webhook_key": "OMNICARD_WEBHOOK_KEY",
    "webhook_queue_url": "OMNICARD_WEBHOOK_QUEUE_URL",
    "webhook_dead_letter_url": "OMNICARD_WEBHOOK_DEAD_LETTER_URL",
    "webhook_http_loopback": "OMNICARD_WEBHOOK_HTTP_LOOPBACK",
    "webhook_retry_delays": "OMNICARD_WEBHOOK_RETRY_DELAYS",
    "webhook_retry_seconds": "OMNICARD_WEBHOOK_RETRY_SECONDS",
    "webhook_timeout_seconds": "OMNICARD_WEBHOOK_TIMEOUT_SECONDS",
}
# An origin as browsers send it (RFC 6454 serialisation). Exact strings, so no wildcard can let in a
# look-alike host; plain http only for a developer's own machine.
_ORIGIN = re.compile(r"https://[a-z0-9.-]+(:[0-9]{1,5})?|http://(localhost|127\.0\.0\.1)(:[0-9]{1,5})?", re.ASCII)


class SettingsError(RuntimeError):
    """Start-up configuration is invalid; the message names the field."""


DEFAULT_RULES_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rules.json")


def load_rules(path: str | None = None) -> Rules:
    """The programme's rules from `path` (default: chalicelib/rules.json, shipped with the code).
    A bad file raises SettingsError naming the field, so the function fails at start-up."""
    path = path or DEFAULT_RULES_FILE
    try:
        with open(path, encoding="utf-8") as handle:
            return Rules.model_validate(json.load(handle))
    except (OSError, json.JSONDecodeError) as exc:
        raise SettingsError(f"rules file {path}: {exc}") from exc
    except ValidationError as exc:
        fields = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise SettingsError(f"rules file {path}: {fields}") from exc


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings from the environment (and OMNICARD_RULES_FILE), validated once."""
    values = {field: os.environ[var] for field, var in _ENV.items() if os.environ.get(var)}
    values["rules"] = configured_rules()
    try:
        return Settings.model_validate(values)
    except ValidationError as exc:
        raise SettingsError(str(exc)) from exc


@lru_cache(maxsize=1)
def configured_rules() -> Rules:
    """The rules of OMNICARD_RULES_FILE (or the shipped defaults), parsed once. app.py calls this at
    import so that a bad rules file stops start-up with a message naming the field."""
    return load_rules(os.environ.get("OMNICARD_RULES_FILE"))


def card_number_pepper() -> str:
    """The card-number pepper alone (it also keys transaction ids), for code that must not need the
    rest of the settings: `omnicard reconcile` runs on an operator's machine without a JWT secret.

    A deployed stage names an SSM SecureString parameter (OMNICARD_CARD_NUMBER_PEPPER_PARAMETER),
    read once per process and cached: a Lambda environment variable would be readable by anyone
    allowed lambda:GetFunctionConfiguration. Local stages and the tests name none and use
    OMNICARD_CARD_NUMBER_PEPPER or the local default."""
    parameter = os.environ.get(_ENV["card_number_pepper_parameter"])
    if parameter:
        return _pepper_from_parameter(parameter)
    return os.environ.get(_ENV["card_number_pepper"]) or Settings.model_fields["card_number_pepper"].default


_MIN_PEPPER_LENGTH = 32


@lru_cache(maxsize=4)
def _pepper_from_parameter(name: str) -> str:
    """One decrypted GetParameter per process (cold start), cached for the life of the instance."""
    from chalicelib.store.client import ssm  # the process's one SSM client (settings stays free of boto3 at import)

    value: str = ssm().get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    if len(value) < _MIN_PEPPER_LENGTH:
        raise SettingsError(f"SSM parameter {name}: the card-number pepper must be at least {_MIN_PEPPER_LENGTH} characters")
    return value


def reset_settings() -> None:
    """Forget parsed settings (tests change the environment)."""
    get_settings.cache_clear()
    configured_rules.cache_clear()
    console_settings.cache_clear()


class ConsoleSettings(BaseModel):
    """How the call-center console (/console) signs staff in on this stage (README, Console).

    OAuth 2 authorization code + PKCE (a public client: no secret ever reaches the browser) is on
    when `oauth_client_id`, `oauth_authorize_url` and `oauth_token_url` are all set. The pasted-token
    field is on where `token_sign_in` says, by default only where tokens are local HS256 ones."""

    model_config = ConfigDict(extra="forbid")

    token_sign_in: bool
    oauth_client_id: str | None = None
    oauth_authorize_url: str | None = Field(None, pattern=r"^https://|^http://(localhost|127\.0\.0\.1)[:/]")
    oauth_token_url: str | None = Field(None, pattern=r"^https://|^http://(localhost|127\.0\.0\.1)[:/]")
    oauth_scope: str = "openid"

    @model_validator(mode="after")
    def _complete(self) -> "ConsoleSettings":
        given = [self.oauth_client_id, self.oauth_authorize_url, self.oauth_token_url]
        if any(given) and not all(given):
            raise ValueError("OMNICARD_OAUTH_CLIENT_ID, OMNICARD_OAUTH_AUTHORIZE_URL and OMNICARD_OAUTH_TOKEN_URL "
                             "are set together or not at all")
        return self

    @property
    def oauth(self) -> bool:
        return self.oauth_client_id is not None


_CONSOLE_ENV = {
    "token_sign_in": "OMNICARD_CONSOLE_TOKEN_SIGN_IN",
    "oauth_client_id": "OMNICARD_OAUTH_CLIENT_ID",
    "oauth_authorize_url": "OMNICARD_OAUTH_AUTHORIZE_URL",
    "oauth_token_url": "OMNICARD_OAUTH_TOKEN_URL",
    "oauth_scope": "OMNICARD_OAUTH_SCOPE",
}


@lru_cache(maxsize=1)
def console_settings() -> ConsoleSettings:
    """The console's sign-in settings from the environment, parsed once (the token field defaults
    to on only for HS256 stages). app.py calls this at import so a half-configured stage stops
    start-up with a message naming the settings."""
    values: dict[str, object] = {field: os.environ[var] for field, var in _CONSOLE_ENV.items() if os.environ.get(var)}
    values.setdefault("token_sign_in", os.environ.get("OMNICARD_AUTH_MODE", "hs256") == "hs256")
    try:
        return ConsoleSettings.model_validate(values)
    except ValidationError as exc:
        raise SettingsError(str(exc)) from exc
