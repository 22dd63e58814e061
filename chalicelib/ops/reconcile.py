"""The operator's check that money and stars are exact: read the tables, run every invariant,
print a per-invariant summary. Used by `omnicard reconcile` and by the test suite.

On a live stage a Scan is not a snapshot, and the views trail the ledger by the stream's lag, so a
breach found in the first pass is confirmed by later passes: only breaches that persist count."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from chalicelib import clock
from chalicelib.ops import invariants, snapshot
from chalicelib.ops.invariants import Breach, Context, Outcome
from chalicelib.domain.rules import Rules


@dataclass(frozen=True)
class Scope:
    """What to read: the two tables (views None = skip the view checks), the rules the stage runs
    with, and optionally a DynamoDB Streams client to check the change history too."""

    ledger_table: str
    views_table: str | None
    rules: Rules
    streams_client: Any = None
    expiry_grace: timedelta | None = None
    segments: int = 1


@dataclass
class Report:
    outcomes: list[Outcome]
    items_read: int
    passes: int = 1
    tables: tuple[str, ...] = field(default_factory=tuple)

    @property
    def breaches(self) -> int:
        return sum(len(outcome.breaches) for outcome in self.outcomes)

    @property
    def ok(self) -> bool:
        return self.breaches == 0

    def render(self, shown_per_invariant: int = 10) -> str:
        lines = [f"omnicard reconcile: {', '.join(self.tables)} — {self.items_read} items read, "
                 f"{self.passes} pass{'es' if self.passes > 1 else ''}"]
        width = max(len(outcome.invariant) for outcome in self.outcomes)
        for outcome in self.outcomes:
            if outcome.skipped:
                lines.append(f"  SKIP    {outcome.invariant:<{width}}  {outcome.skipped}")
                continue
            status = "BREACH" if outcome.breaches else "ok"
            count = f", {len(outcome.breaches)} breach{'es' if len(outcome.breaches) != 1 else ''}" \
                if outcome.breaches else ""
            lines.append(f"  {status:<7} {outcome.invariant:<{width}}  {outcome.checked} {outcome.unit}{count}")
            for breach in outcome.breaches[:shown_per_invariant]:
                lines.append(f"          {breach.subject}: {breach.detail}")
            if len(outcome.breaches) > shown_per_invariant:
                lines.append(f"          … and {len(outcome.breaches) - shown_per_invariant} more")
        breached = sum(1 for outcome in self.outcomes if outcome.breaches)
        lines.append(f"{breached} invariant{'s' if breached != 1 else ''} breached" if breached
                     else "all invariants hold")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "items_read": self.items_read, "passes": self.passes, "invariants": [
            {"invariant": o.invariant, "checked": o.checked, "unit": o.unit, "skipped": o.skipped,
             "breaches": [{"subject": b.subject, "detail": b.detail} for b in o.breaches]} for o in self.outcomes]}


def check_once(scope: Scope) -> Report:
    """One pass: read everything, run every invariant."""
    taken = snapshot.take(scope.ledger_table, scope.views_table, clock.now(),
                          streams_client=scope.streams_client, segments=scope.segments)
    outcomes = invariants.run_all(Context(taken, scope.rules, scope.expiry_grace))
    tables = (scope.ledger_table,) + ((scope.views_table,) if scope.views_table else ())
    return Report(outcomes, taken.items_read, tables=tables)


def reconcile(scope: Scope, *, confirm_passes: int = 0, confirm_delay: float = 2.0) -> Report:
    """Check every invariant; a breach counts only if each of `confirm_passes` later passes (taken
    `confirm_delay` seconds apart) finds it too — in-flight writes and stream lag settle meanwhile."""
    report = check_once(scope)
    for _ in range(confirm_passes):
        if report.ok:
            break
        time.sleep(confirm_delay)
        again = check_once(scope)
        for outcome, later in zip(report.outcomes, again.outcomes):
            persisting = {breach.subject for breach in later.breaches}
            outcome.breaches = [breach for breach in outcome.breaches if breach.subject in persisting]
        report.items_read += again.items_read
        report.passes += 1
    return report


__all__ = ["Breach", "Outcome", "Report", "Scope", "check_once", "reconcile"]
