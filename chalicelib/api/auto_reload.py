"""A card's auto-reload settings."""
from __future__ import annotations

from chalice import Blueprint
from pydantic import Field

from chalicelib.api import schemas
from chalicelib.api.http import Call, endpoint
from chalicelib.domain.cards import CardResource
from chalicelib.domain.money import PositiveMoney
from chalicelib.services import auto_reload

bp = Blueprint(__name__)


class AutoReloadSettings(schemas.Body):
    threshold: PositiveMoney
    amount: PositiveMoney
    payment_ref: str = Field(min_length=1, max_length=128, description="charged for each auto-reload; never shown")


@endpoint(bp, "PUT", "/v1/cards/{card_id}/auto-reload",
          summary="Reload `amount` whenever a debit leaves the card below `threshold`",
          body=AutoReloadSettings, response=CardResource, errors=(403, 404, 409, 422))
def set_auto_reload(call: Call, card_id: str) -> CardResource:
    body = call.body
    return auto_reload.configure(call.principal, card_id, body.threshold, body.amount, body.payment_ref)


@endpoint(bp, "DELETE", "/v1/cards/{card_id}/auto-reload", summary="Switch auto-reload off",
          response=CardResource, errors=(403, 404))
def remove_auto_reload(call: Call, card_id: str) -> CardResource:
    return auto_reload.cancel(call.principal, card_id)
