"""Offline till batches: a till that lost its connection sends up to 100 sales later
(`POST /v1/pos/batches`). See domain/batches.py for the rules and README, "Offline till batches".

Cost: one read of everything the plan needs — every item's record, every card (a card's id derives
from its number, so no lookup), the members this process knows the cards belong to, and the
request's idempotency record — in BatchGetItem calls of at most 100 keys; members not known yet
(and the number guards of cards issued before ids were derived) in one more. Then one
TransactWriteItems per item, in the order they are applied, and the first response's Put. A card
hit by several items is planned from the previous item's committed effect, kept in memory; only a
write that lost a race with another request (an online payment on the same card, the same batch
sent twice) reads again, for that card or that item alone."""
from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chalicelib import clock
from chalicelib.domain.batches import OfflineSale
from chalicelib.domain import batches as rules
from chalicelib.domain.batches import BatchResult, ItemProblem, ItemResult, OfflineItemRecord
from chalicelib.domain.cards import BalanceChange, Card, pruned_holds, spendable
from chalicelib.domain.errors import ConcurrentUpdate
from chalicelib.domain.ledger import LedgerEntry, Transaction
from chalicelib.domain.members import Member, earn_stars
from chalicelib.domain.money import Money
from chalicelib.domain.principals import Principal, require_role
from chalicelib.services import gate as request_gate
from chalicelib.services import ledger
from chalicelib.services.gate import Gate
from chalicelib.settings import card_number_pepper, get_settings
from chalicelib.store import cards as card_store
from chalicelib.store import keys
from chalicelib.store import members as member_store
from chalicelib.store import offline_items as item_store
from chalicelib.store.reads import get_items
from chalicelib.store.transactions import TransactionCancelled

RECORD = "offline_item"


@dataclass(frozen=True)
class _Planned:
    """One item's writes, its record, and what the batch knows once they commit."""

    writes: list[tuple[str, dict[str, Any]]]
    record: OfflineItemRecord
    entries: list[LedgerEntry]
    card: Card | None = None
    member: Member | None = None


@dataclass
class _Known:
    """What the batch has read, kept current as its own items commit."""

    records: dict[str, OfflineItemRecord] = field(default_factory=dict)  # by item_key
    card_ids: list[str | None] = field(default_factory=list)  # per item (None: no such card)
    cards: dict[str, Card] = field(default_factory=dict)
    members: dict[str, Member] = field(default_factory=dict)


def apply_batch(principal: Principal, items: list[OfflineSale], gate: Gate | None) -> BatchResult:
    """Apply a till's offline sales, oldest first, each on its own; answer one result per item in
    the order sent, and store that answer as the request's first response."""
    require_role(principal, "pos")
    now = clock.now()  # one window for the whole batch
    known = _read(principal, items, gate)
    results: dict[int, ItemResult] = {}
    for index in rules.application_order([item.moment for item in items]):
        results[index] = _apply(principal, index, items[index], known, gate, now)
    batch = BatchResult(results=[results[index] for index in range(len(items))])
    if gate is not None:
        request_gate.finish(gate, 200, batch.model_dump(mode="json"))
    return batch


def _read(principal: Principal, items: list[OfflineSale], gate: Gate | None) -> _Known:
    """Records, cards and members, in as few BatchGetItem calls as the plan allows."""
    pepper = card_number_pepper()
    ids = [item.card_id or card_store.new_card_id(item.card_number) for item in items]
    record_keys = [item_store.key_of(principal.sub, item.item_key) for item in items]
    cached = {member for member in map(card_store.known_member, ids) if member}
    first = [*record_keys, *map(keys.card, ids), *map(keys.member, cached)]
    read: dict[tuple[str, str], dict[str, Any] | None] = dict(zip(map(_pair, first), ledger.read(gate, *first)))

    def more(wanted: list[dict[str, str]]) -> None:
        wanted = [key for key in wanted if _pair(key) not in read]
        if wanted:
            read.update(zip(map(_pair, wanted), get_items(wanted)))

    # Cards issued before ids were derived from numbers are named by their number's guard.
    legacy = {index: keys.card_number(item.card_number, pepper) for index, item in enumerate(items)
              if item.card_number and read[_pair(keys.card(ids[index]))] is None}
    more([*legacy.values(), *_members_of(read)])
    for index, guard_key in legacy.items():
        guard = read.get(_pair(guard_key))
        ids[index] = guard["card_id"] if guard else None
    more([keys.card(card_id) for card_id in ids if card_id])
    more(_members_of(read))

    known = _Known()
    for item, key in zip(items, record_keys):
        record = read[_pair(key)]
        if record is not None:
            known.records[item.item_key] = item_store.record_from_item(record)
    for card_id in ids:
        card_item = read.get(_pair(keys.card(card_id))) if card_id else None
        known.card_ids.append(card_id if card_item else None)
        if card_item:
            known.cards[card_id] = card_store.card_from_item(card_item)
    for pair, item in read.items():
        if item is not None and pair[0].startswith("MEMBER#") and pair[1] == keys.MEMBER:
            member = member_store.member_from_item(item)
            known.members[member.member_id] = member
    return known


def _pair(key: dict[str, str]) -> tuple[str, str]:
    return key["PK"], key["SK"]


def _members_of(read: dict[tuple[str, str], dict[str, Any] | None]) -> list[dict[str, str]]:
    return [keys.member(item["member_id"]) for pair, item in list(read.items())
            if item is not None and pair[0].startswith("CARD#") and pair[1] == keys.CARD and item.get("member_id")]


def _apply(principal: Principal, index: int, item: OfflineSale, known: _Known, gate: Gate | None,
           now: datetime) -> ItemResult:
    """One item, atomically on its own: its record, and its payment when the card pays anything."""
    if item.item_key in known.records:
        return _again(known.records[item.item_key], gate)
    for attempt in range(get_settings().write_attempts):
        planned = _plan(principal, item, known.card_ids[index], known, gate, now)
        try:
            ledger.commit([*planned.writes, (RECORD, item_store.put_record(planned.record))], None, None,
                          entries=planned.entries)
        except TransactionCancelled as exc:
            if RECORD in exc.failed:  # the same item, sent again meanwhile (another thread, another batch)
                (stored,) = get_items([item_store.key_of(principal.sub, item.item_key)])
                known.records[item.item_key] = item_store.record_from_item(stored)
                return _again(known.records[item.item_key], gate)
            _refresh(known, known.card_ids[index])  # an online payment (or another batch) moved the card
            time.sleep(random.uniform(0, min(0.05, 0.001 * 2 ** attempt)))  # as services/ledger.retrying
            continue
        # The next item on this card (or member) is planned from this one's effect, without a read.
        known.records[item.item_key] = planned.record
        if planned.card is not None:
            known.cards[planned.card.card_id] = planned.card
        if planned.member is not None:
            known.members[planned.member.member_id] = planned.member
        return planned.record.first_result()
    raise ConcurrentUpdate("the card changed under too many concurrent requests; send the batch again")


def _again(record: OfflineItemRecord, gate: Gate | None) -> ItemResult:
    """An item recorded before: by this very request (a retry under the same Idempotency-Key after
    its first attempt stopped half-way, or the same request racing itself), its own result;
    otherwise a duplicate carrying the first result."""
    if gate is not None and record.idempotency_key == gate.idempotency_key and record.request_hash == gate.request_hash:
        return record.first_result()
    return record.as_duplicate()


def _plan(principal: Principal, item: OfflineSale, card_id: str | None, known: _Known, gate: Gate | None,
          now: datetime) -> _Planned:
    """The writes of one item in the contract's order of checks: occurred_at window, card known,
    card active (then currency), then pay what is available (`spendable`: the balance less the
    card's unexpired holds)."""
    settings = get_settings().rules
    at = clock.now()
    card = known.cards.get(card_id) if card_id else None
    amount = item.amount.amount
    problem = rules.window_problem(item.moment, now, settings.offline)
    code = "validation_error" if problem else None
    if code is None and card is None:
        code, problem = "not_found", "no card has this number" if item.card_number else "card not found"
    elif code is None and card.status != "active":
        code, problem = "card_not_active", f"the card is {card.status}"
    elif code is None and card.currency != item.amount.currency:
        code, problem = "currency_mismatch", f"amount is in {item.amount.currency} but the card holds {card.currency}"
    collected = 0 if code else rules.collectable(amount, spendable(card, at))
    if code is None and collected < amount:
        code, problem = "insufficient_funds", f"the card had {collected} of {amount} available"
    writes: list[tuple[str, dict[str, Any]]] = []
    entries: list[LedgerEntry] = []
    transaction: Transaction | None = None
    card_after = member_after = None
    if collected:
        # Like an online payment: from what the card can spend, dropping holds that expired meanwhile.
        change = BalanceChange(card=card, delta=-collected, updates=pruned_holds(card, at))
        member = known.members.get(card.member_id) if card.member_id else None
        stars, stars_after, member_writes = 0, None, []
        if member is not None:  # stars on what was collected, at the member's tier now
            member_after, stars = earn_stars(member, collected, settings.stars.payment_rate, at, settings.stars,
                                             new_entry=False)
            stars_after = member_after.stars_now(at)
            member_writes = [("member", member_store.stars_update(member, member_after))]
        # The entry's request identity is its item_key, not the batch's Idempotency-Key (one key
        # covers up to 100 transactions): reconcile checks one entry per (till, item_key).
        entry = ledger.ledger_entry(principal, change, "payment", None, store_id=principal.store_id, at=at,
                                    offline=True, occurred_at=clock.rfc3339(item.moment), order_ref=item.order_ref,
                                    item_key=item.item_key, stars=stars, stars_after=stars_after)
        (change,), (entry,) = ledger.chain_entries([change], [entry])
        transaction = entry.public()
        writes = [("card", card_store.balance_update(change, entry.created_at)),
                  ("entry", card_store.put_entry(entry)), *member_writes]
        entries = [entry]
        # The card as this write leaves it (its other updates — the chain head — included).
        card_after = Card.model_validate({
            **card.model_dump(), **{k: v for k, v in change.updates.items() if k in Card.model_fields},
            "balance": change.balance_after, "version": card.version + 1, "ledger_seq": change.seq,
            "updated_at": entry.created_at})
    status = rules.outcome(amount, collected)
    result = ItemResult(item_key=item.item_key, status=status, transaction=transaction,
                        uncollected=Money(amount=amount - collected, currency=item.amount.currency),
                        problem=ItemProblem(code=code, detail=problem) if code else None)
    record = OfflineItemRecord(
        actor=principal.sub, item_key=item.item_key, store_id=principal.store_id, terminal_id=principal.terminal_id,
        card_id=card.card_id if card else None, status=status, tx_id=transaction.tx_id if transaction else None,
        amount=amount, currency=item.amount.currency, uncollected=amount - collected,
        occurred_at=item.occurred_at, recorded_at=clock.rfc3339(at),
        idempotency_key=gate.idempotency_key if gate else None, request_hash=gate.request_hash if gate else None,
        result=result.model_dump(mode="json"))
    return _Planned(writes, record, entries, card_after, member_after)


def _refresh(known: _Known, card_id: str | None) -> None:
    """Read one card (and its member) again after a write lost a race with another request."""
    if card_id is None:
        return
    card_item, *rest = get_items([keys.card(card_id), *([keys.member(known.cards[card_id].member_id)]
                                                        if known.cards[card_id].member_id else [])])
    if card_item is not None:
        known.cards[card_id] = card_store.card_from_item(card_item)
    if rest and rest[0] is not None:
        member = member_store.member_from_item(rest[0])
        known.members[member.member_id] = member
