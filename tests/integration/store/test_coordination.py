"""Coordination through the state store, between real processes, on SQLite and PostgreSQL: leases,
operation heartbeats, schedule claims and the migration lock."""

from __future__ import annotations

import datetime as dt
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from odooplane.clock import wait_until
from odooplane.errors import ExitCode, LockedError
from odooplane.settings import Settings
from odooplane.store import claims, db, journal, leases, tables
from odooplane.store.liveness import coordination_now, this_process

ROOT = Path(__file__).resolve().parents[3]
LEASE = "env-acme__prod"
FIRE = dt.datetime(2031, 3, 2, 2, 0, tzinfo=dt.UTC)
FAST = {"ODOOPLANE_LEASE_TTL": "1", "ODOOPLANE_HEARTBEAT_INTERVAL": "0.2"}  # a TTL short enough to outlive


class Coordinator:
    """One ``tests.support.coordinator`` process: what it says, one JSON object a line."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.support.coordinator", *args], cwd=ROOT,
                                     env={**os.environ, **(env or {})}, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def next(self, timeout: float = 60) -> dict[str, Any]:
        line = self.lines.get(timeout=timeout)
        if line is None:
            assert self.proc.stderr is not None
            raise AssertionError(f"the process ended ({self.proc.wait()}): {self.proc.stderr.read()}")
        return json.loads(line)  # type: ignore[no-any-return]

    def tell(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        assert self.proc.wait(timeout=30) == -signal.SIGKILL

    def finish(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        assert self.proc.wait(timeout=60) == 0


@pytest.fixture
def spawn() -> Iterator[Callable[..., Coordinator]]:
    started: list[Coordinator] = []

    def start(*args: str, env: dict[str, str] | None = None) -> Coordinator:
        started.append(Coordinator(*args, env=env))
        return started[-1]

    yield start
    for c in started:
        if c.proc.poll() is None:
            c.proc.kill()
            c.proc.wait()


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'state.db'}" if request.param == "sqlite" else str(
        request.getfixturevalue("scratch_db"))


@pytest.fixture
def store(url: str) -> Iterator[db.Store]:
    opened = db.open_store(url)
    try:
        yield opened
    finally:
        opened.close()


def fast() -> Settings:
    return Settings(heartbeat_s=0.2, lease_ttl_s=1.0)


def store_now(store: db.Store) -> dt.datetime:
    with store.connect() as conn:
        return coordination_now(conn)


def lease_row(store: db.Store) -> Any:
    with store.connect() as conn:
        return conn.execute(sa.select(tables.leases).where(tables.leases.c.name == LEASE)).first()


def refused(store: db.Store, settings: Settings | None = None) -> LockedError:
    with pytest.raises(LockedError) as caught, leases.hold(store, LEASE, wait=0, what="acme/prod", settings=settings):
        pass
    return caught.value


# -- leases -----------------------------------------------------------------------------------------


def test_a_held_lease_is_refused_naming_its_holder_and_what_it_does(url: str, store: db.Store,
                                                                    spawn: Callable[..., Coordinator]) -> None:
    holder = spawn("lease", url)
    assert holder.next()["waiting"]
    pid = holder.next()["pid"]
    error = refused(store)
    assert error.exit_code == ExitCode.LOCKED == 4
    assert error.message.startswith(
        f"acme/prod: locked by backup acme/prod (operation #7) (pid {pid} on {this_process().host} since ")
    assert error.message.endswith("; wait for it to finish (or check `odooplane operations`)")


def test_a_waiting_process_gets_the_lease_once_its_holder_releases_it(url: str, store: db.Store,
                                                                      spawn: Callable[..., Coordinator]) -> None:
    first = spawn("lease", url)
    assert first.next()["waiting"] and first.next()["held"]
    second = spawn("lease", url, "--wait", "60")
    assert second.next()["waiting"]
    refused(store)  # held by the first all along
    first.tell()
    releasing = first.next()
    assert first.next()["released"]
    got = second.next()
    assert got["held"] and got["t"] >= releasing["t"], "the second holder got the lease before it was released"
    assert f"(pid {got['pid']} on " in refused(store).message
    second.tell()
    assert second.next()["releasing"]
    second.finish()
    with leases.hold(store, LEASE, wait=0):
        pass  # and it is free again


def test_a_holder_killed_on_this_host_frees_its_lease_at_once(url: str, store: db.Store,
                                                              spawn: Callable[..., Coordinator]) -> None:
    holder = spawn("lease", url)
    assert holder.next()["waiting"] and holder.next()["held"]
    holder.kill()
    started = time.monotonic()
    with leases.hold(store, LEASE, wait=10, what="acme/prod"):
        waited = time.monotonic() - started
    assert waited < Settings().lease_ttl_s / 3, f"waited {waited:.1f} s for a dead local holder"


def test_a_holder_killed_on_another_host_keeps_its_lease_until_it_expires(tmp_path: Path,
                                                                          spawn: Callable[..., Coordinator]) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"  # on PostgreSQL the server ends the dead session's lock
    store = db.open_store(url)
    try:
        holder = spawn("lease", url, "--host", "elsewhere", "--boot", "another-boot", env=FAST)
        assert holder.next()["waiting"] and holder.next()["held"]
        holder.kill()
        expires = db.aware(lease_row(store).expires_at)
        assert "on elsewhere" in refused(store, fast()).message, "a pid on another host proves nothing"
        with leases.hold(store, LEASE, wait=10, settings=fast()):
            taken_at = db.aware(lease_row(store).acquired_at)
        assert expires is not None and taken_at is not None and taken_at >= expires
    finally:
        store.close()


def test_a_heartbeat_keeps_a_long_holders_lease_past_the_ttl(url: str, store: db.Store,
                                                            spawn: Callable[..., Coordinator]) -> None:
    holder = spawn("lease", url, "--host", "elsewhere", "--boot", "another-boot", env=FAST)
    assert holder.next()["waiting"] and holder.next()["held"]
    acquired = db.aware(lease_row(store).acquired_at)
    assert acquired is not None
    assert wait_until(lambda: store_now(store) > acquired + dt.timedelta(seconds=3), timeout=20)
    refused(store, fast())
    if not store.is_postgresql:
        renewed = db.aware(lease_row(store).expires_at)
        assert renewed is not None and renewed > acquired + dt.timedelta(seconds=2)
    holder.tell()
    assert holder.next()["releasing"]
    holder.finish()


# -- operations -------------------------------------------------------------------------------------


def test_an_operation_killed_on_this_host_is_marked_interrupted_at_once(url: str, store: db.Store,
                                                                        spawn: Callable[..., Coordinator]) -> None:
    runner = spawn("operation", url)
    op_id = runner.next()["operation"]
    assert journal.mark_interrupted(store) == []
    assert [op.id for op in journal.live_operations(store)] == [op_id]
    runner.kill()
    assert [op.id for op in journal.mark_interrupted(store)] == [op_id]  # the TTL is 15 s: no waiting
    row = journal.operation(store, op_id)
    assert row is not None and row.status == "interrupted"
    assert journal.live_operations(store) == []


def test_an_operation_on_another_host_is_interrupted_only_once_its_heartbeat_stops(
        url: str, store: db.Store, spawn: Callable[..., Coordinator]) -> None:
    runner = spawn("operation", url, "--host", "elsewhere", "--boot", "another-boot", env=FAST)
    op_id = runner.next()["operation"]
    row = journal.operation(store, op_id)
    assert row is not None and row.heartbeat_at is not None and row.host == "elsewhere"
    assert wait_until(lambda: store_now(store) > row.heartbeat_at + dt.timedelta(seconds=3), timeout=20)
    assert journal.mark_interrupted(store, settings=fast()) == [], "its heartbeat is fresh"
    runner.kill()
    assert journal.mark_interrupted(store, settings=fast()) == [], "its pid means nothing here"
    assert wait_until(lambda: [o.id for o in journal.mark_interrupted(store, settings=fast())] == [op_id],
                      timeout=20)
    stopped = journal.operation(store, op_id)
    assert stopped is not None and stopped.status == "interrupted"


# -- claims -----------------------------------------------------------------------------------------


def test_two_workers_claiming_one_fire_time_run_it_once(url: str, store: db.Store,
                                                       spawn: Callable[..., Coordinator]) -> None:
    workers = [spawn("claim", url), spawn("claim", url)]
    for worker in workers:
        worker.tell()
    won = [worker.next()["won"] for worker in workers]
    assert sorted(won) == [False, True]
    for worker in workers:
        worker.finish()
    assert [(fire, state) for fire, state, _ in claims.claimed(store, "backup acme/prod")] == [(FIRE, "done")]
    with claims.Claims(store, by="late worker") as late:
        assert not late.take("backup acme/prod", FIRE), "a done fire time is never run again"
        assert late.take("backup acme/prod", FIRE + dt.timedelta(days=1)), "the next fire time is free"


def test_a_claim_of_a_killed_worker_is_taken_over_and_a_failed_one_withdrawn(
        url: str, store: db.Store, spawn: Callable[..., Coordinator]) -> None:
    killed = spawn("claim", url)
    killed.tell()
    assert killed.next()["won"]
    with claims.Claims(store, by="other") as other:
        assert not other.take("backup acme/prod", FIRE), "its claimant is at work"
    killed.kill()
    with claims.Claims(store, by="other") as other:
        assert other.take("backup acme/prod", FIRE), "its claimant died: the job is run again"
    # leaving without done(): withdrawn, as a failed job's claim
    failing = spawn("claim", url, "--fail")
    failing.tell()
    assert failing.next()["won"]
    failing.finish()
    assert claims.claimed(store, "backup acme/prod") == []


# -- migrations -------------------------------------------------------------------------------------


def test_four_processes_opening_a_fresh_store_migrate_it_once(url: str, spawn: Callable[..., Coordinator]) -> None:
    openers = [spawn("open", url) for _ in range(4)]
    for opener in openers:
        opener.tell()
    said = [opener.next()["migrated_from"] for opener in openers]
    assert sorted(said, key=str) == ["", None, None, None], said
    for opener in openers:
        opener.finish()
    store = db.open_store(url)
    try:
        assert store.migrated_from is None
        with store.connect() as conn:
            assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all() == [db.HEAD]
    finally:
        store.close()


# -- health sweepers --------------------------------------------------------------------------------


def test_sweepers_split_the_fleet_and_take_over_the_share_of_one_that_stopped(store: db.Store) -> None:
    from odooplane.store import sweepers
    from odooplane.store.liveness import Identity

    elsewhere = Identity("sweep-host-b", "another-boot", 4242)  # judged by its expiry only
    me = this_process()
    targets = [f"t{i:03d}/prod" for i in range(300)]
    assert sweepers.announce(store, ttl_s=60, identity=me) == sweepers.Share(0, 1)
    other = sweepers.announce(store, ttl_s=0.5, identity=elsewhere)
    mine = sweepers.announce(store, ttl_s=60, identity=me)
    assert other.count == mine.count == 2 and {other.index, mine.index} == {0, 1}
    split = [[t for t in targets if share.mine(t)] for share in (mine, other)]
    assert sorted(split[0] + split[1]) == targets and 100 < len(split[0]) < 200  # each target once
    # The other sweeper stops announcing: once its row expires, this one sweeps everything again.
    assert wait_until(lambda: sweepers.announce(store, ttl_s=60, identity=me).count == 1, timeout=10)
    with store.connect() as conn:
        names = conn.execute(sa.select(tables.leases.c.name)).scalars().all()
    assert [n for n in names if "sweep-host-b" in n] == [], names
    sweepers.withdraw(store, identity=me)
    with store.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(tables.leases)).scalar_one() == 0


def test_a_sweeper_whose_process_is_gone_on_this_host_loses_its_share_at_once(store: db.Store) -> None:
    from odooplane.store import sweepers
    from odooplane.store.liveness import Identity

    me = this_process()
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    dead = Identity(me.host, me.boot_id, int(gone.stdout))
    sweepers.announce(store, ttl_s=3600, identity=dead)
    assert sweepers.announce(store, ttl_s=60, identity=me) == sweepers.Share(0, 1)
    sweepers.withdraw(store, identity=me)
