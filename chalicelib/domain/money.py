"""Money: integer minor units with a currency. Arithmetic refuses mixed currencies."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from chalicelib.domain.errors import CurrencyMismatch


class Money(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    amount: StrictInt = Field(description="Minor units (cents); signed where the resource says so")
    currency: str = Field("USD", pattern=r"^[A-Z]{3}$")


class PositiveMoney(Money):
    """A request amount that must be strictly positive."""

    amount: StrictInt = Field(gt=0, le=10**12, description="Minor units (cents), > 0")


class SignedMoney(Money):
    amount: StrictInt = Field(ge=-(10**12), le=10**12, description="Minor units (cents), signed")


def money(amount: int, currency: str) -> Money:
    return Money(amount=amount, currency=currency)


def require_currency(value: Money, currency: str) -> None:
    """Refuse a Money whose currency is not the card's."""
    if value.currency != currency:
        raise CurrencyMismatch(f"amount is in {value.currency} but the card holds {currency}")


class NonNegativeMoney(Money):
    amount: StrictInt = Field(ge=0, le=10**12, description="Minor units (cents), >= 0")
