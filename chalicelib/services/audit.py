"""Audit records of staff actions: built here, written inside the action's own transaction (or
alone, for a lookup), and read back by supervisors."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from chalicelib import clock
from chalicelib.domain.audit import AuditRecord, audit_record
from chalicelib.domain.cards import Card
from chalicelib.domain.principals import Principal, require_role
from chalicelib.store import audit as audit_store


class AuditPage(BaseModel):
    items: list[AuditRecord]
    next_cursor: str | None


def card_state(card: Card, **changes: Any) -> dict[str, Any]:
    """What an auditor needs of a card, before or after an action (never its number)."""
    card = card.model_copy(update=changes) if changes else card
    return {"status": card.status, "balance": card.balance, "currency": card.currency, "member_id": card.member_id,
            "auto_reload": card.auto_reload.model_dump(mode="json") if card.auto_reload else None}


def staff_action(principal: Principal, action: str, *, card: Card | None = None, member_id: str | None = None,
                 **fields: Any) -> AuditRecord | None:
    """The audit record of `action` when a staff member does it (None for customers, tills, systems)."""
    if not principal.is_staff:
        return None
    return audit_record(principal, action, clock.rfc3339(clock.now()), card_id=card.card_id if card else None,
                        member_id=member_id or (card.member_id if card else None), **fields)


def record_lookup(principal: Principal, action: str, *, member_id: str | None = None, card: Card | None = None) -> None:
    """File the audit record of a staff member reading a member's or card's data."""
    record = staff_action(principal, action, card=card, member_id=member_id)
    if record is not None:
        audit_store.file(record)


def audit_trail(principal: Principal, member_id: str, limit: int, cursor: str | None) -> AuditPage:
    """Supervisors read the audit records of a member and its cards, newest first."""
    require_role(principal, "supervisor")
    records, next_cursor = audit_store.for_subject(member_id, limit, cursor)
    return AuditPage(items=records, next_cursor=next_cursor)
