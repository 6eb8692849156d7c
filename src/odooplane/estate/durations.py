"""Durations written the way people write them in estate files: 90s, 15m, 1h, 2d, 1h30m."""

from __future__ import annotations

import datetime as dt
import re

_PART = re.compile(r"(\d+)([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse(text: str) -> dt.timedelta:
    """Parse ``15m``, ``1h30m``, ``2d``; raise ValueError otherwise."""
    cleaned = text.strip().lower()
    if not cleaned or _PART.sub("", cleaned):
        raise ValueError(f"{text!r} is not a duration (like 30s, 15m, 1h, 1h30m, 2d)")
    return dt.timedelta(seconds=sum(int(n) * _UNITS[u] for n, u in _PART.findall(cleaned)))


def format(delta: dt.timedelta) -> str:
    seconds = int(delta.total_seconds())
    out = ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            out += f"{seconds // size}{unit}"
            seconds %= size
    return out or "0s"
