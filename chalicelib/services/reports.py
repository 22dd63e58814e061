"""Reports for supervisors and back-office services, read from the stream-kept counters."""
from __future__ import annotations

from chalicelib import clock
from chalicelib.domain.money import Money
from chalicelib.domain.principals import Principal, require_role
from chalicelib.domain.reports import ChannelReport, Liability, channel_report
from chalicelib.store import reports as report_store


def channels(principal: Principal, day: str | None) -> ChannelReport:
    """Count and total of each transaction kind per channel and store on `day` (UTC; default today)."""
    require_role(principal, "supervisor", "service")
    day = day or clock.now().date().isoformat()
    rows, as_of = report_store.read_report(day)
    return channel_report(day, rows, as_of)


def liability(principal: Principal) -> Liability:
    """Outstanding stored value per currency and outstanding stars, as of the last processed change."""
    require_role(principal, "supervisor", "service")
    value, stars, as_of = report_store.read_liability()
    return Liability(stored_value=[Money(amount=amount, currency=currency) for currency, amount in sorted(value.items())],
                     stars=stars, as_of=as_of)
