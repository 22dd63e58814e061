"""Card use cases: issue, look up, register, reload, pay, freeze, transfer, ledger pages."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from chalicelib import clock
from chalicelib.domain import cards as rules
from chalicelib.domain.cards import BalanceChange, Card, CardMember, CardResource, card_resource
from chalicelib.domain.errors import AlreadyExists, CurrencyMismatch, Forbidden, NotFound
from chalicelib.domain.ledger import Transaction
from chalicelib.domain.members import Member, earn_stars, member_resource
from chalicelib.domain.money import Money
from chalicelib.domain.principals import Principal, require_card_access, require_role
from chalicelib.services import ledger
from chalicelib.services.audit import card_state, record_lookup, staff_action
from chalicelib.services.gate import Gate
from chalicelib.services.ledger import commit, commit_moves, ledger_entry, retrying
from chalicelib.settings import get_settings
from chalicelib.store import cards as card_store
from chalicelib.store import keys
from chalicelib.store import members as member_store
from chalicelib.store.reads import get_items


class TransferResult(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    out: Transaction
    in_: Transaction = Field(alias="in")


class TransactionPage(BaseModel):
    items: list[Transaction]
    next_cursor: str | None


def load_card(card_id: str) -> Card:
    card = card_store.get_card(card_id)
    if card is None:
        raise NotFound("card not found")
    return card


def authorized_card(principal: Principal, card_id: str, *roles: str) -> Card:
    """The card, if `principal` may act on it as one of `roles` (customer = owner)."""
    card = load_card(card_id)
    require_card_access(principal, card.member_id, roles=roles)
    return card


def card_as(principal: Principal, item: dict[str, Any] | None, *roles: str) -> Card:
    """The card read as `item`, if it exists and `principal` may act on it as one of `roles`."""
    if item is None:
        raise NotFound("card not found")
    card = card_store.card_from_item(item)
    require_card_access(principal, card.member_id, roles=roles)
    return card


def member_of(card: Card, item: dict[str, Any] | None) -> Member | None:
    """The card's member: from the plan's read when it could include it, else one more read."""
    if card.member_id is None:
        return None
    if item is not None and item["member_id"] == card.member_id:
        return member_store.member_from_item(item)
    return member_store.get_member(card.member_id)


def with_member(card_id: str) -> list[dict[str, str]]:
    """Keys a card's plan reads: the card, and its member when this process knows who that is."""
    member_id = card_store.known_member(card_id)
    return [keys.card(card_id), *([keys.member(member_id)] if member_id else [])]


def loyalty(card: Card, member_item: dict[str, Any] | None, now: datetime) -> CardMember | None:
    """The card's `member` field: its registered member's tier and stars as of `now`. Read with the
    card when this process knows the card's member (one BatchGetItem), else one more GetItem."""
    member = member_of(card, member_item)
    if member is None:
        return None
    shown = member_resource(member, now, get_settings().rules.stars)
    return CardMember(member_id=member.member_id, tier=shown.tier, stars=shown.stars)


def get_card(principal: Principal, card_id: str) -> CardResource:
    card_item, *member_item = get_items(with_member(card_id))
    card = card_as(principal, card_item, "customer", "agent", "pos")
    record_lookup(principal, "card.viewed", card=card)
    now = clock.now()
    return card_resource(card, now, member=loyalty(card, member_item[0] if member_item else None, now))


def find_by_number(principal: Principal, number: str) -> list[CardResource]:
    """The card presented at a till or read out on the phone, with its member's loyalty."""
    require_role(principal, "pos", "agent", "supervisor")
    card, member_item = card_store.card_by_number(number, with_member=True)
    if card is None:
        return []
    record_lookup(principal, "card.looked_up", card=card)
    now = clock.now()
    return [card_resource(card, now, member=loyalty(card, member_item, now))]


def issue_card(principal: Principal, member_id: str | None, currency: str | None,
               gate: Gate | None) -> CardResource:
    """A new card: registered to a member (owner or agent), or an unregistered gift card (POS, agent)."""
    if principal.role == "customer":
        if member_id is None or member_id != principal.member_id:
            raise Forbidden("a customer may issue cards only to its own member")
    elif principal.role == "pos":
        if member_id is not None:
            raise Forbidden("a till issues unregistered gift cards only")
    else:
        require_role(principal, "agent", "supervisor")
    limits = get_settings().rules.money
    currency = currency or limits.default_currency
    if currency not in limits.currencies:
        raise CurrencyMismatch(f"cards are issued in {', '.join(limits.currencies)}")

    def attempt() -> CardResource:
        now = clock.rfc3339(clock.now())
        number = rules.new_card_number()
        card = Card(card_id=card_store.new_card_id(number), last4=number[-4:], member_id=member_id, currency=currency,
                    created_at=now, updated_at=now)
        issued = card_resource(card, clock.now(), full_number=number)
        items = card_store.put_new_card(card, number)
        if member_id is not None:
            items.append(("member", member_store.member_exists(member_id)))
        commit(items, gate, issued.model_dump(mode="json"),
               audit=staff_action(principal, "card.issued", card=card, after=card_state(card)))
        return issued

    # A number collision fails the card_number guard: the attempt draws a new number.
    return retrying(attempt, gate, refusals={"member": lambda: NotFound("member not found")})


def register_card(principal: Principal, number: str, member_id: str, gate: Gate | None) -> CardResource:
    """Attach the unregistered card with this full number to a member. Holding the number is the
    proof of possession (a card id or a transaction id never is); an unknown number is not found.
    Registering it again to the same member changes nothing, so a retry after a lost response is
    harmless even without an idempotency key."""
    if principal.role == "customer":
        if member_id != principal.member_id:
            raise Forbidden("a customer may register cards only to its own member")
    else:
        require_role(principal, "agent", "supervisor")
    found = card_store.card_by_number(number)
    if found is None:
        raise NotFound("no card has this number")
    card_id = found.card_id

    def attempt() -> CardResource:
        (item,) = ledger.read(gate, keys.card(card_id))
        if item is None:
            raise NotFound("card not found")
        card = card_store.card_from_item(item)
        audit = staff_action(principal, "card.registered", card=card, member_id=member_id,
                             before=card_state(card), after=card_state(card, member_id=member_id))
        if card.member_id == member_id:
            commit([], gate, card_resource(card, clock.now()).model_dump(mode="json"), audit=audit)
            return card_resource(card, clock.now())
        if card.member_id is not None:
            if principal.role == "customer":
                raise NotFound("card not found")
            raise AlreadyExists("the card is registered to another member")
        now = clock.rfc3339(clock.now())
        registered = card_resource(card.model_copy(update={"member_id": member_id, "version": card.version + 1}),
                                   clock.now())
        commit([("card", card_store.state_update(card, {"member_id": member_id}, now)),
                ("member", member_store.member_exists(member_id))], gate, registered.model_dump(mode="json"),
               audit=audit)
        return registered

    return retrying(attempt, gate, refusals={"member": lambda: NotFound("member not found")})


def set_status(principal: Principal, card_id: str, status: str, gate: Gate | None) -> CardResource:
    """Freeze or unfreeze (lost or stolen card). Asking for the state the card is in changes nothing."""

    def attempt() -> CardResource:
        (item,) = ledger.read(gate, keys.card(card_id))
        card = card_as(principal, item, "customer", "agent")
        unchanged = card.status == status or card.status == "closed"
        audit = staff_action(principal, "card.frozen" if status == "frozen" else "card.unfrozen", card=card,
                             before=card_state(card), after=card_state(card, status=card.status if unchanged else status))
        if unchanged:
            commit([], gate, card_resource(card, clock.now()).model_dump(mode="json"), audit=audit)
            return card_resource(card, clock.now())
        now = clock.rfc3339(clock.now())
        changed = card_resource(card.model_copy(update={"status": status, "version": card.version + 1}), clock.now())
        commit([("card", card_store.state_update(card, {"status": status}, now))], gate, changed.model_dump(mode="json"),
               audit=audit)
        return changed

    return retrying(attempt, gate)


def reload(principal: Principal, card_id: str, amount: Money, payment_ref: str, gate: Gate | None) -> Transaction:
    def attempt() -> Transaction:
        (item,) = ledger.read(gate, keys.card(card_id))
        card = card_as(principal, item, "customer", "agent", "pos")
        change = rules.plan_reload(card, amount, get_settings().rules, clock.now())
        entry = ledger_entry(principal, change, "reload", gate, payment_ref=payment_ref)
        audit = staff_action(principal, "card.reloaded", card=card, tx_id=entry.tx_id, before=card_state(card),
                             after=card_state(card, balance=change.balance_after))
        return commit_moves([change], [entry], gate, audit=audit)

    return retrying(attempt, gate)


def pay(principal: Principal, card_id: str, amount: Money, store_id: str | None, order_ref: str | None,
        gate: Gate | None) -> Transaction:
    """A payment at a till (POS) or an order-ahead payment by the owner (store_id = pickup store).
    On a registered card the member earns stars in the same transaction as the debit."""
    if principal.role == "pos":
        if store_id is not None and store_id != principal.store_id:
            raise Forbidden("store_id must be the till's own store")
        store_id = principal.store_id

    def attempt() -> Transaction:
        card_item, *member_item = ledger.read(gate, *with_member(card_id))
        card = card_as(principal, card_item, "customer", "pos")
        now = clock.now()
        change = rules.plan_payment(card, amount, now)
        return commit_payment(principal, change, member_of(card, member_item[0] if member_item else None), now, gate,
                              store_id=store_id, order_ref=order_ref)

    return retrying(attempt, gate)


def commit_payment(principal: Principal, change: BalanceChange, member: Member | None, now: datetime,
                   gate: Gate | None, *, extra: list[tuple[str, dict[str, Any]]] = (), **references: Any) -> Transaction:
    """Commit a card payment (a till's, an order ahead, a hold's capture): on a registered card the
    member earns stars on the amount paid, in the same transaction as the debit."""
    amount = -change.delta
    if member is None:  # a gift card: money moves, no stars
        entry = ledger_entry(principal, change, "payment", gate, at=now, **references)
        return commit_moves([change], [entry], gate, extra=extra)
    settings = get_settings().rules
    earned_member, stars = earn_stars(member, amount, settings.stars.payment_rate, now, settings.stars, new_entry=False)
    entry = ledger_entry(principal, change, "payment", gate, at=now, stars=stars,
                         stars_after=earned_member.stars_now(now), **references)
    return commit_moves([change], [entry], gate, member_updates=[member_store.stars_update(member, earned_member)],
                        extra=extra)


def transfer(principal: Principal, card_id: str, to_card_id: str, amount: Money | None,
             gate: Gate | None, *, move_auto_reload: bool = False) -> TransferResult:
    """Move value between two cards (default: the whole balance) in one transaction; for a lost
    card, its auto-reload setting can move to the new card in the same transaction."""

    def attempt() -> TransferResult:
        source_item, target_item = ledger.read(gate, keys.card(card_id), keys.card(to_card_id))
        source = card_as(principal, source_item, "customer", "agent")
        target = card_as(principal, target_item, "customer", "agent")
        now = clock.now()
        out_change, in_change = rules.plan_transfer(source, target, amount, get_settings().rules.money, now)
        moved = move_auto_reload and source.auto_reload is not None
        if moved:
            out_change = out_change.model_copy(update={"updates": {**out_change.updates, "auto_reload": None,
                                                                   "auto_reload_payment_ref": None}})
            in_change = in_change.model_copy(update={"updates": {
                "auto_reload": source.auto_reload.model_dump(mode="json"),
                "auto_reload_payment_ref": source.auto_reload_payment_ref}})
        # one transaction, one time: both legs carry it
        out_entry = ledger_entry(principal, out_change, "transfer_out", gate, at=now)
        in_entry = ledger_entry(principal, in_change, "transfer_in", gate, at=now)
        audit = staff_action(
            principal, "card.transferred", card=source, member_id=source.member_id or target.member_id,
            tx_id=out_entry.tx_id,
            before={"from": card_state(source), "to": card_state(target)},
            after={"from": card_state(source, balance=out_change.balance_after, **({"auto_reload": None} if moved else {})),
                   "to": card_state(target, balance=in_change.balance_after,
                                    **({"auto_reload": source.auto_reload} if moved else {}))})
        return commit_moves([out_change, in_change], [out_entry, in_entry], gate,
                            shape=lambda txs: TransferResult(out=txs[0], in_=txs[1]), audit=audit)

    return retrying(attempt, gate)


def list_transactions(principal: Principal, card_id: str, limit: int, cursor: str | None) -> TransactionPage:
    """A page of the card's ledger, newest first, in one Query: its entries prove the card exists
    and, for an owner, whose it is (registration is permanent, so an entry naming the member is
    proof). Only an empty page, an owner's page of entries from before registration, or a staff
    read (audited by card) reads the card item too."""
    require_card_access(principal, principal.member_id if principal.role == "customer" else None,
                        roles=("customer", "agent", "pos"))
    entries, next_cursor = card_store.list_entries(card_id, limit, cursor)
    proven = bool(entries) and (principal.role == "pos" or any(
        entry.member_id is not None and entry.member_id == principal.member_id for entry in entries))
    if not proven:
        card = authorized_card(principal, card_id, "customer", "agent", "pos")
        record_lookup(principal, "card.transactions_viewed", card=card)
    return TransactionPage(items=[entry.public() for entry in entries], next_cursor=next_cursor)
