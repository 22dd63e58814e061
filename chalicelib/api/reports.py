"""Reports: the daily channel report and the liability totals (stream views)."""
from __future__ import annotations

import datetime as dt

from chalice import Blueprint
from pydantic import Field, field_validator

from chalicelib.api import schemas
from chalicelib.api.http import Call, endpoint
from chalicelib.domain.reports import ChannelReport, Liability
from chalicelib.services import reports

bp = Blueprint(__name__)


class ReportDay(schemas.Query):
    date: str | None = Field(None, pattern=r"^\d{4}-\d{2}-\d{2}$", description="UTC day, YYYY-MM-DD (default today)")

    @field_validator("date")
    @classmethod
    def _real_day(cls, value: str | None) -> str | None:
        if value is not None:
            dt.date.fromisoformat(value)  # 2026-02-30 is a ValueError → 422
        return value


@endpoint(bp, "GET", "/v1/reports/channels",
          summary="Per channel (and per store): count and total of each transaction kind on one UTC day",
          query=ReportDay, response=ChannelReport, errors=(403, 422))
def channel_report(call: Call) -> ChannelReport:
    return reports.channels(call.principal, call.query.date)


@endpoint(bp, "GET", "/v1/reports/liability",
          summary="Outstanding stored value per currency and outstanding stars, as of the last processed change",
          response=Liability, errors=(403,))
def liability_report(call: Call) -> Liability:
    return reports.liability(call.principal)
