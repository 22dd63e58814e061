"""The immutable ledger entry (the contract's Transaction) and how its id is formed."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.domain.money import Money
from chalicelib.domain.principals import Channel

Kind = Literal["reload", "payment", "purchase", "redemption", "adjustment", "transfer_out", "transfer_in",
               "refund", "auto_reload", "stars_expired"]


class Transaction(BaseModel):
    """A ledger entry as the API shows it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tx_id: str
    card_id: str | None = None
    member_id: str | None = None
    kind: Kind
    amount: Money | None = None
    balance_after: Money | None = None
    stars: int = 0
    stars_after: int | None = None
    channel: Channel
    store_id: str | None = None
    agent_id: str | None = None
    reason_code: str | None = None
    reverses: str | None = None
    created_at: str
    stars_shortfall: int = Field(0, description="refunds: stars the refund could not take back because the member had spent them")


class LedgerEntry(Transaction):
    """A ledger entry as stored: the Transaction plus who asked, under which key, and references
    that the API does not show (payment and order refs, terminal)."""

    seq: int
    actor: str
    idempotency_key: str | None = None
    payment_ref: str | None = None
    order_ref: str | None = None
    terminal_id: str | None = None
    reward_id: str | None = None
    tender: str | None = None

    def public(self) -> Transaction:
        return Transaction.model_validate(self.model_dump(include=set(Transaction.model_fields)))


def tx_id_for(owner_id: str, seq: int) -> str:
    """The id of the `seq`-th ledger entry of a card or member: derived, so it is known before
    commit and a retried attempt can never write a second entry."""
    return f"tx_{owner_id}_{seq}"


def parse_tx_id(tx_id: str) -> tuple[str, int] | None:
    """(card or member id, seq) of a transaction id, or None when it is not one."""
    if not tx_id.startswith("tx_"):
        return None
    owner, _, seq = tx_id[3:].rpartition("_")
    if not owner or not seq.isdigit():
        return None
    return owner, int(seq)
