"""Webhook subscriptions (service role): subscribe, list, unsubscribe.

The 201 of a subscription is the one response that shows its secret. Under the Idempotency-Key the
first response is stored for replay like any other, but with the secret's KMS ciphertext in place
of the secret: a replay decrypts it again, so no plaintext secret rests in the ledger table."""
from __future__ import annotations

import base64
from typing import Any

from chalicelib import clock
from chalicelib.domain.errors import NotFound
from chalicelib.domain.principals import Principal, require_role
from chalicelib.domain.webhooks import NewWebhook, Webhook, WebhookList, check_url, new_secret, new_webhook_id
from chalicelib.services import ledger
from chalicelib.services.gate import Gate, Replay
from chalicelib.settings import get_settings
from chalicelib.store import webhook_writes
from chalicelib.store import webhooks as webhook_store

_SEALED = "secret_ciphertext"


def subscribe(principal: Principal, url: str, event_types: list[str] | None, gate: Gate | None) -> NewWebhook:
    """A new subscription with a fresh signing secret; 422 for a URL events may not be sent to."""
    require_role(principal, "service")
    check_url(url, http_loopback=get_settings().webhook_http_loopback)
    types = sorted(set(event_types), key=event_types.index) if event_types is not None else None
    webhook = Webhook(webhook_id=new_webhook_id(), url=url, event_types=types, created_at=clock.rfc3339(clock.now()))
    secret = new_secret()
    try:
        if gate is not None:
            ledger.read(gate)  # a key answered already: replay it before minting anything
        ciphertext = webhook_writes.encrypt_secret(webhook.webhook_id, secret)
        sealed = {**webhook.model_dump(mode="json"), _SEALED: base64.b64encode(ciphertext).decode("ascii")}

        def attempt() -> NewWebhook:
            ledger.commit([("webhook", webhook_writes.put_new(webhook, ciphertext))], gate, sealed)
            return NewWebhook(**webhook.model_dump(), secret=secret)

        return ledger.retrying(attempt, gate)
    except Replay as replay:
        raise Replay(replay.status, _unsealed(replay.body), own=replay.own) from None


def _unsealed(body: Any) -> Any:
    if not isinstance(body, dict) or _SEALED not in body:
        return body
    shown = {key: value for key, value in body.items() if key != _SEALED}
    shown["secret"] = webhook_store.decrypt_secret(body["webhook_id"], base64.b64decode(body[_SEALED]))
    return shown


def list_webhooks(principal: Principal) -> WebhookList:
    require_role(principal, "service")
    return WebhookList(items=[s.webhook for s in webhook_store.subscriptions(consistent=True)])


def unsubscribe(principal: Principal, webhook_id: str) -> None:
    require_role(principal, "service")
    if not webhook_writes.delete(webhook_id):
        raise NotFound("webhook not found")
