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
    return dt.datetime.now(dt.UTC)


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
