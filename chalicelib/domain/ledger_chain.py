"""The verifiable ledger (contract v1.1, "Verifiable ledger"): pure functions, no I/O.

Every transaction belongs to one chain — its card's, or its member's when it has no card — and
carries `prev_hash` (the previous transaction's `hash`; GENESIS for the first) and
`hash = sha256_hex(prev_hash + "\\n" + canonical)`, where `canonical` is the RFC 8785 (JCS) form
of the transaction exactly as the API shows it, without `hash` and without any null-valued member
at any level. The hash is computed from the same response model the API serialises
(`Transaction.model_dump(mode="json")`), so it covers exactly what a reader sees.

JCS is written here rather than taken from a library: our documents hold only objects, arrays,
strings, integers and booleans (money is integer minor units; no floats anywhere), for which RFC
8785 is short and exact — and a float reaching this code is refused instead of silently formatted."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

GENESIS = "0" * 64

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _string(value: str) -> str:
    out = ['"']
    for char in value:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif char < "\x20":
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def _utf16_key(key: str) -> list[int]:
    """RFC 8785 §3.2.3: members sorted by their names as arrays of UTF-16 code units."""
    encoded = key.encode("utf-16-be", "surrogatepass")
    return [int.from_bytes(encoded[i:i + 2], "big") for i in range(0, len(encoded), 2)]


def _jcs(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, Mapping):
        if not all(isinstance(key, str) for key in value):
            raise TypeError("JSON object keys must be strings")
        members = sorted(value.items(), key=lambda item: _utf16_key(item[0]))
        return "{" + ",".join(_string(key) + ":" + _jcs(item) for key, item in members) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_jcs(item) for item in value) + "]"
    raise TypeError(f"not canonicalisable here: {type(value).__name__} (the ledger holds no floats)")


def canonical_json(value: Any) -> bytes:
    """RFC 8785 (JCS) serialisation of `value` (objects, arrays, strings, integers, booleans,
    null), as UTF-8 bytes."""
    return _jcs(value).encode("utf-8")


def without_nulls(value: Any) -> Any:
    """`value` with every null-valued object member removed, at every level of nesting."""
    if isinstance(value, Mapping):
        return {key: without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, (list, tuple)):
        return [without_nulls(item) for item in value]
    return value


def canonical_form(transaction: Mapping[str, Any]) -> bytes:
    """The canonical bytes of a transaction as the API shows it (a JSON object): `hash` removed,
    null members removed at every level, JCS."""
    return canonical_json(without_nulls({key: item for key, item in transaction.items() if key != "hash"}))


def transaction_hash(transaction: Mapping[str, Any]) -> str:
    """The hash a transaction (as the API shows it, carrying its `prev_hash`) must have."""
    prev_hash = transaction.get("prev_hash")
    if not isinstance(prev_hash, str):
        raise ValueError("a chained transaction carries prev_hash")
    return hashlib.sha256(prev_hash.encode("utf-8") + b"\n" + canonical_form(transaction)).hexdigest()


@dataclass(frozen=True)
class Break:
    """The first broken link of a chain: the position (0 = oldest) and tx_id where it breaks."""

    position: int
    tx_id: str | None
    detail: str


def first_break(transactions: Iterable[Mapping[str, Any]], head: str | None) -> Break | None:
    """Walk a chain's transactions, oldest first, and the head its owner shows; the first link
    that does not hold, or None when the whole chain (and the head) checks out."""
    expected_prev = GENESIS
    position = -1
    for position, transaction in enumerate(transactions):
        tx_id = transaction.get("tx_id")
        if transaction.get("prev_hash") != expected_prev:
            return Break(position, tx_id, f"prev_hash {_short(transaction.get('prev_hash'))} but the previous "
                                          f"transaction's hash is {_short(expected_prev)}")
        recomputed = transaction_hash(transaction)
        if transaction.get("hash") != recomputed:
            return Break(position, tx_id, f"hash {_short(transaction.get('hash'))} but its content hashes to "
                                          f"{_short(recomputed)}")
        expected_prev = recomputed
    expected_head = None if position < 0 else expected_prev
    if head != expected_head:
        return Break(position + 1, None, f"ledger_head {_short(head)} but the chain ends at {_short(expected_head)}")
    return None


def _short(value: Any) -> str:
    return value[:12] + "…" if isinstance(value, str) and len(value) > 12 else repr(value)


def link_after(head: str | None, entries_so_far: int) -> str | None:
    """The prev_hash of a chain's next transaction: its head, GENESIS for a chain with no entries,
    or None for a chain written before the ledger was verifiable and not yet backfilled
    (`omnicard backfill-chain`): its new entries stay unchained until the backfill chains them all."""
    if head is not None:
        return head
    return GENESIS if entries_so_far == 0 else None


def is_linking(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Whether a stored entry changed only by getting its links (`omnicard backfill-chain`): the
    one change an entry may ever see."""
    return ("hash" not in old and "prev_hash" not in old and "hash" in new
            and {key: value for key, value in new.items() if key not in ("prev_hash", "hash")} == dict(old))
