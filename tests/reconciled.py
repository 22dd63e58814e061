"""The invariant checker as the test suite calls it: after stateful tests, on moto.

    from tests.reconciled import assert_reconciled
    assert_reconciled(drain=drain)   # drain the stream first, then check ledger, views and history
"""
from __future__ import annotations

from datetime import timedelta
from typing import Callable

import boto3

from chalicelib.ops.reconcile import Report, Scope, check_once
from chalicelib.settings import get_settings

MAX_DRAINS = 10


def settle(drain: Callable[[], int]) -> None:
    """Drain until the stream is quiet (auto-reloads write entries whose records need a drain too)."""
    for _ in range(MAX_DRAINS):
        if not drain():
            return
    raise AssertionError(f"the stream did not settle after {MAX_DRAINS} drains")


def reconcile_now(*, drain: Callable[[], int] | None = None, views: bool | None = None, history: bool = True,
                  expiry_grace: timedelta | None = None) -> Report:
    """One pass of every invariant. Views are checked when the stream was drained (or views=True)."""
    if drain is not None:
        settle(drain)
    settings = get_settings()
    check_views = drain is not None if views is None else views
    return check_once(Scope(ledger_table=settings.ledger_table,
                            views_table=settings.views_table if check_views else None, rules=settings.rules,
                            streams_client=boto3.client("dynamodbstreams") if history else None,
                            expiry_grace=expiry_grace))


def assert_reconciled(**kwargs) -> Report:
    report = reconcile_now(**kwargs)
    assert report.ok, "\n" + report.render()
    return report
