"""The one clock every rule reads, so tests move time instead of sleeping or patching datetime."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class FixedClock:
    """A settable clock for tests and simulations; thread-safe."""

    def __init__(self, start: datetime) -> None:
        self._now = start.astimezone(timezone.utc)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._now += delta

    def set(self, when: datetime) -> None:
        with self._lock:
            self._now = when.astimezone(timezone.utc)


_clock: SystemClock | FixedClock = SystemClock()


def now() -> datetime:
    """Current time in UTC from the installed clock."""
    return _clock.now()


def use_clock(clock: SystemClock | FixedClock) -> None:
    """Install the clock every rule reads (tests install a FixedClock)."""
    global _clock
    _clock = clock


def rfc3339(moment: datetime) -> str:
    """RFC 3339 UTC with millisecond precision, e.g. 2026-11-23T10:35:04.123Z."""
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
