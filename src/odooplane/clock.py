"""One source of time, so schedules, windows, freezes and timeouts are testable with a fake clock."""

from __future__ import annotations

import datetime as dt
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> dt.datetime:
        """Return the current time, timezone-aware (UTC)."""
        ...

    def monotonic(self) -> float:
        """Return a monotonic number of seconds for measuring durations."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (a fake clock just advances)."""
        ...


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class FakeClock:
    """A clock that only moves when told to; ``sleep`` advances it instantly."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self._now = start or dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
        self._mono = 0.0

    def now(self) -> dt.datetime:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        self._now += dt.timedelta(seconds=seconds)
        self._mono += seconds

    def set(self, when: dt.datetime) -> None:
        self._now = when


def utcnow() -> dt.datetime:
    return current().now()


def wait_until(predicate: PredicateFn, *, timeout: float, interval: float = 0.05, clock: Clock | None = None) -> bool:
    """Poll ``predicate`` until it returns true or ``timeout`` seconds pass; return the last result.

    This is the only way the code waits for something to happen: a deadline, never a bare sleep.
    """
    clk = clock or SystemClock()
    deadline = clk.monotonic() + timeout
    while True:
        if predicate():
            return True
        if clk.monotonic() >= deadline:
            return False
        clk.sleep(interval)


class PredicateFn(Protocol):
    def __call__(self) -> bool: ...


class ShiftedClock(SystemClock):
    """Real time moved to start at a given instant (``ODOOPLANE_FAKE_NOW``): lets a whole process —
    the CLI, the worker — run as if it were another time, e.g. to fire a schedule in a test."""

    def __init__(self, start: dt.datetime) -> None:
        self._start = start
        self._origin = time.monotonic()

    def now(self) -> dt.datetime:
        return self._start + dt.timedelta(seconds=time.monotonic() - self._origin)


_current: Clock | None = None


def current() -> Clock:
    """The process's clock: the system clock, or a shifted one when ODOOPLANE_FAKE_NOW is set."""
    global _current  # noqa: PLW0603 - one clock per process
    if _current is None:
        import os

        fake = os.environ.get("ODOOPLANE_FAKE_NOW")
        if fake:
            start = dt.datetime.fromisoformat(fake)
            _current = ShiftedClock(start if start.tzinfo else start.replace(tzinfo=dt.UTC))
        else:
            _current = SystemClock()
    return _current
