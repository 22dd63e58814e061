"""Stars: earning, lots and expiry, tiers, redemption and take-back on refunds. Pure functions over ints.

A *lot* is the stars earned that expire together. Stars expire at the end of the sixth calendar
month after the month they were earned (in the programme's time zone), so every earning in one
month lands in one lot, keyed by its expiry instant: `{expires_at (RFC 3339 UTC): remaining}`.
`expires_at` is the first instant at which the stars are gone (the start of the seventh month)."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from chalicelib.clock import rfc3339
from chalicelib.domain.errors import InsufficientStars

Lots = dict[str, int]


class Reward(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    reward_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")
    name: str = Field(min_length=1, max_length=200)
    stars: int = Field(gt=0, le=1_000_000)


def _default_rewards() -> list[Reward]:
    return [Reward(reward_id=f"rw_{stars}", name=name, stars=stars) for stars, name in (
        (25, "Extra shot or syrup"), (100, "Brewed coffee or bakery item"), (200, "Handcrafted drink"),
        (300, "Lunch sandwich or salad"), (400, "Merchandise or coffee beans"))]


class StarRules(BaseModel):
    """The programme's star rules (rules file key `stars`)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    payment_rate: int = Field(2, ge=0, description="stars per 1.00 paid with an Omnicard card")
    purchase_rate: int = Field(1, ge=0, description="stars per 1.00 of a purchase paid another way")
    gold_multiplier_percent: int = Field(120, ge=100, description="gold multiplies the rate by this / 100")
    gold_threshold: int = Field(500, gt=0, description="stars earned in the tier window that make a member gold")
    tier_window_months: int = Field(12, ge=1, le=60)
    expiry_months: int = Field(6, ge=1, le=60, description="stars expire at the end of this calendar month after earning")
    timezone: str = "UTC"
    expiry_shards: int = Field(8, ge=1, le=64)
    expiring_shown: int = Field(3, ge=1, le=24, description="lots listed in Member.stars_expiring")
    rewards: list[Reward] = Field(default_factory=_default_rewards)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except Exception as exc:  # ZoneInfoNotFoundError, ValueError for malformed keys
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _unique_rewards(self) -> "StarRules":
        ids = [reward.reward_id for reward in self.rewards]
        if len(ids) != len(set(ids)):
            raise ValueError("reward ids must be unique")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def stars_for(amount_minor: int, rate: int, gold: bool, rules: StarRules) -> int:
    """⌊amount × rate / 100⌋, with gold's multiplier applied to the rate before the one rounding."""
    if amount_minor <= 0:
        return 0
    if gold:
        return amount_minor * rate * rules.gold_multiplier_percent // 10_000
    return amount_minor * rate // 100


def _month_start(year: int, month: int, zone: ZoneInfo) -> datetime:
    year += (month - 1) // 12
    month = (month - 1) % 12 + 1
    return datetime(year, month, 1, tzinfo=zone)


def expiry_of(earned_at: datetime, rules: StarRules) -> str:
    """When stars earned at `earned_at` are gone: the start of the month after the sixth month
    after the earning month, in the programme's zone, as RFC 3339 UTC."""
    local = earned_at.astimezone(rules.zone)
    return rfc3339(_month_start(local.year, local.month + rules.expiry_months + 1, rules.zone))


def month_of(moment: datetime, rules: StarRules) -> str:
    local = moment.astimezone(rules.zone)
    return f"{local.year:04d}-{local.month:02d}"


def _window_months(now: datetime, rules: StarRules) -> set[str]:
    local = now.astimezone(rules.zone)
    months = set()
    for back in range(rules.tier_window_months):
        index = local.year * 12 + (local.month - 1) - back
        months.add(f"{index // 12:04d}-{index % 12 + 1:02d}")
    return months


def earned_in_window(earned: dict[str, int], now: datetime, rules: StarRules) -> int:
    """Stars earned in the current calendar month and the (window − 1) before it."""
    window = _window_months(now, rules)
    return sum(stars for month, stars in earned.items() if month in window)


def tier(earned: dict[str, int], now: datetime, rules: StarRules) -> str:
    return "gold" if earned_in_window(earned, now, rules) >= rules.gold_threshold else "green"


def _expired(expires_at: str, now: datetime) -> bool:
    return _instant(expires_at) <= now


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)


def available(lots: Lots, now: datetime) -> int:
    """Stars a member holds now: unexpired, unspent. Expired lots count for nothing even before
    the expiry job has written them off."""
    return sum(stars for expires_at, stars in lots.items() if stars > 0 and not _expired(expires_at, now))


def expiring(lots: Lots, now: datetime, rules: StarRules) -> list[tuple[int, str]]:
    """The next lots to lapse, soonest first: [(stars, expires_at)]."""
    live = sorted((at, stars) for at, stars in lots.items() if stars > 0 and not _expired(at, now))
    return [(stars, at) for at, stars in live[: rules.expiring_shown]]


def earn(lots: Lots, earned: dict[str, int], stars: int, now: datetime, rules: StarRules) -> tuple[Lots, dict[str, int]]:
    """Add `stars` earned now to this month's lot and to the tier window's tally."""
    if stars <= 0:
        return dict(lots), dict(earned)
    lots = dict(lots)
    expires_at = expiry_of(now, rules)
    lots[expires_at] = lots.get(expires_at, 0) + stars
    window = _window_months(now, rules)
    tally = {month: value for month, value in earned.items() if month in window}
    month = month_of(now, rules)
    tally[month] = tally.get(month, 0) + stars
    return lots, tally


def unearn(earned: dict[str, int], stars: int, earned_at: datetime, rules: StarRules) -> dict[str, int]:
    """Take `stars` earned at `earned_at` out of the tier tally (a refund): refunded spend never counts
    toward the tier. A month already out of the tally has nothing left to take."""
    month = month_of(earned_at, rules)
    tally = dict(earned)
    if month in tally:
        tally[month] = max(0, tally[month] - stars)
        if tally[month] == 0:
            del tally[month]
    return tally


def spend(lots: Lots, stars: int, now: datetime) -> Lots:
    """Spend `stars`, earliest-expiring unexpired lots first; never an expired lot."""
    if stars > available(lots, now):
        raise InsufficientStars(f"{available(lots, now)} stars available, {stars} needed")
    return _draw(lots, stars, sorted(lots), now)


def take_back(lots: Lots, stars: int, now: datetime, prefer: str | None) -> tuple[Lots, int]:
    """Take back up to `stars` (a refund), from the refunded payment's own lot first, then the
    latest-expiring. Never more than the member holds: returns (lots, taken); the rest is shortfall."""
    taken = min(stars, available(lots, now))
    order = sorted(lots, reverse=True)
    if prefer in lots:
        order.remove(prefer)
        order.insert(0, prefer)
    return _draw(lots, taken, order, now), taken


def _draw(lots: Lots, stars: int, order: list[str], now: datetime) -> Lots:
    """Take `stars` (which the live lots can cover) from the unexpired lots in `order`."""
    lots = dict(lots)
    for expires_at in order:
        if stars == 0:
            break
        if _expired(expires_at, now) or lots[expires_at] <= 0:
            continue
        part = min(stars, lots[expires_at])
        lots[expires_at] -= part
        stars -= part
    return _without_empty(lots)


def lapse(lots: Lots, now: datetime) -> tuple[Lots, int]:
    """Write off expired lots: (remaining lots, stars lapsed)."""
    lapsed = sum(stars for at, stars in lots.items() if _expired(at, now))
    return {at: stars for at, stars in lots.items() if not _expired(at, now) and stars > 0}, lapsed


def next_expiry(lots: Lots) -> str | None:
    live = [at for at, stars in lots.items() if stars > 0]
    return min(live) if live else None


def refund_take_back(earned: int, payment: int, refunded_before: int, refunding: int) -> int:
    """Stars a refund takes back so that every partial refund together takes back exactly what the
    payment earned: ⌊E·(R+r)/P⌋ − ⌊E·R/P⌋ (telescopes to E when R+r = P)."""
    return earned * (refunded_before + refunding) // payment - earned * refunded_before // payment


def _without_empty(lots: Lots) -> Lots:
    return {at: stars for at, stars in lots.items() if stars > 0}
