"""The member: profile, tier and stars (stars stay zero until the stars rules land)."""
from __future__ import annotations

import secrets
from typing import Literal

from pydantic import BaseModel, ConfigDict

Tier = Literal["green", "gold"]


class StarsExpiring(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    stars: int
    expires_at: str


class Member(BaseModel):
    """The authoritative member record."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    member_id: str
    name: str
    email: str
    tier: Tier = "green"
    stars: int = 0
    stars_expiring: list[StarsExpiring] = []
    version: int = 1
    created_at: str
    updated_at: str


def new_member_id() -> str:
    return "mem_" + secrets.token_hex(10)


def normalise_email(address: str) -> str:
    """Emails are unique case-insensitively; the member keeps the address as given."""
    return address.strip().lower()


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


def member_resource(member: Member) -> MemberResource:
    return MemberResource.model_validate(member.model_dump(include=set(MemberResource.model_fields)))
