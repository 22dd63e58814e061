"""Who is calling, and what each role may touch (contract, Principals and channels)."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from chalicelib.domain.errors import Forbidden, NotFound

Role = Literal["customer", "pos", "agent", "supervisor", "service"]
Channel = Literal["app", "web", "phone", "pos", "system"]

STAFF: frozenset[str] = frozenset({"agent", "supervisor"})


class Principal(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    sub: str
    role: Role
    member_id: str | None = None
    channel: Channel
    store_id: str | None = None
    terminal_id: str | None = None
    agent_id: str | None = None

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF


def require_role(principal: Principal, *roles: str) -> None:
    """Refuse a principal whose role is not among `roles`."""
    if principal.role not in roles:
        raise Forbidden(f"role {principal.role} may not do this")


def require_member_access(principal: Principal, member_id: str, *, staff: bool = True) -> None:
    """Owner of `member_id`, or staff when `staff` is allowed. A customer asking about another
    member gets 404, so it learns nothing about that member (contract allows 403 or 404)."""
    if principal.role == "customer":
        if principal.member_id != member_id:
            raise NotFound("member not found")
        return
    if staff and principal.is_staff:
        return
    raise Forbidden(f"role {principal.role} may not act on members")


def require_card_access(principal: Principal, card_member_id: str | None, *, roles: tuple[str, ...]) -> None:
    """Owner (customer whose member holds the card) or one of the staff/POS `roles`.

    A customer asking for a card that is not its own gets 404 and none of the card's data."""
    if principal.role == "customer":
        if "customer" in roles and card_member_id is not None and card_member_id == principal.member_id:
            return
        raise NotFound("card not found")
    if principal.role == "supervisor" and "agent" in roles:
        return
    if principal.role in roles:
        return
    raise Forbidden(f"role {principal.role} may not do this")
