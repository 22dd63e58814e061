"""Every DynamoDB key in one place. See README, "DynamoDB design", for the access patterns.

Ledger table (authoritative, streamed):
  CARD#<card_id>    / CARD              the card: balance, status, version, ledger_seq
  CARD#<card_id>    / TX#<seq:012d>     its immutable ledger entries, gapless per card
  MEMBER#<id>       / MEMBER            the member profile (stars and tier land here)
  EMAIL#<email>     / EMAIL             unique-email guard and strongly consistent lookup
  CARDNO#<hmac>     / CARDNO            unique card number guard and lookup (number never stored)
  IDEM#<sha256>     / IDEM              idempotency record (principal + key), TTL expires_at
Views table (projections written by the stream handlers):
  WALLET#<member_id> / MEMBER | CARD#<card_id>
"""
from __future__ import annotations

import hashlib
import hmac

CARD = "CARD"
MEMBER = "MEMBER"
TX_PREFIX = "TX#"


def card(card_id: str) -> dict[str, str]:
    return {"PK": f"CARD#{card_id}", "SK": CARD}


def ledger_entry(card_id: str, seq: int) -> dict[str, str]:
    return {"PK": f"CARD#{card_id}", "SK": f"{TX_PREFIX}{seq:012d}"}


def ledger_partition(card_id: str) -> str:
    return f"CARD#{card_id}"


def member(member_id: str) -> dict[str, str]:
    return {"PK": f"MEMBER#{member_id}", "SK": MEMBER}


def email(address: str) -> dict[str, str]:
    return {"PK": f"EMAIL#{address.strip().lower()}", "SK": "EMAIL"}


def card_number(number: str, pepper: str) -> dict[str, str]:
    digest = hmac.new(pepper.encode(), number.encode(), hashlib.sha256).hexdigest()
    return {"PK": f"CARDNO#{digest}", "SK": "CARDNO"}


def idempotency(principal_sub: str, key: str) -> dict[str, str]:
    digest = hashlib.sha256(f"{principal_sub}\x00{key}".encode()).hexdigest()
    return {"PK": f"IDEM#{digest}", "SK": "IDEM"}


def wallet_member(member_id: str) -> dict[str, str]:
    return {"PK": f"WALLET#{member_id}", "SK": MEMBER}


def wallet_card(member_id: str, card_id: str) -> dict[str, str]:
    return {"PK": f"WALLET#{member_id}", "SK": f"CARD#{card_id}"}


def wallet_partition(member_id: str) -> str:
    return f"WALLET#{member_id}"


def kind_of(pk: str, sk: str) -> str:
    """What a ledger-table item is, from its keys: card, ledger_entry, member, idempotency, guard."""
    if pk.startswith("CARD#"):
        return "card" if sk == CARD else "ledger_entry"
    if pk.startswith("MEMBER#"):
        return "member" if sk == MEMBER else "member_entry"
    if pk.startswith("IDEM#"):
        return "idempotency"
    return "guard"
