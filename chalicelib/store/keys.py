"""Every DynamoDB key in one place. See README, "DynamoDB design", for the access patterns.

Ledger table (authoritative, streamed):
  CARD#<card_id>    / CARD              the card: balance, status, version, ledger_seq
  CARD#<card_id>    / TX#<seq:012d>     its immutable ledger entries, gapless per card
  MEMBER#<id>       / MEMBER            the member: profile, stars, lots, tier tally, star_seq
                                        (GSI1: STAREXP#<shard> / <next lot expiry> while it holds stars)
  MEMBER#<id>       / TX#<seq:012d>     the member's own ledger entries (purchase, redemption, expiry)
  CARD#<card_id>    / REFUNDS#<seq>     how much of payment <seq> has been refunded (money and stars)
  CARD#<card_id>    / HOLD#<seq:012d>   a hold: amount, status, capture (open ones also sit on the card item)
  REWARDS           / <reward_id>       reward catalogue changes made by the service role
  ADJ#<id>          / ADJ               an adjustment waiting for approval, or decided
  PENDING_ADJ       / <requested_at>#<id>   the pending adjustments list (deleted when decided)
  ADJTALLY#<card_id or member_id> / <YYYY-MM-DD>#<agent_id>   Σ |adjustments| one agent applied without
                                        approval on one card (or member's stars) that UTC day (TTL expires_at)
  AUDIT#<member_id or card_id> / <at>#<audit_id>   audit records of staff actions (never updated)
  EMAIL#<email>     / EMAIL             unique-email guard and strongly consistent lookup
  CARDNO#<hmac>     / CARDNO            unique card number guard and lookup (number never stored)
  IDEM#<sha256>     / IDEM              idempotency record (principal + key), TTL expires_at
  OFFLINE#<sha256>  / OFFLINE           an offline till item's first outcome (pos principal + item_key);
                                        never expires: it is what makes every resend a duplicate
Views table (projections written by the stream handlers):
  WALLET#<member_id> / MEMBER | CARD#<card_id>
  ACTIVITY#<member_id> / TX#<created_at>#<source PK>#<seq:012d>   the member's feed, newest last in key order
  REPORT#<YYYY-MM-DD>#<shard> / STORE#<store_id> | NO_STORE | AS_OF
                                          daily channel report: a store's counters <channel>|<kind>|<currency>|<counter>,
                                          on one of REPORT_SHARDS shards (summed on read)
  LIABILITY#<shard>    / TOTALS | AS_OF   outstanding value (VALUE#<currency>) and stars, one of
                                          LIABILITY_SHARDS shards (summed on read)
  PROGRESS#<stream shard id> / PROGRESS   how far the counters have counted that stream shard
Webhooks table (subscriptions; not streamed):
  WEBHOOKS          / <webhook_id>      url, event_types, created_at, the secret encrypted with KMS
"""
from __future__ import annotations

import hashlib
import hmac

from chalicelib.domain.members import normalise_email

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


def member_entry(member_id: str, seq: int) -> dict[str, str]:
    return {"PK": f"MEMBER#{member_id}", "SK": f"{TX_PREFIX}{seq:012d}"}


def chain_entry(owner_pk: str, seq: int) -> dict[str, str]:
    """The `seq`-th entry of a card's or member's chain, from the owner's partition key."""
    return {"PK": owner_pk, "SK": f"{TX_PREFIX}{seq:012d}"}


def member_partition(member_id: str) -> str:
    return f"MEMBER#{member_id}"


def star_expiry_shard(member_id: str, shards: int) -> str:
    """GSI1 partition of members holding stars, spread over `shards` so no partition runs hot."""
    return f"STAREXP#{int(hashlib.sha256(member_id.encode()).hexdigest(), 16) % shards}"


def star_expiry_partition(shard: int) -> str:
    return f"STAREXP#{shard}"


def refunds(card_id: str, payment_seq: int) -> dict[str, str]:
    return {"PK": f"CARD#{card_id}", "SK": f"REFUNDS#{payment_seq:012d}"}


HOLD_PREFIX = "HOLD#"


def hold(card_id: str, seq: int) -> dict[str, str]:
    return {"PK": f"CARD#{card_id}", "SK": f"{HOLD_PREFIX}{seq:012d}"}


def reward(reward_id: str) -> dict[str, str]:
    return {"PK": "REWARDS", "SK": reward_id}


REWARDS = "REWARDS"


def email(address: str) -> dict[str, str]:
    return {"PK": f"EMAIL#{normalise_email(address)}", "SK": "EMAIL"}


def card_number(number: str, pepper: str) -> dict[str, str]:
    digest = hmac.new(pepper.encode(), number.encode(), hashlib.sha256).hexdigest()
    return {"PK": f"CARDNO#{digest}", "SK": "CARDNO"}


def card_id_for_number(number: str, pepper: str) -> str:
    """A new card's id, derived from its number by a keyed hash: the id reveals nothing of the
    number, and a lookup by number reads the card itself in one round trip (no guard first)."""
    return "crd_" + hmac.new(pepper.encode(), b"card-id\x00" + number.encode(), hashlib.sha256).hexdigest()[:20]


def idempotency(principal_sub: str, key: str) -> dict[str, str]:
    digest = hashlib.sha256(f"{principal_sub}\x00{key}".encode()).hexdigest()
    return {"PK": f"IDEM#{digest}", "SK": "IDEM"}


def offline_item(principal_sub: str, item_key: str) -> dict[str, str]:
    digest = hashlib.sha256(f"{principal_sub}\x00{item_key}".encode()).hexdigest()
    return {"PK": f"OFFLINE#{digest}", "SK": "OFFLINE"}


def wallet_member(member_id: str) -> dict[str, str]:
    return {"PK": f"WALLET#{member_id}", "SK": MEMBER}


def wallet_card(member_id: str, card_id: str) -> dict[str, str]:
    return {"PK": f"WALLET#{member_id}", "SK": f"CARD#{card_id}"}


def wallet_partition(member_id: str) -> str:
    return f"WALLET#{member_id}"


def kind_of(pk: str, sk: str) -> str:
    """What a ledger-table item is, from its keys: card, ledger_entry, member, idempotency, guard."""
    if pk.startswith("CARD#"):
        if sk.startswith(HOLD_PREFIX):
            return "hold"
        return "card" if sk == CARD else "ledger_entry" if sk.startswith(TX_PREFIX) else "refunds"
    if pk.startswith("MEMBER#"):
        return "member" if sk == MEMBER else "member_entry"
    if pk == REWARDS:
        return "reward"
    if pk.startswith("ADJ#"):
        return "adjustment"
    if pk.startswith("ADJTALLY#"):
        return "adjustment_tally"
    if pk.startswith("AUDIT#"):
        return "audit"
    if pk.startswith("IDEM#"):
        return "idempotency"
    if pk.startswith("OFFLINE#"):
        return "offline_item"
    return "guard"


# --- Views table: activity feed, channel report, liability ----------------------------------

def activity_item(member_id: str, created_at: str, source_pk: str, seq: int) -> dict[str, str]:
    return {"PK": f"ACTIVITY#{member_id}", "SK": f"{TX_PREFIX}{created_at}#{source_pk}#{seq:012d}"}


def activity_partition(member_id: str) -> str:
    return f"ACTIVITY#{member_id}"


# Counters every payment moves are spread over this many partition keys each (README, "Scale").
REPORT_SHARDS = 32
LIABILITY_SHARDS = 32


def report_store(day: str, shard: int, store_id: str | None) -> dict[str, str]:
    """A day's counters of one store (or of the transactions naming none) on one shard."""
    return {"PK": report_partition(day, shard), "SK": f"STORE#{store_id}" if store_id is not None else "NO_STORE"}


def report_partition(day: str, shard: int) -> str:
    return f"REPORT#{day}#{shard:02d}"


def report_as_of(day: str, shard: int) -> dict[str, str]:
    return {"PK": report_partition(day, shard), "SK": "AS_OF"}


LIABILITY = "LIABILITY"
TOTALS = "TOTALS"
AS_OF = "AS_OF"


def liability_totals(shard: int) -> dict[str, str]:
    return {"PK": liability_partition(shard), "SK": TOTALS}


def liability_as_of(shard: int) -> dict[str, str]:
    return {"PK": liability_partition(shard), "SK": AS_OF}


def liability_partition(shard: int) -> str:
    return f"{LIABILITY}#{shard:02d}"


def stream_progress(shard_id: str) -> dict[str, str]:
    return {"PK": f"PROGRESS#{shard_id}", "SK": "PROGRESS"}


def adjustment(adjustment_id: str) -> dict[str, str]:
    return {"PK": f"ADJ#{adjustment_id}", "SK": "ADJ"}


PENDING_ADJUSTMENTS = "PENDING_ADJ"


def pending_adjustment(requested_at: str, adjustment_id: str) -> dict[str, str]:
    return {"PK": PENDING_ADJUSTMENTS, "SK": f"{requested_at}#{adjustment_id}"}


def adjustment_tally(subject: str, day: str, agent_id: str) -> dict[str, str]:
    """One agent's unapproved adjustments on one card or member in one UTC day (agent id last, so
    whatever it contains cannot be mistaken for a key separator)."""
    return {"PK": f"ADJTALLY#{subject}", "SK": f"{day}#{agent_id}"}


def audit(subject: str, at: str, audit_id: str) -> dict[str, str]:
    return {"PK": f"AUDIT#{subject}", "SK": f"{at}#{audit_id}"}


def audit_partition(subject: str) -> str:
    return f"AUDIT#{subject}"



# --- Webhooks table ---------------------------------------------------------------------------

WEBHOOKS = "WEBHOOKS"


def webhook(webhook_id: str) -> dict[str, str]:
    return {"PK": WEBHOOKS, "SK": webhook_id}
