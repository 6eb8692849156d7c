"""Cron expressions (five fields: minute hour day-of-month month day-of-week) evaluated in a time
zone — for backup schedules and windows. Pure: the clock is passed in."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7))
_NAMES = {
    3: {n: i for i, n in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov",
                                    "dec"], start=1)},
    4: {n: i for i, n in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])},
}
_ALIASES = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *"}


@dataclass(frozen=True)
class Cron:
    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool
    any_weekday: bool

    def matches(self, when: dt.datetime) -> bool:
        if when.minute not in self.minutes or when.hour not in self.hours or when.month not in self.months:
            return False
        weekday = (when.weekday() + 1) % 7
        day_ok, weekday_ok = when.day in self.days, weekday in self.weekdays
        if self.any_day and self.any_weekday:
            return True
        if self.any_day:
            return weekday_ok
        if self.any_weekday:
            return day_ok
        return day_ok or weekday_ok  # classic cron: either restriction matches


def _value(text: str, index: int) -> int:
    names = _NAMES.get(index, {})
    if text.lower() in names:
        return names[text.lower()]
    if not (text.isascii() and text.isdigit()) or len(text) > 4:  # every field fits in 4 digits
        raise ValueError(f"{text[:20]!r} is not a number (0 to 9999)")
    return int(text)


def _field(text: str, index: int) -> set[int]:
    name, low, high = _FIELDS[index]
    out: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        if step_text and not (step_text.isascii() and step_text.isdigit() and 0 < len(step_text) <= 4
                              and int(step_text) >= 1):
            raise ValueError(f"{name}: step {step_text[:20]!r} must be a positive number")
        step = int(step_text) if step_text else 1
        if base == "*":
            start, end = low, high
        elif "-" in base:
            a, b = base.split("-", 1)
            start, end = _value(a, index), _value(b, index)
        else:
            start = _value(base, index)
            end = high if step_text else start
        if not (low <= start <= high and low <= end <= high) or start > end:
            raise ValueError(f"{name}: {part!r} is outside {low}-{high}")
        out.update(range(start, end + 1, step))
    if index == 4 and 7 in out:
        out.discard(7)
        out.add(0)
    return out


def parse(expression: str) -> Cron:
    """Parse a five-field cron expression (or @hourly/@daily/@weekly/@monthly); raise ValueError
    naming the field that is wrong."""
    text = _ALIASES.get(expression.strip(), expression.strip())
    parts = text.split()
    if len(parts) != 5:
        raise ValueError(f"{expression!r} needs five fields (minute hour day-of-month month day-of-week)")
    fields = [_field(p, i) for i, p in enumerate(parts)]
    return Cron(expression, frozenset(fields[0]), frozenset(fields[1]), frozenset(fields[2]), frozenset(fields[3]),
                frozenset(fields[4]), parts[2] == "*", parts[4] == "*")


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{name!r} is not a time zone (e.g. Europe/Paris, UTC)") from exc


def next_after(cron: Cron, after: dt.datetime, tz: str) -> dt.datetime:
    """The first time strictly after ``after`` (aware) that matches, in UTC."""
    local = after.astimezone(zone(tz)).replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    for _ in range(366 * 24 * 60):
        if cron.matches(local):
            return local.astimezone(dt.UTC)
        local += dt.timedelta(minutes=1)
    raise ValueError(f"{cron.expression!r} never matches")


def last_at_or_before(cron: Cron, when: dt.datetime, tz: str) -> dt.datetime | None:
    """The latest matching time at or before ``when`` within the last 366 days (UTC)."""
    local = when.astimezone(zone(tz)).replace(second=0, microsecond=0)
    for _ in range(366 * 24 * 60):
        if cron.matches(local):
            return local.astimezone(dt.UTC)
        local -= dt.timedelta(minutes=1)
    return None
