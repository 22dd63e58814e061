"""Card routes."""
from __future__ import annotations

from chalice import Blueprint
from pydantic import BaseModel

from chalicelib.api import schemas
from chalicelib.api.http import OPTIONAL, REQUIRED, Call, endpoint
from chalicelib.domain.cards import CardResource
from chalicelib.domain.ledger import Transaction
from chalicelib.services import cards
from chalicelib.services.cards import TransactionPage, TransferResult

bp = Blueprint(__name__)


class CardList(BaseModel):
    items: list[CardResource]


@endpoint(bp, "POST", "/v1/cards", summary="Issue a card (the only response with the full card number)",
          status=201, body=schemas.IssueCard, response=CardResource, idempotency_key=REQUIRED, errors=(403, 404, 409, 422))
def issue_card(call: Call) -> CardResource:
    return cards.issue_card(call.principal, call.body.member_id, call.body.currency, call.gate)


@endpoint(bp, "GET", "/v1/cards", summary="Find the card with this number", query=schemas.CardNumber,
          response=CardList, errors=(403, 422))
def find_cards(call: Call) -> CardList:
    return CardList(items=cards.find_by_number(call.principal, call.query.number))


@endpoint(bp, "GET", "/v1/cards/{card_id}", summary="A card and its balance (strongly consistent)",
          response=CardResource, errors=(403, 404))
def get_card(call: Call, card_id: str) -> CardResource:
    return cards.get_card(call.principal, card_id)


@endpoint(bp, "POST", "/v1/cards/register", summary="Attach the unregistered card with this full number to a member",
          body=schemas.RegisterCard, response=CardResource, idempotency_key=OPTIONAL, errors=(403, 404, 409, 422))
def register_card(call: Call) -> CardResource:
    return cards.register_card(call.principal, call.body.card_number, call.body.member_id, call.gate)


@endpoint(bp, "POST", "/v1/cards/{card_id}/reloads", summary="Reload the card", status=201, body=schemas.Reload,
          response=Transaction, idempotency_key=REQUIRED, errors=(403, 404, 409, 422))
def reload_card(call: Call, card_id: str) -> Transaction:
    return cards.reload(call.principal, card_id, call.body.amount, call.body.payment_ref, call.gate)


@endpoint(bp, "POST", "/v1/cards/{card_id}/payments", summary="Pay with the card (till or order ahead)", status=201,
          body=schemas.Payment, response=Transaction, idempotency_key=REQUIRED,
          errors=(403, 404, 409, 422))
def pay_with_card(call: Call, card_id: str) -> Transaction:
    return cards.pay(call.principal, card_id, call.body.amount, call.body.store_id, call.body.order_ref, call.gate)


@endpoint(bp, "POST", "/v1/cards/{card_id}/freeze", summary="Freeze a lost or stolen card", response=CardResource,
          idempotency_key=OPTIONAL, errors=(403, 404))
def freeze_card(call: Call, card_id: str) -> CardResource:
    return cards.set_status(call.principal, card_id, "frozen", call.gate)


@endpoint(bp, "POST", "/v1/cards/{card_id}/unfreeze", summary="Unfreeze a card", response=CardResource,
          idempotency_key=OPTIONAL, errors=(403, 404))
def unfreeze_card(call: Call, card_id: str) -> CardResource:
    return cards.set_status(call.principal, card_id, "active", call.gate)


@endpoint(bp, "POST", "/v1/cards/{card_id}/transfers", summary="Move value to another card", status=201,
          body=schemas.Transfer, response=TransferResult, idempotency_key=REQUIRED,
          errors=(403, 404, 409, 422))
def transfer_balance(call: Call, card_id: str) -> TransferResult:
    body = call.body
    return cards.transfer(call.principal, card_id, body.to_card_id, body.amount, call.gate,
                          move_auto_reload=body.move_auto_reload)


@endpoint(bp, "GET", "/v1/cards/{card_id}/transactions", summary="The card's transactions, newest first",
          query=schemas.Page, response=TransactionPage, errors=(403, 404, 422))
def card_transactions(call: Call, card_id: str) -> TransactionPage:
    return cards.list_transactions(call.principal, card_id, call.query.limit, call.query.cursor)
