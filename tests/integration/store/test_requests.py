"""Requested operations in the state store, on SQLite and PostgreSQL: queued in order, claimed once,
taken over from a dead worker, given up after too many claims, and left alone by the sweep that
marks dead operations interrupted."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from odooplane.store import db, journal, requests
from odooplane.store.liveness import Identity, boot_id, this_process

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[db.Store]:
    url = f"sqlite:///{tmp_path / 'state.db'}" if request.param == "sqlite" else str(
        request.getfixturevalue("scratch_db"))
    opened = db.open_store(url)
    try:
        yield opened
    finally:
        opened.close()


def dead_identity() -> Identity:
    """A process of this host that has exited (its pid is gone)."""
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    me = this_process()
    return Identity(me.host, boot_id(), int(proc.stdout))


def test_queued_operations_are_claimed_oldest_first_and_once(store: db.Store) -> None:
    first = requests.enqueue(store, kind="provision", target="a", actor="token:x", request={"do": "converge",
                                                                                            "targets": ["a/prod"]})
    second = requests.enqueue(store, kind="backup", target="b/prod", actor="token:x", request={"do": "backup"})
    assert requests.pending(store) == 2
    queued = journal.operation(store, first)
    assert queued is not None and queued.status == "queued"
    claimed = requests.claim(store, ttl_s=60)
    assert claimed is not None and claimed.id == first and claimed.status == "running"
    assert claimed.pid == this_process().pid and claimed.heartbeat_at is not None
    assert requests.request_of(store, first) == {"do": "converge", "targets": ["a/prod"]}
    assert requests.claim(store, ttl_s=60).id == second  # type: ignore[union-attr]
    assert requests.claim(store, ttl_s=60) is None  # both are held by a live process
    assert journal.mark_interrupted(store) == []


def test_a_dead_workers_operation_is_claimed_again_and_given_up_after_three(store: db.Store) -> None:
    op_id = requests.enqueue(store, kind="provision", target="a", actor="alice", request={"do": "converge"})
    dead = dead_identity()
    for attempt in range(1, requests.MAX_CLAIMS + 1):
        row = requests.claim(store, ttl_s=60, identity=dead)
        assert row is not None and row.id == op_id, attempt
    assert journal.mark_interrupted(store) == []  # not interrupted: it waits for a worker to resume it
    assert requests.claim(store, ttl_s=60) is None  # a fourth claim gives it up
    final = journal.operation(store, op_id)
    assert final is not None and final.status == "failed" and "3 times" in (final.error or "")


def test_a_silent_worker_elsewhere_is_taken_over_only_after_the_ttl(store: db.Store) -> None:
    op_id = requests.enqueue(store, kind="provision", target="a", actor="alice", request={"do": "converge"})
    elsewhere = Identity("another-host", "other-boot", 4242)
    assert requests.claim(store, ttl_s=60, identity=elsewhere) is not None
    assert requests.claim(store, ttl_s=60) is None  # its heartbeat is fresh
    taken = requests.claim(store, ttl_s=0.0)  # silent longer than a TTL of 0
    assert taken is not None and taken.id == op_id and taken.host == this_process().host
