"""The daily channel report and the liability totals: their shapes and how ledger entries fold
into them. Pure; the stream keeps the counters, these functions shape what the API returns."""
from __future__ import annotations

from collections import defaultdict

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.domain.ledger import Kind, LedgerEntry
from chalicelib.domain.money import Money
from chalicelib.domain.principals import Channel


class ReportRow(BaseModel):
    """One counter of the daily report: every entry of one kind, channel, store and currency."""

    model_config = ConfigDict(frozen=True)

    channel: Channel
    store_id: str | None
    kind: Kind
    currency: str | None
    count: int
    amount: int
    stars: int


class KindTotal(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Kind
    count: int = Field(description="transactions of this kind")
    totals: list[Money] = Field(description="Σ signed amount per currency (empty for kinds that move no money)")
    stars: int = Field(description="Σ signed stars")


class StoreTotals(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    store_id: str
    kinds: list[KindTotal]


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
    as_of: str | None = Field(description="updated_at of the newest card or member change reflected")


def report_day(created_at: str) -> str:
    """The UTC day (YYYY-MM-DD) an RFC 3339 UTC timestamp falls on."""
    return created_at[:10]


def row_of(entry: LedgerEntry) -> ReportRow:
    """The counter one ledger entry adds to (count 1, its signed amount and stars)."""
    return ReportRow(channel=entry.channel, store_id=entry.store_id, kind=entry.kind,
                     currency=entry.amount.currency if entry.amount else None, count=1,
                     amount=entry.amount.amount if entry.amount else 0, stars=entry.stars)


def channel_report(day: str, rows: list[ReportRow], as_of: str | None) -> ChannelReport:
    """Fold the day's counters into the report: per channel, per kind; and per store."""
    by_channel: dict[str, list[ReportRow]] = defaultdict(list)
    for row in rows:
        by_channel[row.channel].append(row)
    channels = []
    for channel in sorted(by_channel):
        channel_rows = by_channel[channel]
        by_store: dict[str, list[ReportRow]] = defaultdict(list)
        for row in channel_rows:
            if row.store_id is not None:
                by_store[row.store_id].append(row)
        channels.append(ChannelTotals(
            channel=channel, kinds=_kinds(channel_rows),
            stores=[StoreTotals(store_id=store, kinds=_kinds(by_store[store])) for store in sorted(by_store)]))
    return ChannelReport(date=day, channels=channels, as_of=as_of)


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
