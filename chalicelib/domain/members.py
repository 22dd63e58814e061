"""The member: profile, tier and stars (stars stay zero until the stars rules land)."""
from __future__ import annotations

import re
import secrets
import unicodedata
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from chalicelib.clock import rfc3339
from chalicelib.domain import stars as star_rules
from chalicelib.domain.stars import StarRules

Tier = Literal["green", "gold"]


class StarsExpiring(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    stars: int
    expires_at: str


class Member(BaseModel):
    """The authoritative member record. `stars` = Σ `lots` (expired lots included until the expiry
    job writes them off); `earned` tallies stars per month for the tier window; `star_seq` counts
    the member's own ledger entries (purchases, redemptions, expiry, star adjustments)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    member_id: str
    name: str
    email: str
    tier: Tier = "green"
    stars: int = 0
    lots: dict[str, int] = {}
    earned: dict[str, int] = {}
    star_seq: int = 0
    ledger_head: str | None = None  # the hash of the newest entry of the member's own chain
    version: int = 1
    created_at: str
    updated_at: str

    def stars_now(self, now: datetime) -> int:
        return star_rules.available(self.lots, now)


def new_member_id() -> str:
    return "mem_" + secrets.token_hex(10)


# Invisible and undefined characters (Unicode categories: control, format — zero-width space,
# joiners, BOM, soft hyphen, bidi overrides —, surrogate, private use, unassigned) are refused in an
# email: they would let a look-alike of a taken address enrol as a new member.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
_EMAIL_SHAPE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def normalise_email(address: str) -> str:
    """The form in which emails are unique: NFKC, case-folded (then NFKC again, since folding can
    denormalise): the Kelvin sign, fullwidth letters, ligatures and ß match their plain spellings.
    The member keeps the address as given."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", address.strip()).casefold())


def check_email(address: str) -> str:
    """`address` stripped, if it is one: no invisible or control characters, and one @ with a dotted
    domain once normalised. ValueError (a validation error) otherwise."""
    refused = sorted({f"U+{ord(c):04X}" for c in address if unicodedata.category(c) in _REFUSED_CATEGORIES})
    if refused:
        raise ValueError(f"an email may not contain invisible or control characters ({', '.join(refused)})")
    if not _EMAIL_SHAPE.fullmatch(normalise_email(address)):
        raise ValueError("not an email address")
    return address.strip()


class MemberResource(BaseModel):
    """The member as the API shows it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    member_id: str
    name: str
    email: str
    tier: Tier
    stars: int
    stars_expiring: list[StarsExpiring]
    created_at: str


def member_resource(member: Member, now: datetime, rules: StarRules) -> MemberResource:
    """The member as shown at `now`: expired stars never count, the tier is that of the window now."""
    return MemberResource(
        member_id=member.member_id, name=member.name, email=member.email,
        tier=star_rules.tier(member.earned, now, rules), stars=member.stars_now(now),
        stars_expiring=[StarsExpiring(stars=stars, expires_at=at) for stars, at in star_rules.expiring(member.lots, now, rules)],
        created_at=member.created_at)


def _with_stars(member: Member, lots: dict[str, int], earned: dict[str, int], now: datetime, rules: StarRules,
                *, new_entry: bool) -> Member:
    return member.model_copy(update={
        "lots": lots, "earned": earned, "stars": sum(lots.values()), "tier": star_rules.tier(earned, now, rules),
        "star_seq": member.star_seq + (1 if new_entry else 0), "version": member.version + 1,
        "updated_at": rfc3339(now)})


def earn_stars(member: Member, amount_minor: int, rate: int, now: datetime, rules: StarRules, *,
               new_entry: bool) -> tuple[Member, int]:
    """Stars for spending `amount_minor` at `rate` (gold if the member is gold before this earning)."""
    gold = star_rules.tier(member.earned, now, rules) == "gold"
    earned_stars = star_rules.stars_for(amount_minor, rate, gold, rules)
    lots, earned = star_rules.earn(member.lots, member.earned, earned_stars, now, rules)
    return _with_stars(member, lots, earned, now, rules, new_entry=new_entry), earned_stars


def redeem_stars(member: Member, cost: int, now: datetime, rules: StarRules) -> Member:
    """Spend `cost` stars, oldest-expiring first; InsufficientStars if they do not fit."""
    return _with_stars(member, star_rules.spend(member.lots, cost, now), member.earned, now, rules, new_entry=True)


def take_back_stars(member: Member, stars: int, now: datetime, rules: StarRules, *, earned_at: datetime) -> tuple[Member, int]:
    """Take back up to `stars` that a payment made at `earned_at` earned, for its refund: from that
    payment's lot first, never below zero. All `stars` leave the tier tally, even those the member
    had already spent (the shortfall): refunded spend never counts toward the tier.
    Returns (member, stars taken)."""
    lots, taken = star_rules.take_back(member.lots, stars, now, star_rules.expiry_of(earned_at, rules))
    earned = star_rules.unearn(member.earned, stars, earned_at, rules)
    return _with_stars(member, lots, earned, now, rules, new_entry=False), taken


def lapse_stars(member: Member, now: datetime, rules: StarRules) -> tuple[Member, int]:
    """Write off expired lots. Returns (member, stars lapsed); nothing changes when none lapsed."""
    lots, lapsed = star_rules.lapse(member.lots, now)
    if lapsed == 0:
        return member, 0
    return _with_stars(member, lots, member.earned, now, rules, new_entry=True), lapsed


def adjust_stars(member: Member, stars: int, now: datetime, rules: StarRules) -> Member:
    """A staff correction: stars given land in this month's lot (they expire like earned stars but
    do not count toward the tier); stars taken come from the earliest-expiring lots, never below zero."""
    if stars >= 0:
        lots, _ = star_rules.earn(member.lots, member.earned, stars, now, rules)
    else:
        lots = star_rules.spend(member.lots, -stars, now)
    return _with_stars(member, lots, member.earned, now, rules, new_entry=True)
