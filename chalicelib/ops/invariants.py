"""The invariants that keep money and stars exact, as pure checks over a Snapshot.

Each check returns an Outcome: how many things it looked at and every breach it found. They are
deliberately independent of the code that writes (they recompute from the ledger, not from the
write path's helpers), so a bug in a write path shows up here rather than being mirrored."""
from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from chalicelib.domain.holds import hold_id_for
from chalicelib.domain.ledger import LedgerEntry, parse_tx_id, tx_id_for
from chalicelib.domain.ledger_chain import first_break, is_linking
from chalicelib.domain.members import normalise_email
from chalicelib.domain.reports import ReportRow, entry_deltas, offline_deltas
from chalicelib.domain.stars import next_expiry
from chalicelib.ops.snapshot import Snapshot
from chalicelib.domain.rules import Rules
from chalicelib.store import keys
from chalicelib.store.reports import rows_from_item

@dataclass(frozen=True)
class Breach:
    subject: str
    detail: str


@dataclass
class Outcome:
    invariant: str
    unit: str
    checked: int = 0
    breaches: list[Breach] = field(default_factory=list)
    skipped: str | None = None

    def breach(self, subject: str, detail: str) -> None:
        self.breaches.append(Breach(subject, detail))


@dataclass(frozen=True)
class Context:
    snapshot: Snapshot
    rules: Rules
    expiry_grace: timedelta | None  # None: do not require the expiry run to be current


Check = Callable[[Context], Outcome]
CHECKS: list[Check] = []


def check(function: Check) -> Check:
    CHECKS.append(function)
    return function


def run_all(context: Context) -> list[Outcome]:
    return [function(context) for function in CHECKS]


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


# --- the ledger table reads well --------------------------------------------------------------

@check
def items_well_formed(ctx: Context) -> Outcome:
    outcome = Outcome("items_well_formed", "items", checked=ctx.snapshot.items_read)
    for (pk, sk), error in ctx.snapshot.malformed:
        outcome.breach(f"{pk}/{sk}", f"does not parse: {error}")
    return outcome


# --- money ------------------------------------------------------------------------------------

def _committed(ctx: Context, card_id: str) -> list[LedgerEntry]:
    """The card's entries up to the ledger_seq the card was read at (an entry written after the
    card was scanned belongs to a later state; the confirming pass settles it)."""
    card = ctx.snapshot.cards[card_id]
    return [entry for entry in ctx.snapshot.card_entries.get(card_id, []) if entry.seq <= card.ledger_seq]


@check
def card_balance_equals_ledger(ctx: Context) -> Outcome:
    outcome = Outcome("card_balance_equals_ledger", "cards")
    for card_id, card in ctx.snapshot.cards.items():
        outcome.checked += 1
        total = sum(entry.amount.amount for entry in _committed(ctx, card_id) if entry.amount is not None)
        if total != card.balance:
            outcome.breach(card_id, f"balance {card.balance} but its ledger sums to {total}")
    return outcome


@check
def card_balance_within_bounds(ctx: Context) -> Outcome:
    """Checked apart from the sum: a ledger that sums right can still have gone below zero."""
    cap = ctx.rules.money.balance_cap
    outcome = Outcome("card_balance_within_bounds", "cards")
    for card_id, card in ctx.snapshot.cards.items():
        outcome.checked += 1
        if not 0 <= card.balance <= cap:
            outcome.breach(card_id, f"balance {card.balance} outside [0, {cap}]")
        for entry in ctx.snapshot.card_entries.get(card_id, []):
            if entry.balance_after is not None and not 0 <= entry.balance_after.amount <= cap:
                outcome.breach(entry.tx_id, f"balance_after {entry.balance_after.amount} outside [0, {cap}]")
    return outcome


@check
def card_ledger_gapless(ctx: Context) -> Outcome:
    outcome = Outcome("card_ledger_gapless", "cards")
    for card_id in ctx.snapshot.card_entries.keys() - ctx.snapshot.cards.keys():
        outcome.breach(card_id, "ledger entries of a card that does not exist")
    for card_id, card in ctx.snapshot.cards.items():
        outcome.checked += 1
        entries = ctx.snapshot.card_entries.get(card_id, [])
        seqs = [entry.seq for entry in entries]
        if seqs != list(range(1, card.ledger_seq + 1)):
            # an entry past ledger_seq may have been committed after the card was read: a later pass settles it
            outcome.breach(card_id, f"ledger_seq {card.ledger_seq} but entries numbered {_ranges(seqs)}")
        running = 0
        for entry in entries:
            problems = []
            if entry.tx_id != tx_id_for(card_id, entry.seq) or entry.card_id != card_id:
                problems.append(f"tx_id {entry.tx_id} / card_id {entry.card_id} do not match its key")
            if entry.amount is None or entry.balance_after is None:
                problems.append("a card entry without amount or balance_after")
            else:
                running += entry.amount.amount
                if entry.balance_after.amount != running:
                    problems.append(f"balance_after {entry.balance_after.amount}, running total {running}")
                    running = entry.balance_after.amount
                if {entry.amount.currency, entry.balance_after.currency} != {card.currency}:
                    problems.append(f"currency differs from the card's {card.currency}")
            for problem in problems:
                outcome.breach(entry.tx_id, problem)
    return outcome


@check
def card_version_advances(ctx: Context) -> Outcome:
    """Every balance move bumps version and ledger_seq together; other changes bump version only."""
    outcome = Outcome("card_version_advances", "cards")
    for card_id, card in ctx.snapshot.cards.items():
        outcome.checked += 1
        if card.version < card.ledger_seq + 1:
            outcome.breach(card_id, f"version {card.version} behind ledger_seq {card.ledger_seq}")
    return outcome


@check
def versions_gapless_in_history(ctx: Context) -> Outcome:
    """In the stream's history, each card's and member's version goes up by exactly one per change,
    and ledger entries are written once and never changed."""
    outcome = Outcome("versions_gapless_in_history", "items")
    if ctx.snapshot.history is None:
        outcome.skipped = "stream history not read (--stream)"
        return outcome
    versions: dict[tuple[str, str], list[int]] = defaultdict(list)
    inserts: dict[tuple[str, str], int] = defaultdict(int)
    for change in ctx.snapshot.history:
        key = (change["keys"]["PK"], change["keys"]["SK"])
        kind = keys.kind_of(*key)
        new = change["new"] or {}
        if kind in ("card", "member") and "version" in new:
            seen = versions[key]
            if not seen or seen[-1] != new["version"]:  # moto re-emits an unchanged item; DynamoDB does not
                seen.append(new["version"])
        elif kind in ("ledger_entry", "member_entry") and key[1].startswith(keys.TX_PREFIX):
            if change["event"] == "REMOVE" or (change["old"] is not None
                                               and not is_linking(change["old"], new)):  # backfill-chain's links
                outcome.breach(f"{key[0]}/{key[1]}", f"ledger entry changed ({change['event']})")
            elif change["old"] is None and "tx_id" in new:
                inserts[key] += 1
    for (pk, sk), count in inserts.items():
        outcome.checked += 1
        if count > 1:
            outcome.breach(f"{pk}/{sk}", f"ledger entry written {count} times")
    current = {**{tuple(keys.card(i).values()): c.version for i, c in ctx.snapshot.cards.items()},
               **{tuple(keys.member(i).values()): m.version for i, m in ctx.snapshot.members.items()}}
    for key, seen in versions.items():
        outcome.checked += 1
        steps = [(a, b) for a, b in zip(seen, seen[1:]) if b != a + 1]
        if steps:
            outcome.breach(f"{key[0]}", f"version went {' , '.join(f'{a}→{b}' for a, b in steps[:3])}")
        if key in current and seen[-1] < current[key]:
            outcome.breach(f"{key[0]}", f"version {current[key]} never appeared in the stream (last {seen[-1]})")
    return outcome


@check
def transfers_balanced(ctx: Context) -> Outcome:
    """Each transfer_out has exactly one transfer_in of the same request: value moves, never appears."""
    outcome = Outcome("transfers_balanced", "transfers")
    legs: dict[tuple[Any, ...], list[LedgerEntry]] = defaultdict(list)
    for entries in ctx.snapshot.card_entries.values():
        for entry in entries:
            if entry.kind in ("transfer_out", "transfer_in"):
                # the legs of one transfer share the request's key (their created_at may differ by a tick)
                legs[(entry.actor, entry.idempotency_key or entry.created_at)].append(entry)
    for group in legs.values():
        outcome.checked += 1
        kinds = sorted(entry.kind for entry in group)
        if kinds != ["transfer_in", "transfer_out"]:
            outcome.breach(group[0].tx_id, f"transfer legs {kinds} ({', '.join(e.tx_id for e in group)})")
            continue
        into, out = sorted(group, key=lambda entry: entry.kind)
        if into.amount != out.amount.model_copy(update={"amount": -out.amount.amount}) or out.amount.amount >= 0 \
                or into.card_id == out.card_id:
            outcome.breach(out.tx_id, f"moved {out.amount.amount} out of {out.card_id} but {into.amount.amount} "
                                      f"into {into.card_id}")
    return outcome


@check
def refunds_within_payment(ctx: Context) -> Outcome:
    """Σ refunds of a payment ≤ the payment, the per-payment totals agree with the refund entries,
    and the stars taken back (with any shortfall) never exceed what the payment earned."""
    outcome = Outcome("refunds_within_payment", "payments refunded")
    by_payment: dict[tuple[str, int], list[LedgerEntry]] = defaultdict(list)
    for card_id, entries in ctx.snapshot.card_entries.items():
        for entry in entries:
            if entry.kind != "refund":
                continue
            target = parse_tx_id(entry.reverses or "")
            if target is None or target[0] != card_id:
                outcome.breach(entry.tx_id, f"refund reverses {entry.reverses}, not a payment of its own card")
                continue
            by_payment[target].append(entry)
    for (card_id, seq) in sorted(by_payment.keys() | ctx.snapshot.refunds.keys()):
        outcome.checked += 1
        subject = tx_id_for(card_id, seq)
        entries = ctx.snapshot.card_entries.get(card_id, [])
        payment = next((entry for entry in entries if entry.seq == seq), None)
        if payment is None or payment.kind != "payment" or payment.amount is None:
            outcome.breach(subject, f"refunded, but it is {'missing' if payment is None else payment.kind}")
            continue
        refunds = by_payment.get((card_id, seq), [])
        paid = -payment.amount.amount
        refunded = sum(entry.amount.amount for entry in refunds if entry.amount is not None)
        due = sum(-entry.stars + entry.stars_shortfall for entry in refunds)
        tracker = ctx.snapshot.refunds.get((card_id, seq), {})
        if any(entry.amount is None or entry.amount.amount <= 0 for entry in refunds):
            outcome.breach(subject, "a refund that credits nothing")
        if refunded > paid:
            outcome.breach(subject, f"refunded {refunded} of a payment of {paid}")
        if (tracker.get("refunded", 0), tracker.get("stars_due_back", 0)) != (refunded, due):
            outcome.breach(subject, f"totals say refunded {tracker.get('refunded', 0)} / stars "
                                    f"{tracker.get('stars_due_back', 0)}, entries {refunded} / {due}")
        if due > payment.stars or (refunded == paid and due != payment.stars):
            outcome.breach(subject, f"stars taken back {due} of {payment.stars} earned (refunded {refunded}/{paid})")
    return outcome


# --- the verifiable ledger --------------------------------------------------------------------

# --- holds ------------------------------------------------------------------------------------
# Recomputed from the hold items, not from the card's map through the write path's helpers: the
# card's `held` (what its item's map counts at the snapshot's time) must be exactly the sum of the
# hold items still `held` and unexpired.

def _unexpired(expires_at: str, now: datetime) -> bool:
    return _at(expires_at) > now


@check
def held_equals_open_holds(ctx: Context) -> Outcome:
    """`held` = the sum of the card's unexpired holds, and 0 ≤ held ≤ balance; each open hold in
    the card item is a hold item still held, with the same amount and expiry."""
    outcome = Outcome("held_equals_open_holds", "cards")
    now = ctx.snapshot.now
    open_items: dict[str, dict[int, Any]] = defaultdict(dict)
    for (card_id, seq), record in ctx.snapshot.holds.items():
        if record.status == "held" and _unexpired(record.expires_at, now):
            open_items[card_id][seq] = record
    for card_id in {card_id for card_id, _ in ctx.snapshot.holds} - ctx.snapshot.cards.keys():
        outcome.breach(card_id, "hold items of a card that does not exist")
    for card_id, card in ctx.snapshot.cards.items():
        outcome.checked += 1
        on_card = {int(number): hold for number, hold in card.holds.items() if _unexpired(hold.expires_at, now)}
        # a hold placed after the card was scanned belongs to a later state (the confirming pass settles it)
        items = {seq: record for seq, record in open_items.get(card_id, {}).items() if seq <= card.hold_seq}
        held = sum(hold.amount for hold in on_card.values())
        expected = sum(record.amount for record in items.values())
        if held != expected:
            outcome.breach(card_id, f"held {held} but its open hold items sum to {expected}")
        for seq in sorted(on_card.keys() ^ items.keys()):
            where = "the card item only" if seq in on_card else "its hold item only"
            outcome.breach(card_id, f"hold {seq} is open in {where}")
        for seq in sorted(on_card.keys() & items.keys()):
            if (on_card[seq].amount, on_card[seq].expires_at) != (items[seq].amount, items[seq].expires_at):
                outcome.breach(card_id, f"hold {seq}: the card keeps {on_card[seq].amount} until "
                                        f"{on_card[seq].expires_at}, its item {items[seq].amount} until {items[seq].expires_at}")
        if not 0 <= held <= card.balance:
            outcome.breach(card_id, f"held {held} outside [0, balance {card.balance}]")
        if any(hold.amount <= 0 for hold in card.holds.values()):
            outcome.breach(card_id, "a hold of a non-positive amount")
        if card.holds and max(int(number) for number in card.holds) > card.hold_seq:
            outcome.breach(card_id, f"a hold numbered past hold_seq {card.hold_seq}")
    return outcome


@check
def holds_settled_once(ctx: Context) -> Outcome:
    """A hold is captured or voided at most once: a captured hold has exactly one payment naming
    it, of its captured amount (0 < captured ≤ the hold), a held or voided one none; and in the
    stream's history a hold item leaves `held` once and never changes after."""
    outcome = Outcome("holds_settled_once", "holds")
    captures: dict[str, list[LedgerEntry]] = defaultdict(list)
    for entries in ctx.snapshot.card_entries.values():
        for entry in entries:
            if entry.hold_id is not None:
                captures[entry.hold_id].append(entry)
    known = set()
    for (card_id, seq), record in sorted(ctx.snapshot.holds.items()):
        outcome.checked += 1
        known.add(record.hold_id)
        if record.hold_id != hold_id_for(card_id, seq) or record.card_id != card_id or record.seq != seq:
            outcome.breach(record.hold_id, f"does not match its key {card_id}/{seq}")
        if record.amount <= 0:
            outcome.breach(record.hold_id, f"amount {record.amount}")
        paid = captures.get(record.hold_id, [])
        if record.status == "captured":
            if len(paid) != 1:
                outcome.breach(record.hold_id, f"captured, with {len(paid)} payments naming it")
            if record.captured is None or not 0 < record.captured <= record.amount:
                outcome.breach(record.hold_id, f"captured {record.captured} of a hold of {record.amount}")
            for entry in paid:
                if entry.kind != "payment" or entry.amount is None or -entry.amount.amount != record.captured \
                        or entry.tx_id != record.tx_id or entry.card_id != card_id:
                    outcome.breach(entry.tx_id, f"captures hold {record.hold_id} ({record.captured}) as "
                                                f"{entry.kind} {entry.amount.amount if entry.amount else None}")
        elif paid:
            outcome.breach(record.hold_id, f"{record.status}, yet {len(paid)} payments name it")
    for hold_id in captures.keys() - known:
        # a capture written after its hold item was scanned is settled by the confirming pass
        outcome.breach(hold_id, f"payments name a hold that does not exist: {[e.tx_id for e in captures[hold_id]]}")
    if ctx.snapshot.history is not None:
        statuses: dict[tuple[str, str], list[str]] = defaultdict(list)
        for change in ctx.snapshot.history:
            key = (change["keys"]["PK"], change["keys"]["SK"])
            if keys.kind_of(*key) == "hold" and change["new"] and "status" in change["new"]:
                seen = statuses[key]
                if not seen or seen[-1] != change["new"]["status"]:  # moto re-emits an unchanged item
                    seen.append(change["new"]["status"])
        for key, seen in statuses.items():
            # the stream keeps 24 hours (moto: everything), so only what follows a settled status counts
            if any(before != "held" for before, _ in zip(seen, seen[1:])):
                outcome.breach(f"{key[0]}/{key[1]}", f"status went {' → '.join(seen)}")
    return outcome


def _chains(ctx: Context) -> list[tuple[str, str | None, int, list[LedgerEntry]]]:
    """Every chain: (owner, its head, its entry count, its committed entries oldest first) — each
    card's, and each member's own (card-less) entries."""
    chains = []
    for card_id, card in ctx.snapshot.cards.items():
        chains.append((card_id, card.ledger_head, card.ledger_seq, _committed(ctx, card_id)))
    for member_id, member in ctx.snapshot.members.items():
        own = [e for e in ctx.snapshot.member_entries.get(member_id, []) if e.seq <= member.star_seq]
        chains.append((member_id, member.ledger_head, member.star_seq, own))
    return chains


@check
def ledger_chained(ctx: Context) -> Outcome:
    """Every chain with entries has a head: a card or member whose entries predate the verifiable
    ledger is reported until `omnicard backfill-chain` has chained it."""
    outcome = Outcome("ledger_chained", "chains")
    for owner, head, count, entries in _chains(ctx):
        outcome.checked += 1
        if head is None and count > 0 and not any(entry.hash for entry in entries):
            outcome.breach(owner, f"{count} entries not yet chained: run `omnicard backfill-chain`")
    return outcome


@check
def ledger_chains_verify(ctx: Context) -> Outcome:
    """Recompute every chain from the entries as the API shows them (an independent walk:
    domain/ledger_chain.first_break) and compare with its head; report the first broken link."""
    outcome = Outcome("ledger_chains_verify", "chains")
    for owner, head, count, entries in _chains(ctx):
        if head is None and count > 0 and not any(entry.hash for entry in entries):
            continue  # not chained yet: ledger_chained reports it
        outcome.checked += 1
        broken = first_break([entry.public().model_dump(mode="json") for entry in entries], head)
        if broken is not None:
            where = f"entry {broken.position + 1} ({broken.tx_id})" if broken.tx_id else "its head"
            outcome.breach(owner, f"chain breaks at {where}: {broken.detail}")
    return outcome


# --- stars ------------------------------------------------------------------------------------

def _star_entries(ctx: Context) -> dict[str, list[LedgerEntry]]:
    """Every entry that moved a member's stars: its own entries and its cards' (payments, refunds)."""
    found: dict[str, list[LedgerEntry]] = defaultdict(list)
    for member_id, entries in ctx.snapshot.member_entries.items():
        found[member_id] += entries
    for entries in ctx.snapshot.card_entries.values():
        for entry in entries:
            if entry.member_id is not None and entry.stars:
                found[entry.member_id].append(entry)
    return found


@check
def member_stars_equal_lots(ctx: Context) -> Outcome:
    outcome = Outcome("member_stars_equal_lots", "members")
    for member_id, member in ctx.snapshot.members.items():
        outcome.checked += 1
        if member.stars != sum(member.lots.values()):
            outcome.breach(member_id, f"stars {member.stars} but lots sum to {sum(member.lots.values())}")
        if member.stars < 0 or any(stars < 0 for stars in member.lots.values()):
            outcome.breach(member_id, f"negative stars: {member.stars}, lots {member.lots}")
    for _, entry in ctx.snapshot.entries():
        if entry.stars_after is not None and entry.stars_after < 0:
            outcome.breach(entry.tx_id, f"stars_after {entry.stars_after} < 0")
    return outcome


@check
def member_stars_equal_ledger(ctx: Context) -> Outcome:
    """Σ lots = Σ stars of every entry that names the member (expired stars are both in a lot and
    unwritten until the expiry run writes them off with a stars_expired entry)."""
    outcome = Outcome("member_stars_equal_ledger", "members")
    star_entries = _star_entries(ctx)
    for member_id in star_entries.keys() - ctx.snapshot.members.keys():
        outcome.breach(member_id, "star entries of a member that does not exist")
    for member_id, member in ctx.snapshot.members.items():
        outcome.checked += 1
        own = ctx.snapshot.member_entries.get(member_id, [])
        if [entry.seq for entry in own] != list(range(1, member.star_seq + 1)):
            outcome.breach(member_id, f"star_seq {member.star_seq} but entries numbered {_ranges([e.seq for e in own])}")
        committed = [entry for entry in star_entries.get(member_id, [])
                     if entry.card_id is not None or entry.seq <= member.star_seq]
        total = sum(entry.stars for entry in committed)
        if total != sum(member.lots.values()):
            outcome.breach(member_id, f"lots hold {sum(member.lots.values())} but its star entries sum to {total}")
        for entry in own:
            if entry.tx_id != tx_id_for(member_id, entry.seq) or entry.member_id != member_id or entry.card_id:
                outcome.breach(entry.tx_id, "tx_id, member_id or card_id do not match its key")
    return outcome


@check
def star_expiry_index_current(ctx: Context) -> Outcome:
    """The daily run finds a member only through GSI1: it must name the member's next lot expiry."""
    outcome = Outcome("star_expiry_index_current", "members")
    shards = ctx.rules.stars.expiry_shards
    for member_id, member in ctx.snapshot.members.items():
        outcome.checked += 1
        item = ctx.snapshot.member_items[member_id]
        expiry = next_expiry(member.lots)
        expected = (keys.star_expiry_shard(member_id, shards), expiry) if expiry else (None, None)
        if (item.get("GSI1PK"), item.get("GSI1SK")) != expected:
            outcome.breach(member_id, f"GSI1 {item.get('GSI1PK')}/{item.get('GSI1SK')}, expected {expected}")
    return outcome


@check
def expired_stars_written_off(ctx: Context) -> Outcome:
    outcome = Outcome("expired_stars_written_off", "members")
    if ctx.expiry_grace is None:
        outcome.skipped = "not required (no expiry grace given)"
        return outcome
    cutoff = ctx.snapshot.now - ctx.expiry_grace
    for member_id, member in ctx.snapshot.members.items():
        outcome.checked += 1
        overdue = {at: stars for at, stars in member.lots.items() if stars > 0 and _at(at) <= cutoff}
        if overdue:
            outcome.breach(member_id, f"lots expired more than {ctx.expiry_grace} ago still held: {overdue}")
    return outcome


# --- idempotency ------------------------------------------------------------------------------

def _requests(ctx: Context) -> dict[tuple[str, str], list[LedgerEntry]]:
    groups: dict[tuple[str, str], list[LedgerEntry]] = defaultdict(list)
    for _, entry in ctx.snapshot.entries():
        if entry.idempotency_key is not None:
            groups[(entry.actor, entry.idempotency_key)].append(entry)
    return groups


@check
def one_transaction_per_idempotency_key(ctx: Context) -> Outcome:
    outcome = Outcome("one_transaction_per_idempotency_key", "keys")
    for (actor, key), entries in _requests(ctx).items():
        outcome.checked += 1
        kinds = sorted(entry.kind for entry in entries)
        one_transfer = kinds == ["transfer_in", "transfer_out"]
        if len(entries) > 1 and not one_transfer:
            outcome.breach(f"{actor} / {key}", f"{len(entries)} transactions: {', '.join(e.tx_id for e in entries)}")
    return outcome


def _named_transactions(body: Any) -> set[str]:
    if not isinstance(body, dict):
        return set()
    if isinstance(body.get("results"), list):  # an offline batch: each item's transaction
        return {result["transaction"]["tx_id"] for result in body["results"]
                if isinstance(result, dict) and isinstance(result.get("transaction"), dict)}
    if "tx_id" in body:  # a Transaction, or an adjustment (tx_id null until it is approved)
        return {body["tx_id"]} if body["tx_id"] else set()
    return {leg["tx_id"] for leg in (body.get("out"), body.get("in")) if isinstance(leg, dict) and leg.get("tx_id")}


@check
def idempotency_records_match_ledger(ctx: Context) -> Outcome:
    """A key's stored first response names exactly the transaction its request committed, and every
    stored success names something that exists: a retry replays the truth."""
    outcome = Outcome("idempotency_records_match_ledger", "records")
    snapshot = ctx.snapshot
    committed = {entry.tx_id for _, entry in snapshot.entries()}
    for (actor, key), entries in _requests(ctx).items():
        record = snapshot.idempotency.get(keys.idempotency(actor, key)["PK"])
        if record is None:
            continue  # expired by TTL (48 hours)
        if record.get("state") != "completed":
            outcome.breach(f"{actor} / {key}", f"committed {entries[0].tx_id} but the key is {record.get('state')}")
            continue
        named = _named_transactions(json.loads(record["response_body"]))
        if named != {entry.tx_id for entry in entries}:
            outcome.breach(f"{actor} / {key}", f"response names {sorted(named)}, committed "
                                               f"{sorted(entry.tx_id for entry in entries)}")
    for pk, record in snapshot.idempotency.items():
        outcome.checked += 1
        if record.get("state") != "completed" or not 200 <= int(record.get("response_status", 0)) < 300:
            continue
        body = json.loads(record["response_body"])
        missing = _named_transactions(body) - committed
        if missing:
            outcome.breach(pk, f"stored response names {sorted(missing)}, which were never committed")
        if isinstance(body, dict) and "card_number" in body and body.get("card_id") not in snapshot.cards:
            outcome.breach(pk, f"stored response shows card {body.get('card_id')}, which does not exist")
        if isinstance(body, dict) and "email" in body and body.get("member_id") not in snapshot.members:
            outcome.breach(pk, f"stored response shows member {body.get('member_id')}, which does not exist")
    return outcome


# --- offline till batches ---------------------------------------------------------------------

@check
def offline_items_applied_once(ctx: Context) -> Outcome:
    """Every offline item is applied at most once per till principal: at most one ledger entry per
    (pos principal, item_key), and that entry and the item's record name each other with the same
    money (collected + uncollected = the item's amount)."""
    outcome = Outcome("offline_items_applied_once", "offline items")
    snapshot = ctx.snapshot
    applied: dict[tuple[str, str], list[LedgerEntry]] = defaultdict(list)
    for _, entry in snapshot.entries():
        if entry.offline:
            applied[(entry.actor, entry.item_key or "")].append(entry)
    for (actor, item_key), entries in applied.items():
        subject = f"{actor} / {item_key}"
        if len(entries) > 1:
            outcome.breach(subject, f"applied {len(entries)} times: {', '.join(e.tx_id for e in entries)}")
        record = snapshot.offline_items.get(keys.offline_item(actor, item_key)["PK"])
        if record is None:
            outcome.breach(subject, f"{entries[0].tx_id} has no item record")
        elif record.tx_id not in {entry.tx_id for entry in entries}:
            outcome.breach(subject, f"the item record names {record.tx_id}, not {entries[0].tx_id}")
    by_tx = {entry.tx_id: entry for _, entry in snapshot.entries() if entry.offline}
    for pk, record in snapshot.offline_items.items():
        outcome.checked += 1
        subject = f"{record.actor} / {record.item_key}"
        if keys.offline_item(record.actor, record.item_key)["PK"] != pk:
            outcome.breach(subject, f"recorded under {pk}, not its own key")
        collected = 0
        if record.tx_id is not None:
            entry = by_tx.get(record.tx_id)
            if entry is None:
                outcome.breach(subject, f"names {record.tx_id}, which was never committed")
                continue
            collected = -entry.amount.amount if entry.amount else 0
        if collected + record.uncollected != record.amount or (record.status == "declined") != (collected == 0):
            outcome.breach(subject, f"{record.status}: collected {collected} + uncollected {record.uncollected} "
                                    f"≠ amount {record.amount}")
    return outcome


@check
def uniqueness_guards_consistent(ctx: Context) -> Outcome:
    """Each member owns its email guard and each card its number guard, one to one."""
    outcome = Outcome("uniqueness_guards_consistent", "guards")
    snapshot = ctx.snapshot
    for member_id, member in snapshot.members.items():
        outcome.checked += 1
        guard = keys.email(normalise_email(member.email))["PK"]
        if snapshot.email_guards.get(guard) != member_id:
            outcome.breach(member_id, f"email guard {guard} names {snapshot.email_guards.get(guard)}")
    for guard, member_id in snapshot.email_guards.items():
        member = snapshot.members.get(member_id)
        if member is None or keys.email(member.email)["PK"] != guard:
            outcome.breach(guard, f"guards an email for {member_id}, which does not hold it")
    owners = defaultdict(list)
    for guard, card_id in snapshot.card_number_guards.items():
        outcome.checked += 1
        owners[card_id].append(guard)
        if card_id not in snapshot.cards:
            outcome.breach(guard, f"guards a number for card {card_id}, which does not exist")
    for card_id in snapshot.cards:
        if len(owners.get(card_id, [])) != 1:
            outcome.breach(card_id, f"{len(owners.get(card_id, []))} card-number guards")
    return outcome


# --- views: each equals the fold of the ledger once the stream is drained ---------------------

def _views(ctx: Context, name: str, unit: str) -> Outcome:
    outcome = Outcome(name, unit)
    if ctx.snapshot.views is None:
        outcome.skipped = "views not read (--no-views)"
    return outcome


def _view_items(ctx: Context, prefix: str) -> dict[tuple[str, str], dict[str, Any]]:
    return {key: item for key, item in (ctx.snapshot.views or {}).items() if key[0].startswith(prefix)}


@check
def wallet_view_matches(ctx: Context) -> Outcome:
    outcome = _views(ctx, "wallet_view_matches", "members")
    if outcome.skipped:
        return outcome
    expected: dict[tuple[str, str], tuple[dict[str, Any], int]] = {}
    for member_id, member in ctx.snapshot.members.items():
        expected[tuple(keys.wallet_member(member_id).values())] = (member.model_dump(mode="json"), member.version)
    for card_id, card in ctx.snapshot.cards.items():
        if card.member_id is not None:
            key = tuple(keys.wallet_card(card.member_id, card_id).values())
            expected[key] = (card.model_dump(mode="json"), card.version)
    actual = _view_items(ctx, "WALLET#")
    outcome.checked = len(ctx.snapshot.members)
    _compare(outcome, {k: v for k, v in expected.items()},
             {k: (item.get("doc"), item.get("source_version")) for k, item in actual.items()})
    return outcome


@check
def activity_view_matches(ctx: Context) -> Outcome:
    """A member's feed holds every entry naming the member and every entry of its cards."""
    outcome = _views(ctx, "activity_view_matches", "members")
    if outcome.skipped:
        return outcome
    expected: dict[tuple[str, str], Any] = {}
    for (pk, _), entry in ctx.snapshot.entries():
        card = ctx.snapshot.cards.get(entry.card_id or "")
        for member_id in {entry.member_id, card.member_id if card else None} - {None}:
            key = tuple(keys.activity_item(member_id, entry.created_at, pk, entry.seq).values())
            expected[key] = entry.public().model_dump(mode="json")
    actual = {key: item.get("doc") for key, item in _view_items(ctx, "ACTIVITY#").items()}
    outcome.checked = len(ctx.snapshot.members)
    _compare(outcome, expected, actual)
    return outcome


@check
def channel_report_matches(ctx: Context) -> Outcome:
    """Each day's report rows, summed over the report's shards, are the count, Σ amount and Σ stars
    of its entries per channel, store, kind and currency (and any further counter is what the
    entries' fold gives); and each store's offline row is the count and Σ uncollected of its
    offline till items' records."""
    outcome = _views(ctx, "channel_report_matches", "report rows")
    if outcome.skipped:
        return outcome
    expected: dict[tuple[Any, ...], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for key, entry in ctx.snapshot.entries():
        deltas = entry_deltas(entry, key[0])
        for name, value in deltas.row.counters().items():
            expected[_report_key(deltas.day, deltas.row)][name] += value
    for record in ctx.snapshot.offline_items.values():  # each offline item once, with what it left uncollected
        deltas = offline_deltas(record)
        for name, value in deltas.row.counters().items():
            expected[_report_key(deltas.day, deltas.row)][name] += value
    actual: dict[tuple[Any, ...], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for key, item in _view_items(ctx, "REPORT#").items():
        if key[1] == keys.AS_OF:
            continue
        for row in rows_from_item(item):
            for name, value in row.counters().items():
                actual[_report_key(key[0].split("#")[1], row)][name] += value
    outcome.checked = len(expected)
    _compare(outcome, {k: {n: v for n, v in c.items() if v} for k, c in expected.items()},
             {k: {n: v for n, v in c.items() if v} for k, c in actual.items()})
    return outcome


def _report_key(day: str, row: ReportRow) -> tuple[str, ...]:
    return (day, *(label or "" for label in row.label()))


@check
def liability_view_matches(ctx: Context) -> Outcome:
    """Outstanding value per currency = Σ card balances; outstanding stars = Σ member stars (each
    summed over the liability's shards)."""
    outcome = _views(ctx, "liability_view_matches", "totals")
    if outcome.skipped:
        return outcome
    value: dict[str, int] = defaultdict(int)
    for card in ctx.snapshot.cards.values():
        value[card.currency] += card.balance
    stars = sum(member.stars for member in ctx.snapshot.members.values())
    shown_value: dict[str, int] = defaultdict(int)
    shown_stars = 0
    for key, item in _view_items(ctx, f"{keys.LIABILITY}#").items():
        if key[1] != keys.TOTALS:
            continue
        shown_stars += item.get("stars", 0)
        for name, amount in item.items():
            if name.startswith("VALUE#"):
                shown_value[name.removeprefix("VALUE#")] += amount
    for currency in sorted(set(value) | set(shown_value)):
        outcome.checked += 1
        if shown_value[currency] != value[currency]:
            outcome.breach(f"LIABILITY/VALUE#{currency}", f"shards sum to {shown_value[currency]}, cards hold {value[currency]}")
    outcome.checked += 1
    if shown_stars != stars:
        outcome.breach("LIABILITY/STARS", f"shards sum to {shown_stars}, members hold {stars}")
    return outcome


# --- staff actions ----------------------------------------------------------------------------

@check
def staff_actions_audited(ctx: Context) -> Outcome:
    """Every transaction a staff member made has exactly one audit record naming it, and every
    audit record that names a transaction names one that was committed."""
    outcome = Outcome("staff_actions_audited", "staff transactions")
    if not hasattr(keys, "audit") or not ctx.snapshot.audit:
        # Audit records land with issue 5 (adjustments); until a table holds any, there is nothing to hold to.
        outcome.skipped = "no audit records in this table"
        return outcome
    committed = {entry.tx_id for _, entry in ctx.snapshot.entries()}
    named: dict[str, int] = defaultdict(int)
    for record in ctx.snapshot.audit:
        tx_id = record.get("tx_id")
        if tx_id is None:
            continue
        named[tx_id] += 1
        if tx_id not in committed:
            outcome.breach(f"{record['PK']}/{record['SK']}", f"audits {tx_id}, which was never committed")
    for group in _transactions(ctx):
        if group[0].agent_id is None:
            continue
        outcome.checked += 1
        count = sum(named.get(entry.tx_id, 0) for entry in group)
        if count != 1:
            outcome.breach(group[0].tx_id, f"{count} audit records for {group[0].kind} by agent {group[0].agent_id}")
    return outcome


@check
def adjustments_maker_checker(ctx: Context) -> Outcome:
    """An adjustment above the approval threshold is applied only through another supervisor's
    approval, once; a decided one is off the pending list; each request and decision is audited once."""
    outcome = Outcome("adjustments_maker_checker", "adjustments")
    snapshot, approvals = ctx.snapshot, ctx.rules.approvals
    entries = {entry.tx_id: entry for _, entry in snapshot.entries() if entry.kind == "adjustment"}
    approved = {item.get("tx_id"): item for item in snapshot.adjustments.values() if item.get("status") == "approved"}
    for tx_id, entry in entries.items():
        size, threshold = ((abs(entry.amount.amount), approvals.money_threshold) if entry.amount is not None
                           else (abs(entry.stars), approvals.stars_threshold))
        if size <= threshold:
            continue
        outcome.checked += 1
        decision = approved.get(tx_id)
        if decision is None or decision.get("decided_by") in (None, decision.get("agent_id")):
            outcome.breach(tx_id, f"adjustment of {size} (threshold {threshold}) without another supervisor's approval")
    actions: dict[tuple[str, str], int] = defaultdict(int)
    for record in snapshot.audit:
        if record.get("adjustment_id"):
            actions[(record["adjustment_id"], record.get("action", ""))] += 1
    for adjustment_id, item in snapshot.adjustments.items():
        outcome.checked += 1
        status, tx_id = item.get("status"), item.get("tx_id")
        listed = adjustment_id in snapshot.pending_adjustments
        if (status == "pending_approval") != listed:
            outcome.breach(adjustment_id, f"{status} but {'on' if listed else 'off'} the pending list")
        if status == "approved":
            entry = entries.get(tx_id or "")
            moved = (entry.amount.amount if entry.amount is not None else entry.stars) if entry else None
            wanted = item["amount"]["amount"] if item.get("amount") else item.get("stars")
            if moved != wanted:
                outcome.breach(adjustment_id, f"approved as {tx_id}, which moved {moved} instead of {wanted}")
        elif tx_id:
            outcome.breach(adjustment_id, f"{status} but names transaction {tx_id}")
        if snapshot.audit:
            expected = {"adjustment.requested": 1, "adjustment.approved": int(status == "approved"),
                        "adjustment.rejected": int(status == "rejected")}
            for action, count in expected.items():
                if actions.get((adjustment_id, action), 0) != count:
                    outcome.breach(adjustment_id, f"{actions.get((adjustment_id, action), 0)} '{action}' audit records")
    return outcome


@check
def adjustments_daily_limit(ctx: Context) -> Outcome:
    """The absolute amounts (stars) of one agent's adjustments applied without approval on one card
    (member's stars) in one UTC day sum to at most the approval threshold, and the day's tally item
    equals that sum (it is gone only once its TTL, three days after the day began, has passed)."""
    outcome = Outcome("adjustments_daily_limit", "agent-days")
    snapshot, approvals = ctx.snapshot, ctx.rules.approvals
    approved = {item.get("tx_id") for item in snapshot.adjustments.values() if item.get("status") == "approved"}
    sums: dict[tuple[str, str], int] = defaultdict(int)
    limits: dict[tuple[str, str], int] = {}
    for _, entry in snapshot.entries():
        if entry.kind != "adjustment" or entry.tx_id in approved:
            continue
        tally_key = keys.adjustment_tally(entry.card_id or entry.member_id or "", entry.created_at[:10],
                                          entry.agent_id or "")
        key = (tally_key["PK"], tally_key["SK"])
        money = entry.card_id is not None
        sums[key] += abs(entry.amount.amount) if money else abs(entry.stars)
        limits[key] = approvals.money_threshold if money else approvals.stars_threshold
    for key in sorted(sums.keys() | snapshot.adjustment_tallies.keys()):
        outcome.checked += 1
        subject = f"{key[0]}/{key[1]}"
        if key in sums and sums[key] > limits[key]:
            outcome.breach(subject, f"{sums[key]} adjusted without approval, above the daily {limits[key]}")
        tally = snapshot.adjustment_tallies.get(key)
        if tally is None:
            gone_at = datetime.fromisoformat(key[1][:10]).replace(tzinfo=timezone.utc) + timedelta(days=3)
            if snapshot.now < gone_at:
                outcome.breach(subject, f"no tally for {sums[key]} adjusted without approval")
        elif tally.get("total") != sums.get(key, 0):
            outcome.breach(subject, f"tally {tally.get('total')} ≠ {sums.get(key, 0)} in the ledger")
    return outcome


def _transactions(ctx: Context) -> list[list[LedgerEntry]]:
    """Entries grouped by the request that wrote them (a transfer's two legs are one)."""
    groups: dict[Any, list[LedgerEntry]] = {}
    for _, entry in ctx.snapshot.entries():
        key = (entry.actor, entry.idempotency_key) if entry.idempotency_key else entry.tx_id
        groups.setdefault(key, []).append(entry)
    return list(groups.values())


# --- helpers ----------------------------------------------------------------------------------

def _compare(outcome: Outcome, expected: dict[Any, Any], actual: dict[Any, Any]) -> None:
    for key in sorted(expected.keys() | actual.keys()):
        want, have = expected.get(key), actual.get(key)
        if want != have:
            subject = f"{key[0]}/{key[1]}"
            if have is None:
                outcome.breach(subject, "missing from the view")
            elif want is None:
                outcome.breach(subject, "in the view but not in the ledger")
            else:
                outcome.breach(subject, f"view {_short(have)} ≠ ledger {_short(want)}")


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 160 else text[:157] + "..."


def _ranges(seqs: list[int]) -> str:
    if not seqs:
        return "(none)"
    return f"{seqs[0]}..{seqs[-1]} ({len(seqs)} entries)"
