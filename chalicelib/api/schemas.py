"""Request bodies and query strings: strict pydantic models (unknown fields and floats refused)."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from chalicelib.domain.adjustments import ReasonCode
from chalicelib.domain.batches import OfflineBatch, OfflineSale  # noqa: F401  (the batch route's body)
from chalicelib.domain.events import DetailType
from chalicelib.domain.members import check_email
from chalicelib.domain.money import NonNegativeMoney, PositiveMoney, SignedMoney
from chalicelib.domain.webhooks import EVENT_TYPES

_ID = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")
_REF = Field(min_length=1, max_length=128)


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Query(BaseModel):
    model_config = ConfigDict(extra="ignore")


class EnrolMember(Body):
    name: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=254, description="unique after NFKC normalisation and case folding")

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return check_email(value)


class IssueCard(Body):
    member_id: str | None = Field(None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")
    currency: str | None = Field(None, pattern=r"^[A-Z]{3}$")


_CARD_NUMBER = r"^[0-9]{16}$"  # ASCII digits only ("\d" would take fullwidth and Arabic-Indic ones)


class RegisterCard(Body):
    card_number: str = Field(pattern=_CARD_NUMBER, description="the card's full 16-digit number: the proof of possession")
    member_id: str = _ID


class Reload(Body):
    amount: PositiveMoney
    payment_ref: str = _REF


class Payment(Body):
    amount: PositiveMoney
    store_id: str | None = Field(None, min_length=1, max_length=64)
    order_ref: str | None = Field(None, min_length=1, max_length=128)


class PlaceHold(Body):
    amount: PositiveMoney
    store_id: str | None = Field(None, min_length=1, max_length=64)
    order_ref: str | None = Field(None, min_length=1, max_length=128)
    expires_in: int = Field(3600, ge=60, le=604_800, description="seconds until the hold stops counting (60..604800)")


class CaptureHold(Body):
    amount: PositiveMoney | None = Field(None, description="at most the hold's amount; default all of it")


class Transfer(Body):
    to_card_id: str = _ID
    amount: NonNegativeMoney | None = None
    move_auto_reload: bool = Field(False, description="also move the card's auto-reload setting (lost card)")


class Page(Query):
    limit: int = Field(25, ge=1, le=100)
    cursor: str | None = Field(None, max_length=512)


class CardNumber(Query):
    number: str = Field(pattern=_CARD_NUMBER)


class Email(Query):
    email: str = Field(min_length=3, max_length=254)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return check_email(value)


Tender = Literal["cash", "bank_card", "mobile_wallet", "voucher", "other"]


class Purchase(Body):
    amount: PositiveMoney
    tender: Tender = Field(description="how the purchase was paid at the till")
    store_id: str | None = Field(None, min_length=1, max_length=64)


class Redemption(Body):
    reward_id: str = _ID


class Refund(Body):
    amount: PositiveMoney | None = None


class RewardChange(Body):
    name: str = Field(min_length=1, max_length=200)
    stars: int = Field(gt=0, le=1_000_000)


class CardAdjustment(Body):
    amount: SignedMoney
    reason_code: ReasonCode
    note: str | None = Field(None, min_length=1, max_length=500)
    ticket_ref: str | None = Field(None, min_length=1, max_length=64)

    @field_validator("amount")
    @classmethod
    def _not_zero(cls, value: SignedMoney) -> SignedMoney:
        if value.amount == 0:
            raise ValueError("an adjustment moves a non-zero amount")
        return value


class StarAdjustment(Body):
    stars: int = Field(ge=-1_000_000, le=1_000_000)
    reason_code: ReasonCode
    note: str | None = Field(None, min_length=1, max_length=500)
    ticket_ref: str | None = Field(None, min_length=1, max_length=64)

    @field_validator("stars")
    @classmethod
    def _not_zero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("an adjustment moves a non-zero number of stars")
        return value


class PendingQuery(Page):
    status: Literal["pending_approval"] = "pending_approval"


class NewWebhook(Body):
    url: str = Field(min_length=1, max_length=2048, description="https (plain http only to localhost / 127.0.0.1 in the local stage)")
    event_types: list[DetailType] | None = Field(
        None, min_length=1, max_length=len(EVENT_TYPES),
        description="the detail-types to receive; absent: every type, also those added later")
