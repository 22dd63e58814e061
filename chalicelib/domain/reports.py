"""The daily channel report and the liability totals: their shapes and how ledger entries fold
into them. Pure: `entry_deltas` is the one place where a ledger entry turns into counter deltas,
`offline_deltas` where an offline till item's record does (the stream sums them per batch and adds
them to sharded counters, chalicelib/store/reports.py);
`channel_report` shapes what the API returns from the summed counters."""
from __future__ import annotations

from collections import defaultdict
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.domain.batches import OfflineItemRecord
from chalicelib.domain.ledger import Kind, LedgerEntry
from chalicelib.domain.money import Money
from chalicelib.domain.principals import Channel


# The counters every report row carries; a row may carry more named integer counters in `extra`,
# which are stored, summed over batches and shards, and read back exactly the same way.
STANDARD_COUNTERS = ("count", "amount", "stars")

# A store's offline till items are a row of their own kind (not a transaction kind): `count` is the
# items, the extra counter `uncollected` what they left unpaid (their payments are rows of `payment`).
OFFLINE = "offline"
UNCOLLECTED = "uncollected"


class ReportRow(BaseModel):
    """One counter of the daily report: every entry of one kind, channel, store and currency; or,
    with kind `offline`, a store's offline till items (count, and Σ uncollected in `extra`)."""

    model_config = ConfigDict(frozen=True)

    channel: Channel
    store_id: str | None
    kind: Kind | Literal["offline"]
    currency: str | None
    count: int
    amount: int
    stars: int
    extra: dict[str, int] = Field(default_factory=dict, description="further named integer counters")

    def label(self) -> tuple[str, str | None, str, str | None]:
        """What identifies the row (its counters are summed per label)."""
        return (self.channel, self.store_id, self.kind, self.currency)

    def counters(self) -> dict[str, int]:
        return {"count": self.count, "amount": self.amount, "stars": self.stars, **self.extra}

    def plus(self, other: "ReportRow") -> "ReportRow":
        """The two rows' counters summed (same label)."""
        extra = dict(self.extra)
        for name, value in other.extra.items():
            extra[name] = extra.get(name, 0) + value
        return self.model_copy(update={"count": self.count + other.count, "amount": self.amount + other.amount,
                                       "stars": self.stars + other.stars, "extra": extra})

    @classmethod
    def from_counters(cls, label: tuple[str, str | None, str, str | None], counters: dict[str, int]) -> "ReportRow":
        channel, store_id, kind, currency = label
        return cls(channel=channel, store_id=store_id, kind=kind, currency=currency,
                   count=counters.get("count", 0), amount=counters.get("amount", 0), stars=counters.get("stars", 0),
                   extra={name: value for name, value in counters.items() if name not in STANDARD_COUNTERS})


class LiabilityDelta(BaseModel):
    """What one entry (or a batch of them) moves the outstanding totals by."""

    model_config = ConfigDict(frozen=True)

    value: dict[str, int] = Field(default_factory=dict, description="per currency")
    stars: int = 0

    def plus(self, other: "LiabilityDelta") -> "LiabilityDelta":
        value = dict(self.value)
        for currency, amount in other.value.items():
            value[currency] = value.get(currency, 0) + amount
        return LiabilityDelta(value=value, stars=self.stars + other.stars)

    def is_zero(self) -> bool:
        return self.stars == 0 and not any(self.value.values())


class EntryDeltas(BaseModel):
    """The counter deltas of one ledger entry: its report row (on its UTC day) and the liability."""

    model_config = ConfigDict(frozen=True)

    day: str
    row: ReportRow
    liability: LiabilityDelta
    created_at: str


class KindTotal(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Kind
    count: int = Field(description="transactions of this kind")
    totals: list[Money] = Field(description="Σ signed amount per currency (empty for kinds that move no money)")
    stars: int = Field(description="Σ signed stars")


class OfflineTotals(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    count: int = Field(description="offline till items sent that day (applied, partial or declined; a duplicate "
                                   "is not a new item), counted on the day they were applied")
    uncollected: list[Money] = Field(description="Σ what those items left uncollected, per currency")


class StoreTotals(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    store_id: str
    kinds: list[KindTotal]
    offline: OfflineTotals | None = Field(None, description="the store's offline till items (pos only; null when "
                                                            "none that day). Their payments are also among `kinds`")


class ChannelTotals(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    channel: Channel
    kinds: list[KindTotal] = Field(description="the whole channel (all stores together)")
    stores: list[StoreTotals] = Field(description="the same per store, for transactions that name one "
                                                  "(every pos transaction; order-ahead payments name the pickup store)")


class ChannelReport(BaseModel):
    """GET /v1/reports/channels: one UTC day, per channel and per store."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    date: str
    channels: list[ChannelTotals]
    as_of: str | None = Field(description="created_at of the newest transaction counted for this day")


class Liability(BaseModel):
    """GET /v1/reports/liability: value and stars the programme owes its customers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    stored_value: list[Money] = Field(description="Σ card balances, per currency")
    stars: int = Field(description="Σ member stars")
    as_of: str | None = Field(description="created_at of the newest transaction reflected")


def report_day(created_at: str) -> str:
    """The UTC day (YYYY-MM-DD) an RFC 3339 UTC timestamp falls on."""
    return created_at[:10]


def row_of(entry: LedgerEntry) -> ReportRow:
    """The counter one ledger entry adds to (count 1, its signed amount and stars)."""
    return ReportRow(channel=entry.channel, store_id=entry.store_id, kind=entry.kind,
                     currency=entry.amount.currency if entry.amount else None, count=1,
                     amount=entry.amount.amount if entry.amount else 0, stars=entry.stars)


def entry_deltas(entry: LedgerEntry, owner_pk: str) -> EntryDeltas:
    """How one ledger entry moves the counters. The outstanding value is Σ card balances, and a
    card's balance is Σ its entries, so a card's entry (owner `CARD#…`) moves the value by its
    amount; a member's own entries (a purchase paid another way, a redemption, an expiry) move no
    stored value. Outstanding stars are Σ member stars = Σ the stars of every entry."""
    value = {entry.amount.currency: entry.amount.amount} if entry.amount and owner_pk.startswith("CARD#") else {}
    return EntryDeltas(day=report_day(entry.created_at), row=row_of(entry), created_at=entry.created_at,
                       liability=LiabilityDelta(value=value, stars=entry.stars))


def sum_rows(rows: list[ReportRow]) -> list[ReportRow]:
    """Rows with the same label summed into one (a batch's rows, or the shards' rows on read)."""
    summed: dict[tuple[str, str | None, str, str | None], ReportRow] = {}
    for row in rows:
        summed[row.label()] = summed[row.label()].plus(row) if row.label() in summed else row
    return list(summed.values())


def offline_deltas(record: OfflineItemRecord) -> EntryDeltas:
    """How one offline till item's record moves the counters: its store's offline row (count 1,
    its uncollected amount), on the UTC day it was recorded. It moves no liability: the payment it
    collected, if any, is a ledger entry of its own (entry_deltas)."""
    row = ReportRow(channel="pos", store_id=record.store_id, kind=OFFLINE, currency=record.currency, count=1,
                    amount=0, stars=0, extra={UNCOLLECTED: record.uncollected})
    return EntryDeltas(day=report_day(record.recorded_at), row=row, created_at=record.recorded_at,
                       liability=LiabilityDelta())


def channel_report(day: str, rows: list[ReportRow], as_of: str | None) -> ChannelReport:
    """Fold the day's counters into the report: per channel, per kind; and per store."""
    rows = sum_rows(rows)
    by_channel: dict[str, list[ReportRow]] = defaultdict(list)
    offline: dict[str, list[ReportRow]] = defaultdict(list)
    for row in rows:
        if row.kind == OFFLINE:
            offline[row.store_id or ""].append(row)
            continue
        by_channel[row.channel].append(row)
    for store in offline:
        by_channel.setdefault("pos", [])
    channels = []
    for channel in sorted(by_channel):
        channel_rows = by_channel[channel]
        by_store: dict[str, list[ReportRow]] = defaultdict(list)
        for row in channel_rows:
            if row.store_id is not None:
                by_store[row.store_id].append(row)
        channels.append(ChannelTotals(
            channel=channel, kinds=_kinds(channel_rows),
            stores=[StoreTotals(store_id=store, kinds=_kinds(by_store[store]),
                                offline=_offline(offline.get(store, [])) if channel == "pos" else None)
                    for store in sorted(by_store.keys() | (offline.keys() if channel == "pos" else set()))]))
    return ChannelReport(date=day, channels=channels, as_of=as_of)


def _offline(rows: list[ReportRow]) -> OfflineTotals | None:
    if not rows:
        return None
    uncollected: dict[str, int] = defaultdict(int)
    for row in rows:
        uncollected[row.currency or ""] += row.extra.get(UNCOLLECTED, 0)
    return OfflineTotals(count=sum(row.count for row in rows),
                         uncollected=[Money(amount=amount, currency=currency)
                                      for currency, amount in sorted(uncollected.items())])


def _kinds(rows: list[ReportRow]) -> list[KindTotal]:
    counts: dict[str, int] = defaultdict(int)
    stars: dict[str, int] = defaultdict(int)
    money: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in rows:
        counts[row.kind] += row.count
        stars[row.kind] += row.stars
        if row.currency is not None:
            money[row.kind][row.currency] += row.amount
    return [KindTotal(kind=kind, count=counts[kind], stars=stars[kind],
                      totals=[Money(amount=amount, currency=currency)
                              for currency, amount in sorted(money[kind].items())])
            for kind in sorted(counts)]
