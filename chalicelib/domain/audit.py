"""The audit record of a staff action: who, role, when, what, before and after. Never updated."""
from __future__ import annotations

import secrets
from typing import Any

from pydantic import BaseModel, ConfigDict

from chalicelib.domain.principals import Principal


class AuditRecord(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    audit_id: str
    action: str
    at: str
    actor: str
    role: str
    agent_id: str | None = None
    store_id: str | None = None
    channel: str
    member_id: str | None = None
    card_id: str | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    tx_id: str | None = None
    adjustment_id: str | None = None
    reason_code: str | None = None
    note: str | None = None
    ticket_ref: str | None = None

    @property
    def subject(self) -> str:
        """Filed under the member when there is one (the supervisor reads a member's audit), else the card."""
        return self.member_id or self.card_id or "unknown"


def audit_record(principal: Principal, action: str, at: str, **fields: Any) -> AuditRecord:
    return AuditRecord(audit_id="aud_" + secrets.token_hex(10), action=action, at=at, actor=principal.sub,
                       role=principal.role, agent_id=principal.agent_id, store_id=principal.store_id,
                       channel=principal.channel, **fields)


def audited(principal: Principal) -> bool:
    """Staff actions are audited; so are refunds by a till (the action names it)."""
    return principal.is_staff
