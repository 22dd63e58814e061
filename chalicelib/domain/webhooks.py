"""Webhooks: subscriptions to the change events, Standard Webhooks signing, which URLs may be
called, and the retry schedule. Pure (no boto3, no sockets)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import re
import secrets
from datetime import datetime
from typing import Any, get_args
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict

from chalicelib.domain.errors import ValidationFailed
from chalicelib.domain.events import DetailType

EVENT_TYPES: tuple[str, ...] = get_args(DetailType)
SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32  # the contract asks for 24 or more
MAX_URL_LENGTH = 2048
# Host names that name this machine or a cloud's internal services whatever DNS says.
_INTERNAL_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain", ".home.arpa")
_HOST_NAME = re.compile(r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?", re.ASCII)
_LOOPBACK_HOSTS = ("localhost", "127.0.0.1")


class Webhook(BaseModel):
    """A subscription as GET /v1/webhooks shows it. `event_types` None: every type (also those
    added later)."""

    model_config = ConfigDict(frozen=True)

    webhook_id: str
    url: str
    event_types: list[DetailType] | None
    created_at: str

    def wants(self, detail_type: str) -> bool:
        return self.event_types is None or detail_type in self.event_types


class NewWebhook(Webhook):
    """The 201 of POST /v1/webhooks: the one response that shows the signing secret."""

    secret: str


class WebhookList(BaseModel):
    items: list[Webhook]


def new_webhook_id() -> str:
    return "whk_" + secrets.token_hex(10)


def new_secret() -> str:
    """`whsec_` + base64 of 32 random bytes (Standard Webhooks' secret format)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def check_url(url: str, *, http_loopback: bool) -> str:
    """The URL if events may be POSTed to it, else ValidationFailed (422). https to a public host
    name or address; plain http only to localhost / 127.0.0.1, and only where the stage allows it
    (`http_loopback`, the local stage). No credentials in the URL, no fragment, no internal names.
    Delivery checks the addresses the name resolves to again (webhooks/sender.py)."""
    def refuse(why: str) -> ValidationFailed:
        return ValidationFailed(f"url {why}", errors=[{"loc": ["body", "url"], "msg": why, "type": "url_refused"}])

    if len(url) > MAX_URL_LENGTH or not url.isascii() or not url.isprintable() or any(c.isspace() for c in url):
        raise refuse(f"must be at most {MAX_URL_LENGTH} printable ASCII characters without spaces")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise refuse("is not a valid URL") from exc
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("https", "http") or not host or not parts.netloc:
        raise refuse("must be an absolute https URL")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise refuse("must not carry credentials")
    if parts.fragment or url.endswith("#"):
        raise refuse("must not have a fragment")
    if port == 0:
        raise refuse("has an invalid port")
    if parts.scheme == "http":
        if http_loopback and host in _LOOPBACK_HOSTS:
            return url
        raise refuse("must be https" + (" (plain http only to localhost or 127.0.0.1)" if http_loopback else ""))
    address = _ip_literal(host)
    if address is not None:
        if not address.is_global or address.is_multicast:
            raise refuse("must not name a private, loopback, link-local, multicast or reserved address")
        return url
    if host == "localhost" or host.endswith(_INTERNAL_SUFFIXES) or not _HOST_NAME.fullmatch(host) \
            or re.fullmatch(r"[0-9a-fx.]+", host):  # 2130706433, 0x7f.1: numbers some resolvers read as addresses
        raise refuse("must name a public host")
    return url


def _ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def may_connect(address: str, *, loopback: bool) -> bool:
    """Whether delivery may open a connection to this resolved address: public ones only (no
    private, link-local — the cloud metadata service —, multicast or reserved ranges), loopback
    too where the stage allows http to localhost."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (ip.is_global and not ip.is_multicast) or (loopback and ip.is_loopback)


# --- delivery ---------------------------------------------------------------------------------

def body(detail_type: str, timestamp: str, detail: dict[str, Any]) -> bytes:
    """What is POSTed: {"type", "timestamp", "data"} (contract, Webhooks)."""
    return json.dumps({"type": detail_type, "timestamp": timestamp, "data": detail},
                      separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def signature(secret: str, message_id: str, timestamp: int, payload: bytes) -> str:
    """Standard Webhooks `webhook-signature`: v1, + base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`
    keyed with the base64-decoded part of the secret after `whsec_`."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode("utf-8") + payload
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode("ascii")


def headers(secret: str, message_id: str, at: datetime, payload: bytes) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt (the timestamp is the attempt's: receivers
    refuse old ones)."""
    timestamp = int(at.timestamp())
    return {"webhook-id": message_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": signature(secret, message_id, timestamp, payload)}


def next_delay(attempt: int, first_attempt_at: datetime, now: datetime, delays: tuple[int, ...],
               retry_seconds: int) -> int | None:
    """Seconds to wait before attempt `attempt + 1`, or None when the retry window is over.
    The n-th retry waits delays[n-1] (the last delay repeats); no attempt is scheduled later than
    `retry_seconds` after the first."""
    if not delays or attempt < 1:
        return None
    delay = delays[min(attempt, len(delays)) - 1]
    if (now - first_attempt_at).total_seconds() + delay > retry_seconds:
        return None
    return delay
