"""The member's activity feed: every transaction of its cards and stars, from every channel."""
from __future__ import annotations

from pydantic import BaseModel

from chalicelib.domain.errors import NotFound
from chalicelib.domain.ledger import Transaction
from chalicelib.domain.principals import Principal, require_member_access
from chalicelib.store import activity as activity_store
from chalicelib.store import members as member_store


class ActivityPage(BaseModel):
    """A page of the feed, newest first. `as_of` is the newest transaction the feed reflects
    (carried in the cursor, so every page of one listing reports the same)."""

    items: list[Transaction]
    next_cursor: str | None
    as_of: str | None


def activity(principal: Principal, member_id: str, limit: int, cursor: str | None) -> ActivityPage:
    require_member_access(principal, member_id)
    after, as_of = activity_store.decode_cursor(cursor) if cursor else (None, None)
    documents, last = activity_store.page(member_id, limit, after)
    if after is None:
        if not documents and member_store.get_member(member_id) is None:
            raise NotFound("member not found")
        as_of = documents[0]["created_at"] if documents else None
    return ActivityPage(items=[Transaction.model_validate(document) for document in documents],
                        next_cursor=activity_store.encode_cursor(last, as_of) if last else None, as_of=as_of)
