"""Retention (pure): which backups to keep — the newest of each of the last N days, weeks and
months that have backups, as Odoo.sh and restic do — and which to forget. The newest backup and
the newest verified one are never forgotten; snapshots this estate cannot identify as its own are
never even considered (the caller passes only those)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from odooplane.estate.models import Retention


@dataclass(frozen=True)
class Candidate:
    id: str
    time: dt.datetime


@dataclass(frozen=True)
class Decision:
    keep: dict[str, list[str]]  # snapshot id -> why it is kept
    forget: list[str]


def _buckets(items: list[Candidate], count: int, key: Callable[[dt.datetime], object], *, tz: ZoneInfo,
             reason: str, keep: dict[str, list[str]]) -> None:
    seen: list[object] = []
    for item in items:  # newest first
        bucket = key(item.time.astimezone(tz))
        if bucket in seen:
            continue
        if len(seen) >= count:
            break
        seen.append(bucket)
        keep.setdefault(item.id, []).append(reason)


def decide(candidates: Iterable[Candidate], retention: Retention, *, timezone: str = "UTC",
           protected: Iterable[str] = ()) -> Decision:
    """Return what to keep (with the reasons) and what to forget."""
    tz = ZoneInfo(timezone)
    items = sorted(candidates, key=lambda c: c.time, reverse=True)
    keep: dict[str, list[str]] = {}
    if items:
        keep.setdefault(items[0].id, []).append("newest")
    _buckets(items, retention.daily, lambda t: t.date(), tz=tz, reason="daily", keep=keep)
    _buckets(items, retention.weekly, lambda t: t.isocalendar()[:2], tz=tz, reason="weekly", keep=keep)
    _buckets(items, retention.monthly, lambda t: (t.year, t.month), tz=tz, reason="monthly", keep=keep)
    ids = {c.id for c in items}
    for snapshot in protected:
        if snapshot in ids:
            keep.setdefault(snapshot, []).append("newest verified")
    return Decision(keep=keep, forget=[c.id for c in items if c.id not in keep])
