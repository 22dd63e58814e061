"""Member routes."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.api import schemas
from chalicelib.api.http import REQUIRED, Call, endpoint
from chalicelib.domain.members import MemberResource
from chalicelib.services import members
from chalicelib.services.members import MemberPage, Wallet

bp = Blueprint(__name__)


@endpoint(bp, "POST", "/v1/members", summary="Enrol a member", status=201, body=schemas.EnrolMember,
          response=MemberResource, idempotency_key=REQUIRED, errors=(403, 409, 422))
def enrol_member(call: Call) -> MemberResource:
    return members.enrol(call.principal, call.body.name, call.body.email, call.gate)


@endpoint(bp, "GET", "/v1/members", summary="Find members by email", query=schemas.Email, response=MemberPage,
          errors=(403, 422))
def find_members(call: Call) -> MemberPage:
    return members.find_by_email(call.principal, call.query.email)


@endpoint(bp, "GET", "/v1/members/{member_id}", summary="The member and its wallet of cards (stream view)",
          response=Wallet, errors=(403, 404))
def get_member(call: Call, member_id: str) -> Wallet:
    return members.wallet(call.principal, member_id)
