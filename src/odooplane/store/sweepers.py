"""The health sweepers of an estate, so that several workers (on one host or several, sharing a
PostgreSQL state store) split the fleet instead of each probing all of it.

Before each sweep a worker announces itself: a row in ``leases`` named ``sweeper:<host>:<boot>:<pid>``
that expires a few sweep intervals later. The live sweepers, sorted by name, are numbered; a worker
sweeps the environments whose CRC-32 of the target modulo their count is its number (:class:`Share`).
Rows of sweepers that stopped announcing (expired), or whose process is gone on this host, are removed
by whoever announces next; a worker that stops cleanly withdraws its row. While the membership
changes (a worker starts or dies), one sweep may probe an environment twice or not at all; the next
one is whole again.
"""

from __future__ import annotations

import datetime as dt
import zlib
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from odooplane.store import tables
from odooplane.store.db import Store, aware
from odooplane.store.liveness import Identity, coordination_now, dead_here, this_process

PREFIX = "sweeper:"


@dataclass(frozen=True)
class Share:
    """This sweeper's number among ``count`` live ones."""

    index: int = 0
    count: int = 1

    def mine(self, target: str) -> bool:
        return self.count <= 1 or zlib.crc32(target.encode("utf-8")) % self.count == self.index

    def describe(self) -> str:
        return "the whole fleet" if self.count <= 1 else f"share {self.index + 1} of {self.count}"


def _name(me: Identity) -> str:
    return f"{PREFIX}{me.host[:120]}:{me.boot_id[:16]}:{me.pid}"


def announce(store: Store, *, ttl_s: float, identity: Identity | None = None) -> Share:
    """Record this sweeper as alive for ``ttl_s`` seconds; return its share of the fleet."""
    me = identity or this_process()
    name = _name(me)
    leases = tables.leases
    insert = postgresql.insert if store.is_postgresql else sqlite.insert
    with store.begin() as conn:
        now = coordination_now(conn)
        found = conn.execute(sa.select(leases.c.name, leases.c.host, leases.c.boot_id, leases.c.pid,
                                       leases.c.expires_at).where(leases.c.name.startswith(PREFIX))).all()
        stale = [row.name for row in found if row.name != name and (
            (aware(row.expires_at) or now) <= now or dead_here(Identity(row.host, row.boot_id, row.pid)))]
        if stale:
            conn.execute(leases.delete().where(leases.c.name.in_(stale)))
        expires = now + dt.timedelta(seconds=ttl_s)
        values = {"name": name, "token": "sweeper", "holder": f"health sweeps ({me.describe()})"[:1000],
                  "operation_id": None, "host": me.host, "boot_id": me.boot_id, "pid": me.pid,
                  "acquired_at": now, "expires_at": expires}
        conn.execute(insert(leases).values(**values)
                     .on_conflict_do_update(index_elements=["name"], set_={"expires_at": expires}))
    live = sorted({row.name for row in found if row.name not in stale} | {name})
    return Share(live.index(name), len(live))


def withdraw(store: Store, *, identity: Identity | None = None) -> None:
    """Remove this sweeper's row (a clean stop): the others take its share at their next sweep."""
    with store.begin() as conn:
        conn.execute(tables.leases.delete().where(tables.leases.c.name == _name(identity or this_process())))
