"""Who a process is, and whether a holder recorded in the state store is still alive.

Processes coordinating through the state database may run on several hosts, so a pid alone proves
nothing. A holder (of a lease, an operation, a schedule claim) is recorded with its identity — host
name, boot id, pid — and refreshes a heartbeat while it works. It counts as dead when:

- it ran on this very host (same host name and same boot id — the boot id changes at every boot,
  and it carries the PID namespace, so a container sharing the host's name is not mistaken for it)
  and its pid no longer exists: known at once, no waiting;
- otherwise, when its heartbeat is older than the TTL (a process on another host is judged only by
  its heartbeat: its pid means nothing here).

Coordination time is the wall clock (PostgreSQL's on a PostgreSQL store, so hosts sharing it need not
agree to the second), never the process's schedule clock: a worker running at a shifted time
(``ODOOPLANE_FAKE_NOW``) must not see every other heartbeat as ancient.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from odooplane import execute

logger = logging.getLogger(__name__)

BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


@dataclass(frozen=True)
class Identity:
    """A process as the state store records it."""

    host: str
    boot_id: str
    pid: int

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}"


@functools.cache
def boot_id() -> str:
    """This kernel's boot id and PID namespace (``<boot id>/<pid namespace>``); "" if unknown (then no
    holder is ever judged by its pid)."""
    try:
        boot = BOOT_ID.read_text().strip()
    except OSError:
        return ""
    try:
        namespace = os.readlink("/proc/self/ns/pid")  # "pid:[4026531836]"
    except OSError:
        namespace = ""
    return f"{boot}/{namespace}" if namespace else boot


def this_process() -> Identity:
    return Identity(socket.gethostname(), boot_id(), os.getpid())


def dead_here(holder: Identity) -> bool:
    """Whether ``holder`` ran on this host since its last boot and its pid is gone (certainly dead)."""
    me = this_process()
    return bool(holder.boot_id) and holder.host == me.host and holder.boot_id == me.boot_id \
        and not execute.alive(holder.pid)


def gone(holder: Identity, *, beat: dt.datetime | None, now: dt.datetime, ttl_s: float) -> bool:
    """Whether ``holder`` (last heartbeat ``beat``; None: never) is dead, by the rule above."""
    if dead_here(holder):
        return True
    return beat is None or (now - beat).total_seconds() > ttl_s


def coordination_now(conn: Any) -> dt.datetime:
    """The time heartbeats and expiries are measured in (timezone-aware, UTC): PostgreSQL's clock on
    PostgreSQL, this host's wall clock on SQLite (one host by construction)."""
    if conn.dialect.name == "postgresql":
        value = conn.exec_driver_sql("SELECT clock_timestamp()").scalar_one()
        assert isinstance(value, dt.datetime)
        return value.astimezone(dt.UTC)
    return dt.datetime.now(dt.UTC)


class Beat:
    """A daemon thread calling ``beat()`` every ``interval_s`` seconds until stopped. A failing beat
    is logged and retried at the next interval: a busy database must not kill the holder."""

    def __init__(self, beat: Callable[[], None], *, interval_s: float, name: str) -> None:
        self._beat = beat
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat {name}", daemon=True)

    def __enter__(self) -> Beat:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)  # a beat stuck on a busy database must not hold up the exit

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._beat()
            except Exception as exc:  # the next beat may succeed: the TTL leaves room for a few misses
                logger.warning("%s failed: %s", self._thread.name, exc)
