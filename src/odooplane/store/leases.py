"""Leases: named locks held through the state database, so that control-plane processes on any host
sharing it exclude each other (one per environment, cluster, template, pool…).

PostgreSQL: a session-level ``pg_advisory_lock`` on a connection of its own, held for the block; the
server frees it when that session ends (the holder died or its host vanished — TCP keepalives of the
session are tuned to the lease TTL). A ``leases`` row records the holder for messages only.

SQLite: the ``leases`` row is the lock. It is taken by compare-and-set (insert if absent; replace
only the very row that was read, and only if that row is free), renewed by a heartbeat thread, and
deleted on release. A row is free when it expired (``expires_at`` passed: its holder stopped renewing
it), or at once when its holder ran on this host since its last boot and its pid is gone
(store/liveness.py).

Holds are not re-entrant: a second hold of the same name waits, even from the same process.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from odooplane.errors import LockedError
from odooplane.settings import Settings
from odooplane.store import tables
from odooplane.store.db import Store, advisory_key, aware
from odooplane.store.liveness import Beat, Identity, coordination_now, dead_here, this_process

logger = logging.getLogger(__name__)
_POLL_S = (0.02, 0.5)  # SQLite: first and longest pause between two attempts


@contextmanager
def hold(store: Store, name: str, *, wait: float = 0.0, what: str | None = None, holder: str | None = None,
         operation_id: int | None = None, identity: Identity | None = None,
         settings: Settings | None = None) -> Iterator[None]:
    """Hold the lease ``name`` for the duration of the block.

    ``holder`` says what the holder does (shown to whoever finds the lease taken), ``identity`` who
    it is (this process by default). Wait up to ``wait`` seconds; then raise :class:`LockedError`:
    "``what``: locked by <holder> (pid … on <host> since …); wait for it to finish (or check
    `odooplane operations`)"."""
    settings = settings or Settings.from_env()
    me = identity or this_process()
    row = _Row(name=name, token=secrets.token_hex(8), holder=holder or me.describe(), operation_id=operation_id,
               identity=me)
    held = _hold_postgresql if store.is_postgresql else _hold_sqlite
    with held(store, row, wait=wait, what=what or name, settings=settings):
        yield


@dataclass(frozen=True)
class _Row:
    name: str
    token: str
    holder: str
    operation_id: int | None
    identity: Identity

    def values(self, now: dt.datetime, expires: dt.datetime | None) -> dict[str, Any]:
        return {"name": self.name, "token": self.token, "holder": self.holder[:1000],
                "operation_id": self.operation_id, "host": self.identity.host, "boot_id": self.identity.boot_id,
                "pid": self.identity.pid, "acquired_at": now, "expires_at": expires}


def holder_of(store: Store, name: str) -> str | None:
    """Who holds ``name`` as its row says ("backup acme/prod (operation #3) — pid 12 on web-1 since
    09:00:01 UTC"), or None if no row. On SQLite an expired row is reported too."""
    with store.connect() as conn:
        row = conn.execute(sa.select(tables.leases).where(tables.leases.c.name == name)).first()
    return None if row is None else _describe(row)


def _describe(row: Any) -> str:
    since = aware(row.acquired_at)
    when = f" since {since:%Y-%m-%d %H:%M:%S} UTC" if since else ""
    return f"{row.holder} (pid {row.pid} on {row.host}{when})"


def _locked(store: Store, name: str, what: str) -> LockedError:
    holder = holder_of(store, name) or "another process"
    return LockedError(f"{what}: locked by {holder}; wait for it to finish (or check `odooplane operations`)")


# -- SQLite: the row is the lock ------------------------------------------------------------------


@contextmanager
def _hold_sqlite(store: Store, row: _Row, *, wait: float, what: str, settings: Settings) -> Iterator[None]:
    deadline = time.monotonic() + wait
    pause = _POLL_S[0]
    while not _try_take(store, row, settings.lease_ttl_s):
        if time.monotonic() >= deadline:
            raise _locked(store, row.name, what)
        time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
        pause = min(pause * 2, _POLL_S[1])
    try:
        with Beat(lambda: _renew(store, row, settings.lease_ttl_s), interval_s=settings.heartbeat_s,
                  name=f"lease {row.name}"):
            yield
    finally:
        with store.begin() as conn:
            conn.execute(tables.leases.delete().where(tables.leases.c.name == row.name,
                                                      tables.leases.c.token == row.token))


def _try_take(store: Store, row: _Row, ttl_s: float) -> bool:
    """One compare-and-set attempt: insert the row if there is none, or replace the row found if it
    is free (only if it is still that row)."""
    leases = tables.leases
    with store.begin() as conn:
        now = coordination_now(conn)
        expires = now + dt.timedelta(seconds=ttl_s)
        inserted = conn.execute(sqlite.insert(leases).values(**row.values(now, expires))
                                .on_conflict_do_nothing(index_elements=["name"]))
        if inserted.rowcount == 1:
            return True
        found = conn.execute(sa.select(leases).where(leases.c.name == row.name)).first()
    if found is None:
        return False  # released in between: the next attempt inserts
    expired = (aware(found.expires_at) or now) <= now
    if not expired and not dead_here(Identity(found.host, found.boot_id, found.pid)):
        return False
    with store.begin() as conn:
        taken = conn.execute(leases.update().where(leases.c.name == row.name, leases.c.token == found.token)
                             .values(**row.values(now, expires)))
    if taken.rowcount == 1:
        logger.info("lease %s taken over from %s (%s)", row.name, _describe(found),
                    "expired" if expired else "its process is gone")
        return True
    return False


def _renew(store: Store, row: _Row, ttl_s: float) -> None:
    with store.begin() as conn:
        now = coordination_now(conn)
        renewed = conn.execute(tables.leases.update()
                               .where(tables.leases.c.name == row.name, tables.leases.c.token == row.token)
                               .values(expires_at=now + dt.timedelta(seconds=ttl_s)))
    if renewed.rowcount != 1:
        # Only possible if this process stalled longer than the TTL and someone took the lease over.
        logger.error("lease %s was lost (not renewed within %s s and taken over)", row.name, ttl_s)


# -- PostgreSQL: an advisory lock, the row for messages ---------------------------------------------


@contextmanager
def _hold_postgresql(store: Store, row: _Row, *, wait: float, what: str, settings: Settings) -> Iterator[None]:
    key = advisory_key(f"lease:{row.name}")
    conn = store.dedicated_connection()
    try:
        _tune_keepalives(conn, settings.lease_ttl_s)
        if not _advisory_lock(conn, key, wait):
            raise _locked(store, row.name, what)
        try:
            now = coordination_now(conn)
            upsert = postgresql.insert(tables.leases).values(**row.values(now, None))
            conn.execute(upsert.on_conflict_do_update(index_elements=["name"], set_=row.values(now, None)))
            yield
        finally:
            try:
                conn.execute(tables.leases.delete().where(tables.leases.c.name == row.name,
                                                          tables.leases.c.token == row.token))
                conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": key})
            except sa.exc.DBAPIError as exc:  # the session is gone, and its lock with it
                logger.warning("lease %s: could not release cleanly: %s", row.name, exc.orig)
    finally:
        conn.close()  # ends the session: the lock could not outlive it anyway


def _advisory_lock(conn: Any, key: int, wait: float) -> bool:
    if conn.execute(sa.text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar_one():
        return True
    if wait <= 0:
        return False
    conn.exec_driver_sql(f"SET lock_timeout = {max(1, int(wait * 1000))}")
    try:
        conn.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": key})
        return True
    except sa.exc.OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) != "55P03":  # lock_not_available: the wait ran out
            raise
        return False
    finally:
        conn.exec_driver_sql("RESET lock_timeout")


def _tune_keepalives(conn: Any, ttl_s: float) -> None:
    """Have the server notice a vanished holder (its host died without closing the connection)
    within about the TTL, so its advisory lock goes with it."""
    idle = max(1, int(ttl_s / 3))
    interval = max(1, int(ttl_s / 6))
    for setting, value in (("tcp_keepalives_idle", idle), ("tcp_keepalives_interval", interval),
                           ("tcp_keepalives_count", 3)):
        conn.exec_driver_sql(f"SET {setting} = {value}")
