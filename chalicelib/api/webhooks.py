"""Webhooks (service role): subscribe an HTTPS endpoint to the change events, list, unsubscribe."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.api import schemas
from chalicelib.api.http import REQUIRED, Call, endpoint
from chalicelib.domain.webhooks import NewWebhook, WebhookList
from chalicelib.services import webhooks

bp = Blueprint(__name__)


@endpoint(bp, "POST", "/v1/webhooks", summary="Subscribe a URL to the change events (the one response showing its secret)",
          status=201, body=schemas.NewWebhook, response=NewWebhook, idempotency_key=REQUIRED, errors=(403, 422))
def subscribe_webhook(call: Call) -> NewWebhook:
    return webhooks.subscribe(call.principal, call.body.url, call.body.event_types, call.gate)


@endpoint(bp, "GET", "/v1/webhooks", summary="The webhook subscriptions, without their secrets",
          response=WebhookList, errors=(403,))
def list_webhooks(call: Call) -> WebhookList:
    return webhooks.list_webhooks(call.principal)


@endpoint(bp, "DELETE", "/v1/webhooks/{webhook_id}", summary="Unsubscribe a webhook", status=204, errors=(403, 404))
def delete_webhook(call: Call, webhook_id: str) -> None:
    webhooks.unsubscribe(call.principal, webhook_id)
