"""The member's activity feed (stream view)."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.api import schemas
from chalicelib.api.http import Call, endpoint
from chalicelib.services import activity
from chalicelib.services.activity import ActivityPage

bp = Blueprint(__name__)


@endpoint(bp, "GET", "/v1/members/{member_id}/activity",
          summary="Every transaction of the member's cards and stars, from every channel, newest first (stream view)",
          query=schemas.Page, response=ActivityPage, errors=(403, 404, 422))
def member_activity(call: Call, member_id: str) -> ActivityPage:
    return activity.activity(call.principal, member_id, call.query.limit, call.query.cursor)
