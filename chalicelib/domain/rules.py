"""The programme's rule models — money limits, abuse limits, approvals, stars — as pure pydantic
models. `chalicelib/settings.py` only loads them from the rules file, so domain code depends on these
models, never on settings (no import cycle)."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from chalicelib.domain.stars import StarRules


class MoneyLimits(BaseModel):
    """Stored-value limits, in minor units."""

    model_config = ConfigDict(extra="forbid", strict=True)

    reload_min: int = Field(500, gt=0)
    reload_max: int = Field(50_000, gt=0)
    balance_cap: int = Field(100_000, gt=0)
    open_holds_per_card: int = Field(20, gt=0)  # bounds the card item's holds map (README, "Holds")
    currencies: list[str] = Field(default_factory=lambda: ["USD"], min_length=1)
    default_currency: str = "USD"

    @model_validator(mode="after")
    def _coherent(self) -> "MoneyLimits":
        if self.reload_min > self.reload_max:
            raise ValueError("reload_min must not exceed reload_max")
        if self.reload_max > self.balance_cap:
            raise ValueError("reload_max must not exceed balance_cap")
        if self.default_currency not in self.currencies:
            raise ValueError("default_currency must be one of currencies")
        return self


class AbuseLimits(BaseModel):
    """Limits against abuse: per card, enforced atomically in DynamoDB (Lambda has many instances);
    per principal, at the edge (AWS WAF deployed, local/edges.py locally)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    reloads_per_card_per_hour: int = Field(10, ge=1)
    reload_amount_per_card_per_day: int = Field(100_000, gt=0, description="minor units, per programme-zone day")
    requests_per_principal_per_minute: int = Field(600, ge=0, description="0 switches the rate limit off")
    purchase_max: int = Field(100_000, gt=0, description="minor units: the largest purchase a till may record for stars")


class Approvals(BaseModel):
    """Adjustments above these (absolute) sizes wait for another supervisor's approval."""

    model_config = ConfigDict(extra="forbid", strict=True)

    money_threshold: int = Field(5_000, ge=0, description="minor units")
    stars_threshold: int = Field(500, ge=0)


class OfflineRules(BaseModel):
    """Offline till batches: how old or how far ahead of the server's clock a sale may be."""

    model_config = ConfigDict(extra="forbid", strict=True)

    max_age_seconds: int = Field(7 * 86_400, ge=0, description="a sale older than this is declined")
    clock_skew_seconds: int = Field(300, ge=0, description="a sale this far past the server's now is still taken")


class Rules(BaseModel):
    """The programme's rules: configuration, not code (see README, Rules)."""

    model_config = ConfigDict(extra="forbid")

    money: MoneyLimits = Field(default_factory=MoneyLimits)
    stars: StarRules = Field(default_factory=StarRules)
    limits: AbuseLimits = Field(default_factory=AbuseLimits)
    approvals: Approvals = Field(default_factory=Approvals)
    offline: OfflineRules = Field(default_factory=OfflineRules)
