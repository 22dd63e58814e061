"""Call-center routes: adjustments with maker-checker approval, pending list, audit trail."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.api import schemas
from chalicelib.api.http import OPTIONAL, REQUIRED, Call, Reply, endpoint
from chalicelib.domain.adjustments import Adjustment
from chalicelib.domain.ledger import Transaction
from chalicelib.services import adjustments, audit
from chalicelib.services.adjustments import AdjustmentPage
from chalicelib.services.audit import AuditPage

bp = Blueprint(__name__)
_ADJUSTMENT_ERRORS = (403, 404, 409, 422)


def _shaped(result: Transaction | Adjustment) -> Transaction | Reply:
    return Reply(202, result) if isinstance(result, Adjustment) else result


@endpoint(bp, "POST", "/v1/cards/{card_id}/adjustments", summary="Adjust a card's balance (staff)", status=201,
          body=schemas.CardAdjustment, response=Transaction, alternatives=((202, Adjustment),),
          idempotency_key=REQUIRED, errors=_ADJUSTMENT_ERRORS)
def adjust_card(call: Call, card_id: str) -> Transaction | Reply:
    body = call.body
    return _shaped(adjustments.adjust_card(call.principal, card_id, body.amount, body.reason_code, body.note,
                                           body.ticket_ref, call.gate))


@endpoint(bp, "POST", "/v1/members/{member_id}/adjustments", summary="Adjust a member's stars (staff)", status=201,
          body=schemas.StarAdjustment, response=Transaction, alternatives=((202, Adjustment),),
          idempotency_key=REQUIRED, errors=_ADJUSTMENT_ERRORS)
def adjust_stars(call: Call, member_id: str) -> Transaction | Reply:
    body = call.body
    return _shaped(adjustments.adjust_member_stars(call.principal, member_id, body.stars, body.reason_code, body.note,
                                                   body.ticket_ref, call.gate))


@endpoint(bp, "POST", "/v1/adjustments/{adjustment_id}/approve", summary="Approve and apply a pending adjustment",
          response=Transaction, idempotency_key=REQUIRED, errors=_ADJUSTMENT_ERRORS)
def approve_adjustment(call: Call, adjustment_id: str) -> Transaction:
    return adjustments.approve(call.principal, adjustment_id, call.gate)


@endpoint(bp, "POST", "/v1/adjustments/{adjustment_id}/reject", summary="Reject a pending adjustment",
          response=Adjustment, idempotency_key=OPTIONAL, errors=(403, 404, 409))
def reject_adjustment(call: Call, adjustment_id: str) -> Adjustment:
    return adjustments.reject(call.principal, adjustment_id, call.gate)


@endpoint(bp, "GET", "/v1/adjustments", summary="Pending adjustments, newest first (supervisors)",
          query=schemas.PendingQuery, response=AdjustmentPage, errors=(403,))
def pending_adjustments(call: Call) -> AdjustmentPage:
    return adjustments.pending(call.principal, call.query.limit, call.query.cursor)


@endpoint(bp, "GET", "/v1/members/{member_id}/audit", summary="Audit records of staff actions on a member and its cards",
          query=schemas.Page, response=AuditPage, errors=(403,))
def member_audit(call: Call, member_id: str) -> AuditPage:
    return audit.audit_trail(call.principal, member_id, call.query.limit, call.query.cursor)
