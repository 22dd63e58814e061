"""Star use cases: purchases, rewards and redemptions, refunds, and the daily expiry run."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from chalicelib import clock
from chalicelib.domain import cards as card_rules
from chalicelib.domain import stars as star_rules
from chalicelib.domain.errors import AlreadyRefunded, Forbidden, LimitExceeded, NotFound, ValidationFailed
from chalicelib.domain.ledger import Transaction, parse_tx_id
from chalicelib.domain.members import Member, earn_stars, lapse_stars, redeem_stars, take_back_stars
from chalicelib.domain.money import Money, require_currency
from chalicelib.domain.principals import Principal, require_member_access, require_role
from chalicelib.domain.stars import Reward
from chalicelib.observability import logger
from chalicelib.services import ledger
from chalicelib.services.audit import card_state, staff_action
from chalicelib.services.gate import Gate
from chalicelib.services.ledger import commit_member_entry, commit_moves, ledger_entry, member_entry, retrying
from chalicelib.settings import get_settings
from chalicelib.store import cards as card_store
from chalicelib.store import keys
from chalicelib.store import members as member_store
from chalicelib.store import rewards as reward_store

EXPIRY = Principal(sub="system:stars-expiry", role="service", channel="system")


class RewardList(BaseModel):
    items: list[Reward]


class ExpiryRun(BaseModel):
    members_checked: int
    members_expired: int
    stars_expired: int


def load_member(member_id: str) -> Member:
    member = member_store.get_member(member_id)
    if member is None:
        raise NotFound("member not found")
    return member


def member_from(item: dict[str, Any] | None) -> Member:
    if item is None:
        raise NotFound("member not found")
    return member_store.member_from_item(item)


def _may_earn_and_redeem(principal: Principal, member_id: str) -> None:
    """Owner or POS (a member scanned at the till) may earn and redeem."""
    if principal.role != "pos":
        require_member_access(principal, member_id, staff=False)


def record_purchase(principal: Principal, member_id: str, amount: Money, tender: str, store_id: str | None,
                    gate: Gate | None) -> Transaction:
    """Stars for a purchase paid some other way (cash, bank card) at the purchase rate. Only a till
    records one (the customer's own word earns nothing), and never above the configured bound."""
    require_role(principal, "pos")
    if store_id is not None and store_id != principal.store_id:
        raise Forbidden("store_id must be the till's own store")
    store_id = principal.store_id
    settings = get_settings().rules
    if amount.amount > settings.limits.purchase_max:
        raise LimitExceeded(f"a purchase is at most {settings.limits.purchase_max} minor units")
    rules = settings.stars

    def attempt() -> Transaction:
        (item,) = ledger.read(gate, keys.member(member_id))
        member = member_from(item)
        now = clock.now()
        after, stars = earn_stars(member, amount.amount, rules.purchase_rate, now, rules, new_entry=True)
        entry = member_entry(principal, after, "purchase", stars, now, gate, amount=amount, store_id=store_id,
                             tender=tender)
        return commit_member_entry(member, after, entry, gate)

    return retrying(attempt, gate)


def rewards() -> RewardList:
    """The catalogue: the rules file's defaults with the service role's changes applied."""
    catalogue = {reward.reward_id: reward for reward in get_settings().rules.stars.rewards}
    for change in reward_store.catalogue_changes():
        if change.get("retired"):
            catalogue.pop(change["reward_id"], None)
        else:
            catalogue[change["reward_id"]] = Reward(reward_id=change["reward_id"], name=change["name"], stars=change["stars"])
    return RewardList(items=sorted(catalogue.values(), key=lambda reward: (reward.stars, reward.reward_id)))


def save_reward(principal: Principal, reward: Reward) -> Reward:
    require_role(principal, "service")
    reward_store.save(reward.reward_id, reward.name, reward.stars, retired=False)
    return reward


def retire_reward(principal: Principal, reward_id: str) -> RewardList:
    require_role(principal, "service")
    if reward_id not in {reward.reward_id for reward in rewards().items}:
        raise NotFound("reward not found")
    reward_store.save(reward_id, None, None, retired=True)
    return rewards()


def redeem(principal: Principal, member_id: str, reward_id: str, gate: Gate | None) -> Transaction:
    """Spend a reward's stars, earliest-expiring first, atomically with the member's balance."""
    require_role(principal, "pos", "customer")
    _may_earn_and_redeem(principal, member_id)
    rules = get_settings().rules.stars

    def attempt() -> Transaction:
        item, change = ledger.read(gate, keys.member(member_id), keys.reward(reward_id))
        member = member_from(item)
        reward = _reward(reward_id, change)
        now = clock.now()
        after = redeem_stars(member, reward.stars, now, rules)
        entry = member_entry(principal, after, "redemption", -reward.stars, now, gate, reward_id=reward.reward_id)
        return commit_member_entry(member, after, entry, gate)

    return retrying(attempt, gate)


def _reward(reward_id: str, change: dict[str, Any] | None) -> Reward:
    """The reward as the catalogue shows it: the service role's change to it, else the default."""
    if change is not None:
        if change.get("retired"):
            raise NotFound("reward not found")
        return Reward(reward_id=reward_id, name=change["name"], stars=change["stars"])
    reward = next((r for r in get_settings().rules.stars.rewards if r.reward_id == reward_id), None)
    if reward is None:
        raise NotFound("reward not found")
    return reward


def refund(principal: Principal, tx_id: str, amount: Money | None, gate: Gate | None) -> Transaction:
    """Credit a payment back (whole or in part) and take back the stars it earned in proportion,
    never more than the member holds; the rest is recorded as `stars_shortfall`."""
    require_role(principal, "pos", "agent", "supervisor")
    parsed = parse_tx_id(tx_id)
    if parsed is None or not parsed[0].startswith("crd_"):
        raise NotFound("transaction not found")
    card_id, seq = parsed
    settings = get_settings().rules

    def attempt() -> Transaction:
        entry_item, card_item, refunds_item, *member_item = ledger.read(
            gate, keys.ledger_entry(card_id, seq), keys.card(card_id), keys.refunds(card_id, seq),
            *([keys.member(m)] if (m := card_store.known_member(card_id)) else []))
        if entry_item is None or card_item is None:
            raise NotFound("transaction not found")
        payment, card = card_store.entry_from_item(entry_item), card_store.card_from_item(card_item)
        refunded, stars_due_back, version = card_store.refunded_totals(refunds_item)
        if principal.role == "pos" and payment.store_id != principal.store_id:
            raise Forbidden("a till refunds only its own store's payments")
        if payment.kind != "payment":
            raise ValidationFailed("only payments can be refunded",
                                   errors=[{"loc": ["path", "tx_id"], "msg": f"a {payment.kind} cannot be refunded"}])
        paid = -payment.amount.amount
        remaining = paid - refunded
        if amount is not None:
            require_currency(amount, payment.amount.currency)
        value = remaining if amount is None else amount.amount
        if remaining <= 0 or value > remaining:
            raise AlreadyRefunded(f"{remaining} of the payment's {paid} remains refundable")
        change = card_rules.plan_credit(card, value, settings.money, require_active_card=False)
        now = clock.now()
        due = star_rules.refund_take_back(payment.stars, paid, refunded, value)
        member_updates, taken, stars_after = [], 0, None
        if due and payment.member_id:
            read = member_item[0] if member_item else None
            member = (member_store.member_from_item(read) if read and read["member_id"] == payment.member_id
                      else load_member(payment.member_id))
            paid_at = datetime.fromisoformat(payment.created_at.replace("Z", "+00:00"))
            after, taken = take_back_stars(member, due, now, settings.stars, earned_at=paid_at)
            member_updates.append(member_store.stars_update(member, after))
            stars_after = after.stars_now(now)
        entry = ledger_entry(principal, change, "refund", gate, store_id=payment.store_id, at=now, reverses=tx_id,
                             stars=-taken, stars_after=stars_after, stars_shortfall=due - taken)
        tracker = card_store.refunded_update(card_id, seq, version, refunded + value, stars_due_back + due)
        audit = staff_action(principal, "payment.refunded", card=card, tx_id=entry.tx_id, before=card_state(card),
                             after=card_state(card, balance=change.balance_after))
        return commit_moves([change], [entry], gate, member_updates=member_updates, extra=[("refunds", tracker)],
                            audit=audit)

    return retrying(attempt, gate)


def expire_due_stars(now: datetime | None = None) -> ExpiryRun:
    """The daily run: write off every lot that has expired, one `stars_expired` entry per member.
    Guarded by each member's version, so a second or concurrent run expires nothing twice."""
    now = now or clock.now()
    rules = get_settings().rules.stars
    checked = expired_members = expired_stars = 0
    for shard in range(rules.expiry_shards):
        for member_id in member_store.members_with_stars_expiring_by(shard, clock.rfc3339(now)):
            checked += 1
            lapsed = _expire_member(member_id, now)
            if lapsed:
                expired_members += 1
                expired_stars += lapsed
    run = ExpiryRun(members_checked=checked, members_expired=expired_members, stars_expired=expired_stars)
    logger.info("stars expiry run", extra=run.model_dump())
    return run


def _expire_member(member_id: str, now: datetime) -> int:
    rules = get_settings().rules.stars

    def attempt() -> int:
        member = member_store.get_member(member_id)
        if member is None:
            return 0
        after, lapsed = lapse_stars(member, now, rules)
        if lapsed == 0:
            return 0
        entry = member_entry(EXPIRY, after, "stars_expired", -lapsed, now, None)
        commit_member_entry(member, after, entry, None)
        return lapsed

    return retrying(attempt)
