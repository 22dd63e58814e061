"""Operator commands of the verifiable ledger (README, "Verifiable ledger"):

- `backfill-chain`: chain the entries written before the ledger was verifiable, once per stage.
- `verify-card`: what a customer's auditor runs — fetch a card and all its transactions from a
  stage's API (with a token, not its tables), recompute the chain and compare with `ledger_head`.
  Standard-library HTTP only, so it runs anywhere Python does."""
from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from chalicelib.domain.ledger_chain import GENESIS, Break, first_break
from chalicelib.store import chain as chain_store


# --- backfill -----------------------------------------------------------------------------------

@dataclass
class Backfill:
    chained: list[str] = field(default_factory=list)  # owner partitions whose chain was completed
    entries: int = 0  # entries given their links
    skipped: list[str] = field(default_factory=list)  # owners still moving after every attempt


def backfill_chain(table: str, *, attempts: int = 5) -> Backfill:
    """Chain every card and member that has entries but no head: its entries in ledger order
    (seq), each linked after the previous one (the first after 64 zeros), then the head, set only
    if the owner is still at the version it was read at. Entries written meanwhile (the write path
    leaves a not-yet-chained owner's new entries unchained) fail that guard: read again and chain
    them too. Safe to re-run: hashes are deterministic and an entry is never re-linked differently."""
    result = Backfill()
    for key, _ in chain_store.unchained_owners(table):
        for _ in range(attempts):
            owner = chain_store.read_owner(table, key)
            if owner.get("ledger_head") is not None:
                break
            count = chain_store.entry_count(owner)
            entries = [e for e in chain_store.owner_entries(table, key["PK"]) if e.seq <= count]
            head = None
            for entry in entries:
                linked = entry.chained(head or GENESIS)
                if (entry.prev_hash, entry.hash) != (linked.prev_hash, linked.hash):
                    chain_store.set_entry_link(table, key["PK"], linked)
                    result.entries += 1
                head = linked.hash
            if head is not None and chain_store.set_head(table, key, owner["version"], head):
                result.chained.append(key["PK"])
                break
        else:
            result.skipped.append(key["PK"])
    return result


# --- verify-card over the API -------------------------------------------------------------------

class ApiError(Exception):
    pass


@dataclass
class Verdict:
    card_id: str
    transactions: int
    ledger_head: str | None
    broken: Break | None

    @property
    def ok(self) -> bool:
        return self.broken is None

    def render(self) -> str:
        if self.ok:
            return (f"{self.card_id}: chain of {self.transactions} transactions verified; "
                    f"ledger_head {self.ledger_head}")
        where = f"transaction {self.broken.position + 1} (oldest = 1), {self.broken.tx_id}" \
            if self.broken.tx_id else "the head"
        return f"{self.card_id}: chain BROKEN at {where}: {self.broken.detail}"


def _get(base_url: str, path: str, token: str, timeout: float) -> Any:
    request = urllib.request.Request(base_url.rstrip("/") + path,
                                     headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise ApiError(f"GET {path}: HTTP {exc.code} {exc.read()[:300].decode(errors='replace')}") from exc
    except (urllib.error.URLError, TimeoutError, json.JSONDecodeError) as exc:
        raise ApiError(f"GET {path}: {exc}") from exc


def card_transactions(base_url: str, card_id: str, token: str, timeout: float = 10.0,
                      page_size: int = 100) -> list[dict[str, Any]]:
    """All of a card's transactions, oldest first (the API pages them newest first)."""
    path = f"/v1/cards/{urllib.parse.quote(card_id, safe='')}/transactions"
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = urllib.parse.urlencode({"limit": page_size, **({"cursor": cursor} if cursor else {})})
        page = _get(base_url, f"{path}?{query}", token, timeout)
        found += page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            return found[::-1]


def verify_card(base_url: str, card_id: str, token: str, *, attempts: int = 5, timeout: float = 10.0,
                page_size: int = 100) -> Verdict:
    """Recompute the card's chain from its transactions and compare with its ledger_head. The
    head is read before and after the transactions; a card that moved in between is read again."""
    path = f"/v1/cards/{urllib.parse.quote(card_id, safe='')}"
    for _ in range(attempts):
        before = _get(base_url, path, token, timeout).get("ledger_head")
        transactions = card_transactions(base_url, card_id, token, timeout, page_size)
        if _get(base_url, path, token, timeout).get("ledger_head") == before:
            return Verdict(card_id, len(transactions), before, first_break(transactions, before))
    raise ApiError(f"{card_id} kept changing while it was read ({attempts} attempts)")
