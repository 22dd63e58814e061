"""The member wallet view: each member's profile and its cards' balances, from the ledger table's stream."""
from __future__ import annotations

from typing import Any

from chalicelib.store import keys, views
from chalicelib.store.cards import card_from_item
from chalicelib.store.members import member_from_item


def project(item: dict[str, Any]) -> None:
    """Reflect a changed card or member item in its member's wallet. Older or repeated changes are
    refused by the view's version condition, so redelivery and reordering are harmless."""
    if "version" not in item:  # moto emits a keys-only INSERT before an upsert's real image
        return
    kind = keys.kind_of(item["PK"], item["SK"])
    if kind == "card":
        card = card_from_item(item)
        if card.member_id is not None:
            # The whole card record (with its holds), like the member's: the wallet computes `held`
            # and `available` at read time, so an expired hold stops counting there too.
            views.project(keys.wallet_card(card.member_id, card.card_id),
                          card.model_dump(mode="json"), card.version, card.updated_at)
    elif kind == "member":
        # The whole member record (with its lots): the wallet computes stars and tier at read time.
        member = member_from_item(item)
        views.project(keys.wallet_member(member.member_id), member.model_dump(mode="json"), member.version,
                      member.updated_at)
