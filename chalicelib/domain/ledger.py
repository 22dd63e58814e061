"""The immutable ledger entry (the contract's Transaction) and how its id is formed."""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from functools import lru_cache
from typing import Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.domain.ledger_chain import transaction_hash
from chalicelib.domain.money import Money
from chalicelib.domain.principals import Channel
from chalicelib.settings import card_number_pepper

Kind = Literal["reload", "payment", "purchase", "redemption", "adjustment", "transfer_out", "transfer_in",
               "refund", "auto_reload", "stars_expired"]


class Transaction(BaseModel):
    """A ledger entry as the API shows it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tx_id: str
    card_id: str | None = None
    member_id: str | None = None
    kind: Kind
    amount: Money | None = None
    balance_after: Money | None = None
    stars: int = 0
    stars_after: int | None = None
    channel: Channel
    store_id: str | None = None
    agent_id: str | None = None
    reason_code: str | None = None
    reverses: str | None = None
    created_at: str
    hold_id: str | None = Field(None, description="payments that captured a hold: the hold's id")
    offline: bool = Field(False, description="true for a sale an offline till took and sent later in a batch")
    occurred_at: str | None = Field(None, description="offline sales: when the till took the sale (`created_at` is "
                                                      "when it was applied)")
    stars_shortfall: int = Field(0, description="refunds: stars the refund could not take back because the member had spent them")
    prev_hash: str | None = Field(None, description="the previous transaction's `hash` in its chain (the card's, or the "
                                                    "member's when card_id is null); 64 zeros for the first")
    hash: str | None = Field(None, description="lowercase hex SHA-256 of prev_hash + \"\\n\" + the transaction's canonical "
                                               "JSON (RFC 8785, without `hash` and null members); see README, \"Verifiable ledger\"")


class LedgerEntry(Transaction):
    """A ledger entry as stored: the Transaction plus who asked, under which key, and references
    that the API does not show (payment and order refs, terminal)."""

    seq: int
    actor: str
    idempotency_key: str | None = None
    payment_ref: str | None = None
    order_ref: str | None = None
    terminal_id: str | None = None
    reward_id: str | None = None
    tender: str | None = None
    item_key: str | None = None  # offline sales: the till's own id of the sale (domain/batches.py)

    def public(self) -> Transaction:
        return Transaction.model_validate(self.model_dump(include=set(Transaction.model_fields)))

    def chained(self, prev_hash: str | None) -> "LedgerEntry":
        """This entry linked after `prev_hash`, its `hash` computed over the public form exactly as
        the API serialises it; unchanged (unchained) when prev_hash is None (see `link_after`)."""
        if prev_hash is None:
            return self
        linked = self.model_copy(update={"prev_hash": prev_hash, "hash": None})
        return linked.model_copy(update={"hash": transaction_hash(linked.public().model_dump(mode="json"))})


# Transaction ids (contract v1.1: "no id reveals another"). A ledger entry is keyed by its card's (or
# member's) gapless sequence, and its id must stay derivable from that pair — known before commit, so
# a retried attempt can never write a second entry — and decodable back to it without a lookup, so a
# refund reads its payment in the one strongly consistent read it already makes. So the id is the
# pair sealed with AES-SIV (RFC 5297: deterministic authenticated encryption) under a key derived
# from the card-number pepper: opaque (it reveals neither id nor sequence), unforgeable (a guessed or
# altered id fails authentication before any DynamoDB read) and canonical (one spelling per entry:
# a decoded id is re-sealed and must come out identical). See README, "DynamoDB design".
_TX_ID = re.compile(r"tx_[A-Za-z0-9_-]{30,200}")  # ASCII only: no other digits or letters get through
_HEX_ID = re.compile(r"[0-9a-f]{20}")
_OWNER_TAGS = {"crd": b"c", "mem": b"m"}
_SEQ_BYTES = 5  # up to 2**40 entries per card or member
_KEY_LABEL = b"omnicard/tx-id/aes-siv/v1"


@lru_cache(maxsize=8)
def _sealer(pepper: str, label: bytes = _KEY_LABEL) -> AESSIV:
    return AESSIV(hmac.new(pepper.encode(), label, hashlib.sha512).digest())  # AES-256-SIV


def _pack(owner_id: str, seq: int) -> bytes:
    """seq (5 bytes), then the owner: `crd_`/`mem_` + 20 hex digits as a tag byte and 10 bytes, any
    other id as `_` + its UTF-8."""
    prefix, _, rest = owner_id.partition("_")
    if prefix in _OWNER_TAGS and _HEX_ID.fullmatch(rest):
        owner = _OWNER_TAGS[prefix] + bytes.fromhex(rest)
    else:
        owner = b"_" + owner_id.encode()
    return seq.to_bytes(_SEQ_BYTES, "big") + owner


def _unpack(plain: bytes) -> tuple[str, int] | None:
    seq, tag, body = int.from_bytes(plain[:_SEQ_BYTES], "big"), plain[_SEQ_BYTES:_SEQ_BYTES + 1], plain[_SEQ_BYTES + 1:]
    for prefix, known in _OWNER_TAGS.items():
        if tag == known:
            return (f"{prefix}_{body.hex()}", seq) if len(body) == 10 else None
    if tag != b"_":
        return None
    try:
        return body.decode(), seq
    except UnicodeDecodeError:
        return None


def seal(prefix: str, label: bytes, owner_id: str, seq: int) -> str:
    """`prefix` + the (owner, seq) pair sealed under the key `label` derives: one key per kind of
    id, so an id of one kind never opens as another (hold ids use this too, domain/holds.py)."""
    if not 0 < seq < 2 ** (8 * _SEQ_BYTES):
        raise ValueError(f"sequence {seq} out of range")
    sealed = _sealer(card_number_pepper(), label).encrypt(_pack(owner_id, seq), None)
    return prefix + base64.urlsafe_b64encode(sealed).decode().rstrip("=")


def unseal(prefix: str, label: bytes, value: str) -> tuple[str, int] | None:
    """(owner id, seq) of an id `seal` made, or None when it is not one in exactly this spelling."""
    if not isinstance(value, str) or not value.startswith(prefix) \
            or not re.fullmatch(r"[A-Za-z0-9_-]{30,200}", value[len(prefix):], re.ASCII):
        return None
    text = value[len(prefix):]
    try:
        sealed = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        plain = _sealer(card_number_pepper(), label).decrypt(sealed, None)
    except (binascii.Error, ValueError, InvalidTag):
        return None
    parsed = _unpack(plain)
    if parsed is None or parsed[1] == 0 or seal(prefix, label, *parsed) != value:
        return None
    return parsed


def tx_id_for(owner_id: str, seq: int) -> str:
    """The id of the `seq`-th ledger entry of a card or member: derived (so a retried attempt can
    never write a second entry) and opaque."""
    return seal("tx_", _KEY_LABEL, owner_id, seq)


def parse_tx_id(tx_id: str) -> tuple[str, int] | None:
    """(card or member id, seq) of a transaction id, or None when it is not one this server issued
    in exactly this spelling."""
    if not isinstance(tx_id, str) or not _TX_ID.fullmatch(tx_id):
        return None
    return unseal("tx_", _KEY_LABEL, tx_id)
