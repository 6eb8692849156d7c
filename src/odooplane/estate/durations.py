"""Durations written the way people write them in estate files: 90s, 15m, 1h, 2d, 1h30m."""

from __future__ import annotations

import datetime as dt
import re

_PART = re.compile(r"([0-9]+)([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
MAX_DAYS = 3660  # ten years and a bit: longer is a typo, and far below timedelta's own limit
_MAX_SECONDS = MAX_DAYS * 86400
_MAX_DIGITS = 12  # per part: enough for any duration below the maximum in seconds


def parse(text: str) -> dt.timedelta:
    """Parse ``15m``, ``1h30m``, ``2d``; raise ValueError otherwise (also beyond ``MAX_DAYS``).

    Always ValueError, never OverflowError: the value is checked before timedelta sees it.
    """
    shown = repr(text) if len(text) <= 40 else repr(text[:37] + "...")
    cleaned = text.strip().lower()
    if not cleaned or _PART.sub("", cleaned):
        raise ValueError(f"{shown} is not a duration (like 30s, 15m, 1h, 1h30m, 2d)")
    seconds = 0
    for number, unit in _PART.findall(cleaned):
        digits = number.lstrip("0") or "0"
        if len(digits) > _MAX_DIGITS:
            seconds = _MAX_SECONDS + 1
            break
        seconds += int(digits) * _UNITS[unit]
    if seconds > _MAX_SECONDS:
        raise ValueError(f"{shown} is longer than the longest duration accepted ({MAX_DAYS}d)")
    return dt.timedelta(seconds=seconds)


def format(delta: dt.timedelta) -> str:
    seconds = int(delta.total_seconds())
    out = ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            out += f"{seconds // size}{unit}"
            seconds %= size
    return out or "0s"
