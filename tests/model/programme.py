"""A plain-Python model of the card and loyalty programme, written from the contract and the rules
file — not from the implementation — for the model-based tests to run beside the real API.

Each operation returns what the API must answer (`Ok(status, body)` or `Refused(status, code)`)
and changes the model only when it succeeds."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from chalicelib.clock import rfc3339
from chalicelib.domain.holds import hold_id_for
from chalicelib.domain.ledger import tx_id_for
from chalicelib.settings import Rules


@dataclass(frozen=True)
class Actor:
    """A principal as the model sees it: its token and what its transactions record."""

    name: str
    token: str
    channel: str
    store_id: str | None = None
    agent_id: str | None = None
    member_id: str | None = None


@dataclass(frozen=True)
class Ok:
    status: int
    body: dict[str, Any]


@dataclass(frozen=True)
class Refused:
    status: int
    code: str


Outcome = Ok | Refused


@dataclass
class CardState:
    card_id: str
    member_id: str | None
    balance: int = 0
    status: str = "active"
    version: int = 1
    ledger_seq: int = 0
    reload_hour: str | None = None
    reloads_in_hour: int = 0
    reload_day: str | None = None
    reloaded_in_day: int = 0
    auto_reload: tuple[int, int] | None = None  # (threshold, amount)
    triggers: list[str] = field(default_factory=list)  # debits that left it below its threshold
    hold_seq: int = 0


@dataclass
class HoldState:
    hold_id: str
    card_id: str
    amount: int
    channel: str
    store_id: str | None
    expires_at: datetime
    created_at: datetime
    status: str = "held"  # held | captured | voided (expired is a matter of the clock)
    captured: int | None = None

    def shown_status(self, now: datetime) -> str:
        return "expired" if self.status == "held" and self.expires_at <= now else self.status

    def body(self, now: datetime) -> dict[str, Any]:
        return {"hold_id": self.hold_id, "card_id": self.card_id, "amount": money(self.amount),
                "status": self.shown_status(now), "captured": None if self.captured is None else money(self.captured),
                "channel": self.channel, "store_id": self.store_id, "order_ref": None,
                "expires_at": rfc3339(self.expires_at), "created_at": rfc3339(self.created_at)}


@dataclass
class MemberState:
    member_id: str
    lots: dict[datetime, int] = field(default_factory=dict)  # expires_at → stars
    earned: dict[tuple[int, int], int] = field(default_factory=dict)  # (year, month) → stars earned
    star_seq: int = 0


@dataclass
class PaymentState:
    tx_id: str
    card_id: str
    member_id: str | None
    store_id: str | None
    paid: int
    earned: int
    at: datetime
    refunded: int = 0


@dataclass
class PendingAdjustment:
    adjustment_id: str
    card_id: str | None
    member_id: str | None
    amount: int | None
    stars: int | None
    reason_code: str
    agent_id: str
    status: str = "pending_approval"


def money(amount: int) -> dict[str, Any]:
    return {"amount": amount, "currency": "USD"}


def expiry(moment: datetime) -> datetime:
    """Stars earned in a month are gone at the start of the seventh month after it (UTC zone)."""
    index = moment.year * 12 + moment.month - 1 + 7
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=timezone.utc)


class Programme:
    def __init__(self, rules: Rules) -> None:
        assert rules.stars.timezone == "UTC" and rules.stars.expiry_months == 6, "the model assumes the shipped rules"
        self.cap = rules.money.balance_cap
        self.reload_bounds = (rules.money.reload_min, rules.money.reload_max)
        self.reloads_per_hour = rules.limits.reloads_per_card_per_hour
        self.reload_per_day = rules.limits.reload_amount_per_card_per_day
        self.money_threshold = rules.approvals.money_threshold
        self.stars_threshold = rules.approvals.stars_threshold
        self.purchase_max = rules.limits.purchase_max
        # Σ |amount| (or |stars|) of what each agent adjusted without approval, per card or member and UTC day
        self.adjusted_alone: dict[tuple[str, str, str], int] = {}
        self.rewards = {reward.reward_id: reward.stars for reward in rules.stars.rewards}
        self.cards: dict[str, CardState] = {}
        self.members: dict[str, MemberState] = {}
        self.payments: list[PaymentState] = []
        self.adjustments: dict[str, PendingAdjustment] = {}
        self.offline_items: dict[tuple[str, str], dict[str, Any]] = {}  # (till, item_key) → first result
        self.holds: dict[str, HoldState] = {}
        self.open_holds_per_card = rules.money.open_holds_per_card

    # --- holds -----------------------------------------------------------------------------

    def held(self, card_id: str, now: datetime) -> int:
        return sum(hold.amount for hold in self.holds.values()
                   if hold.card_id == card_id and hold.shown_status(now) == "held")

    def spendable(self, card_id: str, now: datetime) -> int:
        return self.cards[card_id].balance - self.held(card_id, now)

    # --- stars -----------------------------------------------------------------------------

    def available(self, member_id: str, now: datetime) -> int:
        return sum(stars for at, stars in self.members[member_id].lots.items() if at > now)

    def _gold(self, member: MemberState, now: datetime) -> bool:
        here = now.year * 12 + now.month - 1
        window = {((here - back) // 12, (here - back) % 12 + 1) for back in range(12)}
        return sum(stars for month, stars in member.earned.items() if month in window) >= 500

    def _earn(self, member_id: str, amount: int, rate: int, now: datetime) -> int:
        member = self.members[member_id]
        stars = amount * rate * 12 // 1000 if self._gold(member, now) else amount * rate // 100
        if stars:
            member.lots[expiry(now)] = member.lots.get(expiry(now), 0) + stars
            month = (now.year, now.month)
            member.earned[month] = member.earned.get(month, 0) + stars
        return stars

    def _spend(self, member_id: str, stars: int, now: datetime) -> None:
        lots = self.members[member_id].lots
        for at in sorted(lots):
            if at > now and stars:
                part = min(stars, lots[at])
                lots[at] -= part
                stars -= part
        self._drop_empty(member_id)

    def _take_back(self, member_id: str, stars: int, now: datetime, prefer: datetime) -> int:
        lots = self.members[member_id].lots
        owed = taken = min(stars, self.available(member_id, now))
        for at in sorted(lots, key=lambda at: (at != prefer, -at.timestamp())):
            if at > now and owed:
                part = min(owed, lots[at])
                lots[at] -= part
                owed -= part
        self._drop_empty(member_id)
        return taken

    def _drop_empty(self, member_id: str) -> None:
        member = self.members[member_id]
        member.lots = {at: stars for at, stars in member.lots.items() if stars > 0}

    def expire(self, now: datetime) -> int:
        """The daily run: every expired lot written off, one stars_expired entry per member."""
        lapsed_total = 0
        for member in self.members.values():
            lapsed = sum(stars for at, stars in member.lots.items() if at <= now)
            if lapsed:
                member.lots = {at: stars for at, stars in member.lots.items() if at > now}
                member.star_seq += 1
                lapsed_total += lapsed
        return lapsed_total

    # --- transactions as the API shows them ---------------------------------------------------

    def _card_tx(self, card: CardState, kind: str, delta: int, actor: Actor, now: datetime, **fields: Any) -> dict:
        card.balance += delta
        card.version += 1
        card.ledger_seq += 1
        return {"tx_id": tx_id_for(card.card_id, card.ledger_seq), "card_id": card.card_id,
                "member_id": card.member_id, "kind": kind, "amount": money(delta),
                "balance_after": money(card.balance), "stars": 0, "stars_after": None, "channel": actor.channel,
                "store_id": actor.store_id, "agent_id": actor.agent_id, "reason_code": None, "reverses": None,
                "created_at": rfc3339(now), "stars_shortfall": 0, "hold_id": None, "offline": False,
                "occurred_at": None, **fields}

    def _member_tx(self, member_id: str, kind: str, stars: int, actor: Actor, now: datetime, **fields: Any) -> dict:
        member = self.members[member_id]
        member.star_seq += 1
        return {"tx_id": tx_id_for(member_id, member.star_seq), "card_id": None, "member_id": member_id, "kind": kind,
                "amount": None, "balance_after": None, "stars": stars, "stars_after": self.available(member_id, now),
                "channel": actor.channel, "store_id": actor.store_id, "agent_id": actor.agent_id,
                "reason_code": None, "reverses": None, "created_at": rfc3339(now), "stars_shortfall": 0,
                "hold_id": None, "offline": False, "occurred_at": None, **fields}

    def _debited(self, card: CardState, tx: dict) -> None:
        if card.auto_reload and card.status == "active" and card.balance < card.auto_reload[0]:
            card.triggers.append(tx["tx_id"])

    # --- operations ---------------------------------------------------------------------------

    def reload(self, card_id: str, amount: int, actor: Actor, now: datetime, kind: str = "reload") -> Outcome:
        card = self.cards[card_id]
        if card.status != "active":
            return Refused(409, "card_not_active")
        if not self.reload_bounds[0] <= amount <= self.reload_bounds[1]:
            return Refused(422, "limit_exceeded")
        hour, day = now.strftime("%Y-%m-%dT%H"), now.strftime("%Y-%m-%d")
        reloads = card.reloads_in_hour if card.reload_hour == hour else 0
        reloaded = card.reloaded_in_day if card.reload_day == day else 0
        if reloads + 1 > self.reloads_per_hour or reloaded + amount > self.reload_per_day:
            return Refused(422, "limit_exceeded")
        if card.balance + amount > self.cap:
            return Refused(422, "limit_exceeded")
        card.reload_hour, card.reloads_in_hour, card.reload_day, card.reloaded_in_day = hour, reloads + 1, day, \
            reloaded + amount
        return Ok(201, self._card_tx(card, kind, amount, actor, now))

    def pay(self, card_id: str, amount: int, actor: Actor, now: datetime, pickup: str | None = None) -> Outcome:
        card = self.cards[card_id]
        if card.status != "active":
            return Refused(409, "card_not_active")
        if amount > self.spendable(card_id, now):
            return Refused(409, "insufficient_funds")
        return Ok(201, self._payment(card, amount, actor, now, actor.store_id or pickup))

    def _payment(self, card: CardState, amount: int, actor: Actor, now: datetime, store_id: str | None,
                 **fields: Any) -> dict:
        if card.member_id is None:
            tx = self._card_tx(card, "payment", -amount, actor, now, store_id=store_id, **fields)
            earned = 0
        else:
            earned = self._earn(card.member_id, amount, 2, now)
            tx = self._card_tx(card, "payment", -amount, actor, now, store_id=store_id, stars=earned,
                               stars_after=self.available(card.member_id, now), **fields)
        self.payments.append(PaymentState(tx["tx_id"], card.card_id, card.member_id, store_id, amount, earned, now))
        self._debited(card, tx)
        return tx

    def place_hold(self, card_id: str, amount: int, actor: Actor, now: datetime, store_id: str | None,
                   expires_in: int) -> Outcome:
        card = self.cards[card_id]
        if card.status != "active":
            return Refused(409, "card_not_active")
        if amount > self.spendable(card_id, now):
            return Refused(409, "insufficient_funds")
        if sum(1 for h in self.holds.values() if h.card_id == card_id and h.shown_status(now) == "held") \
                >= self.open_holds_per_card:
            return Refused(422, "limit_exceeded")
        card.hold_seq += 1
        card.version += 1
        hold = HoldState(hold_id_for(card_id, card.hold_seq), card_id, amount, actor.channel, store_id,
                         now + timedelta(seconds=expires_in), now)
        self.holds[hold.hold_id] = hold
        return Ok(201, hold.body(now))

    def capture(self, hold_id: str, amount: int | None, actor: Actor, now: datetime) -> Outcome:
        hold = self.holds[hold_id]
        card = self.cards[hold.card_id]
        if hold.shown_status(now) != "held":
            return Refused(409, "hold_not_active")
        if card.status != "active":
            return Refused(409, "card_not_active")
        value = hold.amount if amount is None else amount
        if value > hold.amount:
            return Refused(422, "limit_exceeded")
        hold.status, hold.captured = "captured", value
        return Ok(201, self._payment(card, value, actor, now, hold.store_id, hold_id=hold_id))

    def void(self, hold_id: str, now: datetime) -> Outcome:
        hold = self.holds[hold_id]
        if hold.status == "voided":
            return Ok(200, hold.body(now))
        if hold.shown_status(now) != "held":
            return Refused(409, "hold_not_active")
        hold.status = "voided"
        self.cards[hold.card_id].version += 1
        return Ok(200, hold.body(now))

    def offline_batch(self, sales: list[tuple[str, str | None, int, datetime]], actor: Actor, now: datetime) -> Outcome:
        """An offline till's batch: sales (item_key, card_id or None for an unknown card, amount, occurred_at),
        applied oldest first (ties as sent), each once per till and item_key. Problems without their detail."""
        keys = [sale[0] for sale in sales]
        if len(set(keys)) != len(keys):
            return Refused(422, "validation_error")
        results: dict[int, dict[str, Any]] = {}
        for index in sorted(range(len(sales)), key=lambda i: sales[i][3]):
            key, card_id, amount, occurred = sales[index]
            if (actor.name, key) in self.offline_items:
                results[index] = {**self.offline_items[(actor.name, key)], "status": "duplicate"}
                continue
            card = self.cards.get(card_id) if card_id else None
            if not now - timedelta(days=7) <= occurred <= now + timedelta(minutes=5):
                code = "validation_error"
            elif card is None:
                code = "not_found"
            elif card.status != "active":
                code = "card_not_active"
            else:
                code = None if amount <= self.spendable(card.card_id, now) else "insufficient_funds"
            # an item pays from what the card can spend (its balance less unexpired holds), never below zero
            collected = max(0, min(amount, self.spendable(card.card_id, now))) if code in (None, "insufficient_funds") \
                else 0
            tx = None
            if collected:
                fields = {"store_id": actor.store_id, "offline": True, "occurred_at": rfc3339(occurred)}
                earned = 0
                if card.member_id is None:
                    tx = self._card_tx(card, "payment", -collected, actor, now, **fields)
                else:
                    earned = self._earn(card.member_id, collected, 2, now)
                    tx = self._card_tx(card, "payment", -collected, actor, now, stars=earned,
                                       stars_after=self.available(card.member_id, now), **fields)
                self.payments.append(PaymentState(tx["tx_id"], card.card_id, card.member_id, actor.store_id,
                                                  collected, earned, now))
                self._debited(card, tx)
            status = "applied" if collected == amount else "partial" if collected else "declined"
            result = {"item_key": key, "status": status, "transaction": tx, "uncollected": money(amount - collected),
                      "problem": {"code": code} if code else None}
            self.offline_items[(actor.name, key)] = result
            results[index] = result
        return Ok(200, {"results": [results[index] for index in range(len(sales))]})

    def purchase(self, member_id: str, amount: int, actor: Actor, now: datetime) -> Outcome:
        if actor.channel != "pos":
            return Refused(403, "forbidden")
        if amount > self.purchase_max:
            return Refused(422, "limit_exceeded")
        stars = self._earn(member_id, amount, 1, now)
        return Ok(201, self._member_tx(member_id, "purchase", stars, actor, now, amount=money(amount)))

    def redeem(self, member_id: str, reward_id: str, actor: Actor, now: datetime) -> Outcome:
        cost = self.rewards[reward_id]
        if self.available(member_id, now) < cost:
            return Refused(409, "insufficient_stars")
        self._spend(member_id, cost, now)
        return Ok(201, self._member_tx(member_id, "redemption", -cost, actor, now))

    def transfer(self, source_id: str, target_id: str, amount: int | None, actor: Actor, now: datetime) -> Outcome:
        source, target = self.cards[source_id], self.cards[target_id]
        if target.status != "active":
            return Refused(409, "card_not_active")
        available = self.spendable(source_id, now)
        value = available if amount is None else amount
        if value <= 0 or value > available:
            return Refused(409, "insufficient_funds")
        if target.balance + value > self.cap:
            return Refused(422, "limit_exceeded")
        out = self._card_tx(source, "transfer_out", -value, actor, now)
        into = self._card_tx(target, "transfer_in", value, actor, now)
        self._debited(source, out)
        return Ok(201, {"out": out, "in": into})

    def refund(self, payment: PaymentState, amount: int | None, actor: Actor, now: datetime) -> Outcome:
        card = self.cards[payment.card_id]
        remaining = payment.paid - payment.refunded
        value = remaining if amount is None else amount
        if remaining <= 0 or value > remaining:
            return Refused(409, "already_refunded")
        if card.balance + value > self.cap:
            return Refused(422, "limit_exceeded")
        due = (payment.earned * (payment.refunded + value) // payment.paid
               - payment.earned * payment.refunded // payment.paid)
        taken, stars_after = 0, None
        if due and payment.member_id:
            taken = self._take_back(payment.member_id, due, now, expiry(payment.at))
            earned = self.members[payment.member_id].earned  # refunded spend leaves the tier tally, spent or not
            month = (payment.at.year, payment.at.month)
            if month in earned:
                earned[month] = max(0, earned[month] - due)
            stars_after = self.available(payment.member_id, now)
        payment.refunded += value
        return Ok(201, self._card_tx(card, "refund", value, actor, now, store_id=payment.store_id,
                                     reverses=payment.tx_id, stars=-taken, stars_after=stars_after,
                                     stars_shortfall=due - taken))

    def set_status(self, card_id: str, status: str) -> Outcome:
        card = self.cards[card_id]
        if card.status != status:
            card.status = status
            card.version += 1
        return Ok(200, {"status": card.status, "version": card.version})

    def _past_daily_limit(self, subject: str, size: int, limit: int, actor: Actor, now: datetime) -> bool:
        """Would this unapproved adjustment take its agent's sum on `subject` today past `limit`?"""
        return self.adjusted_alone.get((actor.agent_id, subject, now.strftime("%Y-%m-%d")), 0) + abs(size) > limit

    def _count_alone(self, subject: str, size: int, actor: Actor, now: datetime) -> None:
        key = (actor.agent_id, subject, now.strftime("%Y-%m-%d"))
        self.adjusted_alone[key] = self.adjusted_alone.get(key, 0) + abs(size)

    def adjust_card(self, card_id: str, amount: int, reason: str, actor: Actor, now: datetime,
                    requester: str | None = None) -> Outcome:
        card = self.cards[card_id]
        available = self.spendable(card_id, now)  # a negative adjustment never eats into held money
        if available + amount < 0 and requester is None and abs(amount) <= self.money_threshold:
            return Refused(409, "insufficient_funds")
        if card.balance + amount > self.cap and requester is None and abs(amount) <= self.money_threshold:
            return Refused(422, "limit_exceeded")
        if requester is None and (abs(amount) > self.money_threshold
                                  or self._past_daily_limit(card_id, amount, self.money_threshold, actor, now)):
            return Ok(202, {"status": "pending_approval", "card_id": card_id, "member_id": card.member_id,
                            "amount": money(amount), "reason_code": reason, "agent_id": actor.agent_id})
        if available + amount < 0:
            return Refused(409, "insufficient_funds")
        if card.balance + amount > self.cap:
            return Refused(422, "limit_exceeded")
        if requester is None:
            self._count_alone(card_id, amount, actor, now)
        tx = self._card_tx(card, "adjustment", amount, actor, now, reason_code=reason,
                           agent_id=requester or actor.agent_id)
        if amount < 0:
            self._debited(card, tx)
        return Ok(201 if requester is None else 200, tx)

    def adjust_stars(self, member_id: str, stars: int, reason: str, actor: Actor, now: datetime,
                     requester: str | None = None) -> Outcome:
        small = requester is None and abs(stars) <= self.stars_threshold
        if small and stars < 0 and self.available(member_id, now) < -stars:
            return Refused(409, "insufficient_stars")
        if requester is None and (abs(stars) > self.stars_threshold
                                  or self._past_daily_limit(member_id, stars, self.stars_threshold, actor, now)):
            return Ok(202, {"status": "pending_approval", "card_id": None, "member_id": member_id, "stars": stars,
                            "reason_code": reason, "agent_id": actor.agent_id})
        member = self.members[member_id]
        if requester is None:
            self._count_alone(member_id, stars, actor, now)
        if stars < 0:
            if self.available(member_id, now) < -stars:
                return Refused(409, "insufficient_stars")
            self._spend(member_id, -stars, now)
        else:
            member.lots[expiry(now)] = member.lots.get(expiry(now), 0) + stars  # not counted toward the tier
        return Ok(201 if requester is None else 200,
                  self._member_tx(member_id, "adjustment", stars, actor, now, reason_code=reason,
                                  agent_id=requester or actor.agent_id))

    def approve(self, adjustment_id: str, actor: Actor, now: datetime) -> Outcome:
        pending = self.adjustments[adjustment_id]
        if pending.status != "pending_approval":
            return Refused(409, "already_decided")
        if pending.card_id is not None:
            outcome = self.adjust_card(pending.card_id, pending.amount, pending.reason_code, actor, now,
                                       requester=pending.agent_id)
        else:
            outcome = self.adjust_stars(pending.member_id, pending.stars, pending.reason_code, actor, now,
                                        requester=pending.agent_id)
        if isinstance(outcome, Ok):
            pending.status = "approved"
        return outcome

    def reject(self, adjustment_id: str) -> Outcome:
        pending = self.adjustments[adjustment_id]
        if pending.status != "pending_approval":
            return Refused(409, "already_decided")
        pending.status = "rejected"
        return Ok(200, {"adjustment_id": adjustment_id, "status": "rejected"})

    def set_auto_reload(self, card_id: str, threshold: int, amount: int) -> Outcome:
        card = self.cards[card_id]
        if card.auto_reload != (threshold, amount):
            card.auto_reload = (threshold, amount)
            card.version += 1
        return Ok(200, {"auto_reload": {"threshold": money(threshold), "amount": money(amount)},
                        "version": card.version})

    def follow_auto_reloads(self, system: Actor, now: datetime) -> list[dict]:
        """What the stream handler does once drained: one auto_reload per triggering debit, if the
        card still needs it then (active, auto-reload on, below its threshold) and the rules allow it."""
        done = []
        for card in self.cards.values():
            triggers, card.triggers = card.triggers, []
            for _ in triggers:
                if card.auto_reload is None or card.status != "active" or card.balance >= card.auto_reload[0]:
                    continue
                outcome = self.reload(card.card_id, card.auto_reload[1], system, now, kind="auto_reload")
                if isinstance(outcome, Ok):
                    done.append(outcome.body)
        return done
