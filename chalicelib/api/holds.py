"""Hold routes: pre-authorization and completion (contract v1.1, "Holds")."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.api import schemas
from chalicelib.api.http import OPTIONAL, REQUIRED, Call, endpoint
from chalicelib.domain.holds import Hold
from chalicelib.domain.ledger import Transaction
from chalicelib.services import holds

bp = Blueprint(__name__)


@endpoint(bp, "POST", "/v1/cards/{card_id}/holds", summary="Hold an amount on the card (pre-authorization)",
          status=201, body=schemas.PlaceHold, response=Hold, idempotency_key=REQUIRED, errors=(403, 404, 409, 422))
def place_hold(call: Call, card_id: str) -> Hold:
    body = call.body
    return holds.place(call.principal, card_id, body.amount, body.store_id, body.order_ref, body.expires_in, call.gate)


@endpoint(bp, "GET", "/v1/holds/{hold_id}", summary="A hold and its status", response=Hold, errors=(403, 404))
def get_hold(call: Call, hold_id: str) -> Hold:
    return holds.get(call.principal, hold_id)


@endpoint(bp, "POST", "/v1/holds/{hold_id}/capture", summary="Complete a hold as a payment (the rest is released)",
          status=201, body=schemas.CaptureHold, response=Transaction, idempotency_key=REQUIRED,
          errors=(403, 404, 409, 422))
def capture_hold(call: Call, hold_id: str) -> Transaction:
    return holds.capture(call.principal, hold_id, call.body.amount, call.gate)


@endpoint(bp, "POST", "/v1/holds/{hold_id}/void", summary="Release a hold whole", response=Hold,
          idempotency_key=OPTIONAL, errors=(403, 404, 409))
def void_hold(call: Call, hold_id: str) -> Hold:
    return holds.void(call.principal, hold_id, call.gate)
