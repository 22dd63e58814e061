"""Member use cases: enrol, the wallet (a stream-maintained view), lookup by email."""
from __future__ import annotations

from pydantic import BaseModel

from chalicelib import clock
from chalicelib.domain.cards import CardMember, CardResource, card_resource
from chalicelib.domain.errors import AlreadyExists, NotFound
from chalicelib.domain.members import Member, MemberResource, member_resource, new_member_id
from chalicelib.domain.principals import Principal, require_member_access, require_role
from chalicelib.services.audit import record_lookup, staff_action
from chalicelib.services.gate import Gate
from chalicelib.services.ledger import commit, retrying
from chalicelib.settings import get_settings
from chalicelib.store import members as member_store
from chalicelib.store.cards import card_from_item
from chalicelib.store.members import member_from_item
from chalicelib.store import views


class Wallet(MemberResource):
    """GET /v1/members/{id}: the member with its cards, as of the newest change the view reflects."""

    cards: list[CardResource]
    as_of: str | None


class MemberPage(BaseModel):
    items: list[MemberResource]


def enrol(principal: Principal, name: str, email: str, gate: Gate | None) -> MemberResource:
    require_role(principal, "service", "agent", "supervisor")
    now = clock.rfc3339(clock.now())
    member = Member(member_id=new_member_id(), name=name, email=email.strip(), created_at=now, updated_at=now)
    resource = member_resource(member, clock.now(), get_settings().rules.stars)

    def attempt() -> MemberResource:
        audit = staff_action(principal, "member.enrolled", member_id=member.member_id,
                             after={"name": member.name, "email": member.email})
        commit(member_store.put_new_member(member), gate, resource.model_dump(mode="json"), audit=audit)
        return resource

    return retrying(attempt, gate, refusals={"email": lambda: AlreadyExists("a member with this email exists")})


def wallet(principal: Principal, member_id: str) -> Wallet:
    """The member and its cards from the wallet view. Stars, tier and stars_expiring are computed
    from the view's lots at read time, so expired stars never show. Right after enrolment, before
    the stream has delivered, the profile comes from the member record so a new member is never a 404."""
    require_member_access(principal, member_id)
    record, cards, as_of = views.read_wallet(member_id)
    member = member_from_item(record) if record else member_store.get_member(member_id)
    if member is None:
        raise NotFound("member not found")
    record_lookup(principal, "member.viewed", member_id=member_id)
    now = clock.now()
    profile = member_resource(member, now, get_settings().rules.stars)
    # Each card as of this read (holds expired by now do not count), with the wallet's own member as
    # its `member`: the view holds both, so this costs nothing.
    loyalty = CardMember(member_id=profile.member_id, tier=profile.tier, stars=profile.stars)
    shown = [_wallet_card(doc, now, loyalty) for doc in cards]
    shown.sort(key=lambda card: card.card_id)
    return Wallet.model_validate({**profile.model_dump(mode="json"), "cards": [c.model_dump(mode="json") for c in shown],
                                  "as_of": as_of})


def _wallet_card(doc: dict, now, loyalty: CardMember) -> CardResource:
    """A wallet card item as of `now`. Items the stream wrote before v1.1 hold the card as the API
    showed it then (no holds existed): shown with nothing held until the card's next change rewrites it."""
    if "card_number" not in doc:
        return card_resource(card_from_item(doc), now, member=loyalty)
    return CardResource.model_validate({**doc, "held": {**doc["balance"], "amount": 0}, "available": doc["balance"],
                                        "member": loyalty.model_dump()})


def find_by_email(principal: Principal, email: str) -> MemberPage:
    require_role(principal, "agent", "supervisor")
    member_id = member_store.member_id_for_email(email)
    member = member_store.get_member(member_id) if member_id else None
    if member:
        record_lookup(principal, "member.looked_up", member_id=member.member_id)
    stars = get_settings().rules.stars
    return MemberPage(items=[member_resource(member, clock.now(), stars)] if member else [])
