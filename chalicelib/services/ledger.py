"""Ledger writes, in one place: the plan's one read, the entries, and the one TransactWriteItems
that commits balance and star changes with their immutable entries, the staff audit record and the
request's first response — retried from a fresh read when it was cancelled by a stale read or a
conflicting transaction. Business metrics are counted here, when the transaction has committed."""
from __future__ import annotations

import random
import time
from datetime import datetime
from typing import Any, Callable, Iterable, TypeVar

from pydantic import BaseModel

from chalicelib import clock
from chalicelib.domain.audit import AuditRecord
from chalicelib.domain.cards import BalanceChange
from chalicelib.domain.errors import ConcurrentUpdate
from chalicelib.domain.ledger import Kind, LedgerEntry, Transaction, tx_id_for
from chalicelib.domain.ledger_chain import link_after
from chalicelib.domain.members import Member
from chalicelib.domain.principals import Principal
from chalicelib.observability import record_committed
from chalicelib.services import gate as request_gate
from chalicelib.services.gate import Gate
from chalicelib.settings import get_settings
from chalicelib.store import audit as audit_store
from chalicelib.store import cards as card_store
from chalicelib.store import members as member_store
from chalicelib.store.idempotency import record_from_item
from chalicelib.store.reads import get_items
from chalicelib.store.transactions import TransactionCancelled, transact

T = TypeVar("T")
IDEMPOTENCY = "idempotency"


def read(gate: Gate | None, *item_keys: dict[str, str]) -> list[dict[str, Any] | None]:
    """One strongly consistent read of the items a plan needs and of the request's idempotency
    record; Replay (via the gate) when the key was answered already."""
    items = get_items([*item_keys, gate.key] if gate else list(item_keys))
    if gate is not None:
        record = items.pop()
        request_gate.settle(gate, record_from_item(record) if record else None)
    return items


def commit(items: list[tuple[str, dict[str, Any]]], gate: Gate | None, response_body: Any, *,
           audit: AuditRecord | None = None, status: int | None = None,
           entries: Iterable[LedgerEntry] = ()) -> None:
    """Write `items` and, in the same transaction, the audit record of a staff action and the
    request's first response (`status`, default the route's); count `entries` once committed."""
    if audit is not None:
        items = [*items, ("audit", audit_store.put(audit))]
    if gate is not None:
        items = [*items, (IDEMPOTENCY, request_gate.claim(gate, response_body, status))]
    if items:  # a request that changes nothing, audits nothing and has no key writes nothing
        transact(items)
    record_committed(entries)


def retrying(attempt: Callable[[], T], gate: Gate | None = None, *,
             refusals: dict[str, Callable[[], Exception]] | None = None) -> T:
    """Run `attempt` (read, plan, commit) until it commits. A failed condition on the idempotency
    record means the key was answered meanwhile: replay that answer. One on a label in `refusals`
    is final (e.g. the email already taken); anything else means our read was stale or another
    transaction was in the way, so read again and re-plan."""
    refusals = refusals or {}
    attempts = get_settings().write_attempts
    for number in range(attempts):
        try:
            return attempt()
        except TransactionCancelled as exc:
            if IDEMPOTENCY in exc.failed and gate is not None:
                request_gate.answered(gate)
            for label in exc.failed:
                if label in refusals:
                    raise refusals[label]() from exc
            if number == attempts - 1:
                raise ConcurrentUpdate("the card changed under too many concurrent requests; retry with the same Idempotency-Key") from exc
            time.sleep(random.uniform(0, min(0.05, 0.001 * 2 ** number)))
    raise AssertionError("unreachable")


def ledger_entry(principal: Principal, change: BalanceChange, kind: Kind, gate: Gate | None, *,
                 store_id: str | None = None, at: datetime | None = None, **references: Any) -> LedgerEntry:
    """The immutable record of one card's balance change, stamped with who, where and when."""
    card = change.card
    from chalicelib.domain.money import Money
    return LedgerEntry(
        tx_id=tx_id_for(card.card_id, change.seq), seq=change.seq, card_id=card.card_id, member_id=card.member_id,
        kind=kind, amount=Money(amount=change.delta, currency=card.currency),
        balance_after=Money(amount=change.balance_after, currency=card.currency),
        channel=principal.channel, store_id=store_id or (principal.store_id if principal.role == "pos" else None),
        agent_id=references.pop("agent_id", principal.agent_id), created_at=clock.rfc3339(at or clock.now()),
        actor=principal.sub, idempotency_key=gate.idempotency_key if gate else None,
        terminal_id=principal.terminal_id, **references,
    )


def member_entry(principal: Principal, after: Member, kind: Kind, stars: int, now: datetime,
                 gate: Gate | None, **fields: Any) -> LedgerEntry:
    """An entry of the member's own ledger (no card moved), numbered by the member's star_seq."""
    return LedgerEntry(
        tx_id=tx_id_for(after.member_id, after.star_seq), seq=after.star_seq, member_id=after.member_id, kind=kind,
        stars=stars, stars_after=after.stars_now(now), channel=principal.channel,
        store_id=fields.pop("store_id", None) or (principal.store_id if principal.role == "pos" else None),
        agent_id=fields.pop("agent_id", principal.agent_id), terminal_id=principal.terminal_id,
        created_at=clock.rfc3339(now), actor=principal.sub,
        idempotency_key=gate.idempotency_key if gate else None, **fields)


def commit_moves(changes: list[BalanceChange], entries: list[LedgerEntry], gate: Gate | None,
                 shape: Callable[[list[Transaction]], BaseModel] = lambda txs: txs[0], *,
                 member_updates: list[dict[str, Any]] = (), extra: list[tuple[str, dict[str, Any]]] = (),
                 audit: AuditRecord | None = None) -> Any:
    """Commit balance changes with their ledger entries, the member's star change if any (and the
    first response) atomically; return the response `shape` makes of the public transactions."""
    changes, entries = chain_entries(changes, entries)
    result = shape([entry.public() for entry in entries])
    now = entries[0].created_at
    items = [("card", card_store.balance_update(change, now)) for change in changes]
    items += [("entry", card_store.put_entry(entry)) for entry in entries]
    items += [("member", update) for update in member_updates]
    items += list(extra)
    commit(items, gate, result.model_dump(mode="json"), audit=audit, entries=entries)
    return result


def chain_entries(changes: list[BalanceChange], entries: list[LedgerEntry]) -> tuple[list[BalanceChange], list[LedgerEntry]]:
    """Link each entry into its card's chain (after the head the plan read: the card update's
    version guard makes that read authoritative) and carry each card's new head in its update,
    so the head moves in the same TransactWriteItems as the entry — no extra round trip."""
    heads = {change.card.card_id: link_after(change.card.ledger_head, change.card.ledger_seq) for change in changes}
    chained = []
    for entry in sorted(entries, key=lambda e: e.seq):
        entry = entry.chained(heads[entry.card_id])
        heads[entry.card_id] = entry.hash
        chained.append(entry)
    by_id = {entry.tx_id: entry for entry in chained}
    changes = [change if heads[change.card.card_id] is None else
               change.model_copy(update={"updates": {**change.updates, "ledger_head": heads[change.card.card_id]}})
               for change in changes]
    return changes, [by_id[entry.tx_id] for entry in entries]


def commit_member_entry(before: Member, after: Member, entry: LedgerEntry, gate: Gate | None, *,
                        extra: list[tuple[str, dict[str, Any]]] = (), audit: AuditRecord | None = None) -> Transaction:
    """Commit a member's star change with its own ledger entry (and the first response), the entry
    linked into the member's chain and the member's head advanced in the same write."""
    entry = entry.chained(link_after(before.ledger_head, before.star_seq))
    if entry.hash is not None:
        after = after.model_copy(update={"ledger_head": entry.hash})
    public = entry.public()
    commit([("member", member_store.stars_update(before, after)), ("entry", member_store.put_entry(entry)), *extra],
           gate, public.model_dump(mode="json"), audit=audit, entries=[entry])
    return public
