"""Adjustments by call-center staff, and the maker-checker rule for large ones."""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone
from typing import Literal

from pydantic import BaseModel, ConfigDict

from chalicelib.domain.errors import AlreadyDecided, Forbidden
from chalicelib.domain.money import Money
from chalicelib.domain.principals import Principal
from chalicelib.domain.rules import Approvals

ReasonCode = Literal["goodwill", "service_recovery", "correction", "fraud", "other"]
Status = Literal["pending_approval", "approved", "rejected"]


class Adjustment(BaseModel):
    """An adjustment waiting for (or past) a supervisor's decision."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    adjustment_id: str
    status: Status
    card_id: str | None = None
    member_id: str | None = None
    amount: Money | None = None
    stars: int | None = None
    reason_code: ReasonCode
    note: str | None = None
    ticket_ref: str | None = None
    agent_id: str
    requested_at: str
    decided_by: str | None = None
    decided_at: str | None = None
    tx_id: str | None = None
    version: int = 1


def new_adjustment_id() -> str:
    return "adj_" + secrets.token_hex(10)


def needs_approval(amount: Money | None, stars: int | None, approvals: Approvals) -> bool:
    """Above 50.00 or 500 stars in absolute value (configurable), a second person must approve."""
    if amount is not None:
        return abs(amount.amount) > approvals.money_threshold
    return abs(stars or 0) > approvals.stars_threshold


class DailyLimitReached(Exception):
    """The adjustment would take its agent's unapproved adjustments on this card (or member's stars)
    past the threshold for the UTC day: it is filed for approval instead of applied."""


def utc_day(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d")


def daily_tally(size_of_entry: int, counted: int, created_at: str, approvals: Approvals, *,
                stars: bool) -> tuple[str, int, int, int]:
    """(UTC day, size, limit, expires_at epoch seconds) of an unapproved adjustment's count toward
    the daily limit, given what its agent already `counted` on the card (member) that day as read;
    DailyLimitReached when that already leaves no room. The tally item expires (TTL) three days after
    its day began: kept a while for operators and reconcile, never read by the app after its day."""
    day = created_at[:10]  # created_at is RFC 3339 UTC
    limit = approvals.stars_threshold if stars else approvals.money_threshold
    if counted + abs(size_of_entry) > limit:
        raise DailyLimitReached(f"{counted} + {abs(size_of_entry)} adjusted alone today would pass {limit}")
    end = datetime.fromisoformat(day).replace(tzinfo=timezone.utc) + timedelta(days=3)
    return day, abs(size_of_entry), limit, int(end.timestamp())


def require_decider(adjustment: Adjustment, principal: Principal) -> None:
    """Only a supervisor other than the requester decides, and only once."""
    if principal.role != "supervisor":
        raise Forbidden("only a supervisor approves or rejects adjustments")
    if principal.agent_id == adjustment.agent_id:
        raise Forbidden("an adjustment needs the approval of a supervisor other than its requester")
    if adjustment.status != "pending_approval":
        raise AlreadyDecided(f"the adjustment is already {adjustment.status}")


def decided(adjustment: Adjustment, principal: Principal, status: Status, at: str, tx_id: str | None = None) -> Adjustment:
    return adjustment.model_copy(update={"status": status, "decided_by": principal.agent_id, "decided_at": at,
                                         "tx_id": tx_id, "version": adjustment.version + 1})
