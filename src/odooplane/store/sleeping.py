"""Each environment's sleep and wake as events: the newest asleep/awake is its state; a wake
request keeps it awake until its ``until``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass

import sqlalchemy as sa

from odooplane.store import tables
from odooplane.store.db import Store, aware, now


@dataclass(frozen=True)
class State:
    target: str
    asleep: bool
    since: dt.datetime
    awake_until: dt.datetime | None  # the newest wake request's end, if one was made


def add(store: Store, target: str, state: str, *, actor: str, until: dt.datetime | None = None) -> None:
    with store.begin() as conn:
        conn.execute(tables.sleep_events.insert().values(ts=now(), target=target, state=state, until=until,
                                                         actor=actor))


def states(store: Store, targets: Collection[str] | None = None) -> dict[str, State]:
    """The state of every environment that ever slept (one grouped query per kind)."""
    e = tables.sleep_events
    newest = sa.select(sa.func.max(e.c.id)).where(e.c.state.in_(("asleep", "awake"))).group_by(e.c.target)
    requested = sa.select(sa.func.max(e.c.id)).where(e.c.state == "wake-requested").group_by(e.c.target)
    with store.connect() as conn:
        rows = conn.execute(sa.select(e).where(e.c.id.in_(newest))).all()
        wakes = {r.target: aware(r.until) for r in conn.execute(sa.select(e).where(e.c.id.in_(requested)))}
    out = {}
    for r in rows:
        if targets is not None and r.target not in targets:
            continue
        since = aware(r.ts)
        assert since is not None
        out[r.target] = State(r.target, r.state == "asleep", since, wakes.get(r.target))
    for target, until in wakes.items():
        if target not in out and (targets is None or target in targets) and until is not None:
            out[target] = State(target, False, until, until)
    return out


def history(store: Store, *, end: dt.datetime) -> list[tuple[str, dt.datetime, bool]]:
    """(target, when, asleep) of every sleep and wake up to ``end``, oldest first (for the hours asleep)."""
    e = tables.sleep_events
    with store.connect() as conn:
        rows = conn.execute(sa.select(e.c.target, e.c.ts, e.c.state)
                            .where(e.c.state.in_(("asleep", "awake")), e.c.ts < end).order_by(e.c.id)).all()
    out = []
    for target, ts, state in rows:
        when = aware(ts)
        assert when is not None
        out.append((str(target), when, state == "asleep"))
    return out
