"""Scheduled work claimed once per fire time, so that several workers of one estate (on one host or
several) run each scheduled job once.

Every worker computes the same jobs as due from the same history; before running one it claims
``(job, fire time)`` — an insert that only one process can make. The claim is kept as done once the job
succeeded (a worker that saw it due a moment too late finds it taken), withdrawn when the job failed
or never finished (the next tick of any worker tries again, as the schedule says), and taken over when
its claimant died mid-job (by the rule of store/liveness.py: at once on this host, after the lease TTL
from another; claims of a running tick are kept fresh by a heartbeat).
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from odooplane.settings import Settings
from odooplane.store import tables
from odooplane.store.db import Store, aware
from odooplane.store.liveness import Beat, Identity, coordination_now, gone, this_process

logger = logging.getLogger(__name__)


class Claims:
    """The claims of one tick: ``with Claims(store, by="worker") as claims: if claims.take(job, at): …``.

    Leaving the block withdraws every claim not marked :meth:`done`."""

    def __init__(self, store: Store, *, by: str, settings: Settings | None = None,
                 identity: Identity | None = None) -> None:
        self.store = store
        self.settings = settings or Settings.from_env()
        self.identity = identity or this_process()
        self.by = f"{by} ({self.identity.describe()})"[:255]
        self.token = secrets.token_hex(8)
        self._open: set[tuple[str, dt.datetime]] = set()
        self._beat = Beat(self._renew, interval_s=self.settings.heartbeat_s, name=f"claims of {by}")

    def __enter__(self) -> Claims:
        self._beat.__enter__()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._beat.stop()
        for job, fire_at in sorted(self._open):
            self.withdraw(job, fire_at)

    def take(self, job: str, fire_at: dt.datetime) -> bool:
        """Claim ``job`` for its scheduled time ``fire_at``; False when another process has it (or had
        it done)."""
        fire_at = fire_at.astimezone(dt.UTC)
        table = tables.claims
        dialect = postgresql if self.store.is_postgresql else sqlite
        with self.store.begin() as conn:
            now = coordination_now(conn)
            inserted = conn.execute(dialect.insert(table).values(job=job, fire_at=fire_at, state="claimed",
                                                                 **self._values(now))
                                    .on_conflict_do_nothing(index_elements=["job", "fire_at"])
                                    .returning(table.c.id)).first()
            if inserted is not None:
                self._open.add((job, fire_at))
                return True
            found = conn.execute(sa.select(table).where(table.c.job == job, table.c.fire_at == fire_at)).first()
            if found is None or found.state != "claimed" or found.token == self.token:
                return False
            if not gone(Identity(found.host, found.boot_id, found.pid), beat=aware(found.heartbeat_at), now=now,
                        ttl_s=self.settings.lease_ttl_s):
                return False
            taken = conn.execute(table.update().where(table.c.id == found.id, table.c.token == found.token)
                                 .values(**self._values(now)))
        if taken.rowcount != 1:
            return False
        logger.info("%s at %s: claim of %s taken over (its claimant is gone)", job, fire_at, found.claimed_by)
        self._open.add((job, fire_at))
        return True

    def done(self, job: str, fire_at: dt.datetime) -> None:
        """The job ran and succeeded: the claim stays, so nobody runs it again for this fire time."""
        fire_at = fire_at.astimezone(dt.UTC)
        with self.store.begin() as conn:
            conn.execute(self._mine(job, fire_at).values(state="done"))
        self._open.discard((job, fire_at))

    def withdraw(self, job: str, fire_at: dt.datetime) -> None:
        """The job failed or did not run: give the fire time back (the next tick tries again)."""
        fire_at = fire_at.astimezone(dt.UTC)
        table = tables.claims
        with self.store.begin() as conn:
            conn.execute(table.delete().where(table.c.job == job, table.c.fire_at == fire_at,
                                              table.c.token == self.token, table.c.state == "claimed"))
        self._open.discard((job, fire_at))

    def _mine(self, job: str, fire_at: dt.datetime) -> Any:
        table = tables.claims
        return table.update().where(table.c.job == job, table.c.fire_at == fire_at, table.c.token == self.token)

    def _values(self, now: dt.datetime) -> dict[str, Any]:
        me = self.identity
        return {"token": self.token, "claimed_by": self.by, "claimed_at": now, "host": me.host,
                "boot_id": me.boot_id, "pid": me.pid, "heartbeat_at": now}

    def _renew(self) -> None:
        if not self._open:
            return
        table = tables.claims
        with self.store.begin() as conn:
            conn.execute(table.update().where(table.c.token == self.token, table.c.state == "claimed")
                         .values(heartbeat_at=coordination_now(conn)))


def forget(store: Store, *, before: dt.datetime) -> int:
    """Delete the claims of fire times before ``before`` (their jobs' evidence outlives them);
    return how many."""
    with store.begin() as conn:
        return int(conn.execute(tables.claims.delete().where(tables.claims.c.fire_at < before.astimezone(dt.UTC)))
                   .rowcount)


def claimed(store: Store, job: str) -> list[tuple[dt.datetime, str, str]]:
    """``(fire time, state, claimed by)`` of ``job``'s claims, oldest first (for tests and status)."""
    table = tables.claims
    with store.connect() as conn:
        rows = conn.execute(sa.select(table.c.fire_at, table.c.state, table.c.claimed_by)
                            .where(table.c.job == job).order_by(table.c.fire_at)).all()
    return [(aware(r.fire_at) or r.fire_at, r.state, r.claimed_by) for r in rows]
