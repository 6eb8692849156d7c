"""Sleep schedules (pure): whether an environment is meant to be awake at an instant — its awake
hours on its days, in its time zone, except its country's public holidays — and when that next
changes."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

from odooplane.estate.models import Schedule

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@lru_cache(maxsize=64)
def _calendar(code: str, year: int) -> frozenset[dt.date]:
    import holidays

    country, _, subdivision = code.partition("-")
    return frozenset(holidays.country_holidays(country, subdiv=subdivision or None, years=year))


def holiday(schedule: Schedule, day: dt.date) -> bool:
    return bool(schedule.holidays) and day in _calendar(schedule.holidays or "", day.year)


def awake(schedule: Schedule, at: dt.datetime) -> bool:
    local = at.astimezone(ZoneInfo(schedule.timezone))
    if DAYS[local.weekday()] not in schedule.days or holiday(schedule, local.date()):
        return False
    return schedule.start <= local.strftime("%H:%M") < schedule.end


def next_change(schedule: Schedule, at: dt.datetime) -> dt.datetime | None:
    """The first instant after ``at`` when :func:`awake` changes (None: not within 400 days)."""
    zone = ZoneInfo(schedule.timezone)
    now = awake(schedule, at)
    day = at.astimezone(zone).date()
    for _ in range(400):
        for clock in (schedule.start, schedule.end):
            hour, minute = int(clock[:2]), int(clock[3:])
            instant = dt.datetime.combine(day, dt.time(hour, minute), tzinfo=zone).astimezone(dt.UTC)
            if instant > at and awake(schedule, instant) != now:
                return instant
        day += dt.timedelta(days=1)
    return None
