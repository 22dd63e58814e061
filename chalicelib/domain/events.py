"""Change events for the `omnicard` EventBridge bus: their detail types and stable ids. Pure."""
from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

SOURCE = "omnicard"
DetailType = Literal["transaction.created", "card.updated", "member.updated", "adjustment.pending"]

# Fixed namespace: the same change always gets the same event_id, on every delivery and every stage.
_NAMESPACE = uuid.UUID("5f0e7c1e-3b7a-4a8e-9d8f-0c1e0a7b9e21")


class ChangeEvent(BaseModel):
    model_config = ConfigDict(frozen=True)

    event_id: str
    detail_type: DetailType
    detail: dict[str, Any]


def event_id(pk: str, sk: str, version: int) -> str:
    """A UUID derived from the changed item's key and the version (or ledger seq) it reached:
    stable across redelivery, distinct for every change."""
    return str(uuid.uuid5(_NAMESPACE, f"{pk}\x00{sk}\x00{version}"))


def change_event(detail_type: DetailType, pk: str, sk: str, version: int, resource: dict[str, Any]) -> ChangeEvent:
    """The event for one committed change: the resource as the API shows it, plus `event_id`."""
    identifier = event_id(pk, sk, version)
    return ChangeEvent(event_id=identifier, detail_type=detail_type, detail={**resource, "event_id": identifier})
