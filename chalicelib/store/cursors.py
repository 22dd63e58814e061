"""Opaque page cursors: the sort key a page ended at, base64url JSON."""
from __future__ import annotations

import base64
import json

from chalicelib.domain.errors import ValidationFailed


def encode(sort_key: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"sk": sort_key}).encode()).decode().rstrip("=")


def decode(cursor: str) -> str:
    """The sort key in `cursor`; a cursor we did not make is a validation error."""
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))["sk"]
        if not isinstance(value, str):
            raise ValueError(value)
        return value
    except (ValueError, KeyError, TypeError) as exc:
        raise ValidationFailed("cursor is not valid", errors=[{"loc": ["query", "cursor"], "msg": "invalid cursor"}]) from exc
