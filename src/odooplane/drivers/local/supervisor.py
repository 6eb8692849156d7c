"""Control of the supervisord daemon that keeps every long-running process alive.

One supervisord per data directory; one program file per process under ``programs/``.
Changing a program is: write its file, ``reloadConfig``, then add/remove the process group —
exactly what ``supervisorctl update`` does, over XML-RPC on a unix socket.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import signal
import sys
import tempfile
import threading
import time
import xmlrpc.client
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from supervisor.xmlrpc import SupervisorTransport

from odooplane import execute
from odooplane.clock import wait_until
from odooplane.errors import PermanentError, TemporaryError
from odooplane.files import atomic_write
from odooplane.render import supervisor as render

logger = logging.getLogger(__name__)

_SOCKET_MAX = 100  # sun_path is 108 bytes
_lock = threading.Lock()
DEFAULT_GRACE_S = 20.0  # a program whose stop timeout supervisord does not report
KILL_SETTLE_S = 10.0  # after SIGKILL: time for the kernel to reap and supervisord to notice
DAEMON_EXIT_S = 30.0
PROGRESS_EVERY_S = 2.0

Progress = Callable[[str], None]


def _signal(pid: int, sig: int) -> None:
    """Send ``sig`` to ``pid`` (a negative pid: the whole process group), gone or not."""
    try:
        if pid < 0:
            os.killpg(-pid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        pass


@dataclass(frozen=True)
class ProcessInfo:
    name: str
    state: str  # RUNNING, STARTING, BACKOFF, STOPPED, EXITED, FATAL, …
    pid: int
    start: int
    description: str
    spawnerr: str

    @property
    def running(self) -> bool:
        return self.state == "RUNNING"


def file_digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


class Supervisor:
    def __init__(self, root: Path, log_dir: Path) -> None:
        self.root = root
        self.log_dir = log_dir
        self.conf = root / "supervisord.conf"
        self.programs = root / "programs"
        socket = root / "supervisor.sock"
        if len(str(socket)) > _SOCKET_MAX:
            short = hashlib.sha1(str(root).encode()).hexdigest()[:16]  # noqa: S324 - a name, not security
            socket = Path(tempfile.gettempdir()) / f"odooplane-{os.getuid()}" / f"{short}.sock"
        self.socket = socket

    # -- daemon ---------------------------------------------------------------------------
    def _proxy(self) -> Any:
        transport = SupervisorTransport(None, None, serverurl=f"unix://{self.socket}")
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)

    def reachable(self) -> bool:
        try:
            return self._proxy().supervisor.getState()["statename"] == "RUNNING"  # type: ignore[no-any-return]
        except (OSError, xmlrpc.client.Fault, xmlrpc.client.ProtocolError):
            return False

    def daemon_pid(self) -> int | None:
        try:
            return int(self._proxy().supervisor.getPID())
        except (OSError, xmlrpc.client.Fault, xmlrpc.client.ProtocolError):
            return None

    def ensure_running(self) -> None:
        """Write the main configuration and start supervisord if it is not answering."""
        self.programs.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.socket.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        main = render.SupervisorMain(
            socket=str(self.socket),
            pidfile=str(self.root / "supervisord.pid"),
            logfile=str(self.log_dir / "supervisord.log"),
            programs_glob=str(self.programs / "*.conf"),
            childlogdir=str(self.log_dir),
        )
        atomic_write(self.conf, render.render_main(main), mode=0o600)
        if self.reachable():
            return
        # A clean environment: secrets exported for the CLI must not leak into every child.
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR")}
        execute.spawn_detached(
            [sys.executable, "-m", "supervisor.supervisord", "-c", str(self.conf)],
            log_file=self.log_dir / "supervisord.boot.log",
            env_override=env,
        )
        if not wait_until(self.reachable, timeout=15):
            raise TemporaryError(f"supervisord did not start (see {self.log_dir / 'supervisord.boot.log'})", delay=2)

    def shutdown(self, *, grace_s: float | None = None, progress: Progress | None = None) -> None:
        """Stop every program (all at once, see :meth:`stop_all`), then the daemon itself; wait until
        it is gone. Raise PermanentError naming what still runs (the daemon is then left running, so
        that nothing is orphaned)."""
        pid = self.daemon_pid()
        if pid is None:
            return
        left = self.stop_all(grace_s=grace_s, progress=progress)
        if left:
            raise PermanentError(f"still running after SIGKILL of their process groups: {', '.join(left)} "
                                 f"(supervisord, pid {pid}, is left running)")
        try:
            self._proxy().supervisor.shutdown()
        except (OSError, xmlrpc.client.Fault, xmlrpc.client.ProtocolError):
            pass

        def gone() -> bool:
            return not execute.alive(pid)

        if wait_until(gone, timeout=DAEMON_EXIT_S, interval=0.1):
            return
        # Every program is confirmed stopped: the daemon holds nothing worth a clean exit.
        _signal(pid, signal.SIGKILL)
        if not wait_until(gone, timeout=5, interval=0.1):
            raise PermanentError(f"supervisord (pid {pid}) did not exit, even after SIGKILL")

    def stop_all(self, *, keep: Collection[str] = (), grace_s: float | None = None,
                 progress: Progress | None = None) -> list[str]:
        """Stop every supervised process but ``keep``: one wave per priority, highest first (the
        worker, then Odoo, then the edge, then PostgreSQL: users before what they use), every
        process of a wave at once. Each gets its stop signal, and whatever of its process group
        still runs after its grace (its own stop timeout, at most ``grace_s``) gets SIGKILL.
        supervisord alone would stop programs one after the other, each waiting out its own
        timeout — minutes with many environments on a loaded machine.

        Return the names of the processes still running after that (empty: all stopped), with
        ``progress`` told every couple of seconds what is still running.
        """
        try:
            proxy = self._proxy()
            infos = proxy.supervisor.getAllProcessInfo()
            configs = {c["name"]: c for c in proxy.supervisor.getAllConfigInfo()}
        except (OSError, xmlrpc.client.Fault, xmlrpc.client.ProtocolError):
            return []  # no daemon: nothing it supervises runs
        live = [i for i in infos if i["name"] not in keep and i["statename"] in ("RUNNING", "STARTING", "BACKOFF",
                                                                                   "STOPPING")]
        limit = grace_s if grace_s is not None else math.inf
        waves: dict[int, list[dict[str, Any]]] = {}
        for info in live:
            waves.setdefault(int(configs.get(info["name"], {}).get("process_prio", 999)), []).append(info)
        left: list[str] = []
        for priority in sorted(waves, reverse=True):
            grace = {i["name"]: min(float(configs.get(i["name"], {}).get("stopwaitsecs", DEFAULT_GRACE_S)), limit)
                     for i in waves[priority]}
            left += self._stop_wave(proxy, waves[priority], grace, total=len(live), progress=progress)
        return sorted(left)

    def _stop_wave(self, proxy: Any, wave: list[dict[str, Any]], grace: dict[str, float], *, total: int,
                   progress: Progress | None) -> list[str]:
        # A program's process group is its pid: supervisord makes every child a group leader.
        groups = {i["name"]: int(i["pid"]) for i in wave}
        for name in groups:
            try:
                proxy.supervisor.stopProcess(name, False)
            except xmlrpc.client.Fault:
                pass  # stopped in between
        started = reported = time.monotonic()
        deadline = started + max(grace.values(), default=0) + KILL_SETTLE_S
        killed: set[str] = set()

        def running() -> list[str]:
            states = self.states()
            return sorted(n for n in groups if (groups[n] > 0 and execute.alive(groups[n], group=True)) or (
                n in states and states[n].state in ("RUNNING", "STARTING", "STOPPING")))

        left = running()
        while left:
            now = time.monotonic()
            for name in left:
                if name not in killed and now - started >= grace[name] and groups[name] > 0:
                    killed.add(name)
                    logger.warning("%s did not stop within %.0f s: SIGKILL to its process group", name, grace[name])
                    _signal(-groups[name], signal.SIGKILL)
            if now >= deadline:
                break
            if progress is not None and now - reported >= PROGRESS_EVERY_S:
                reported = now
                progress(f"stopping: {len(left)} of {total} process(es) still running after "
                         f"{now - started:.0f} s: {', '.join(left)}")
            time.sleep(0.1)  # the poll interval of a loop bounded by ``deadline``
            left = running()
        return left

    # -- programs -------------------------------------------------------------------------
    def program_file(self, name: str) -> Path:
        return self.programs / f"{name}.conf"

    def program_digest(self, name: str) -> str | None:
        return file_digest(self.program_file(name))

    def program_names(self) -> list[str]:
        if not self.programs.is_dir():
            return []
        return sorted(p.stem for p in self.programs.glob("*.conf"))

    def _update(self) -> None:
        proxy = self._proxy()
        added, changed, removed = proxy.supervisor.reloadConfig()[0]
        for name in removed:
            self._stop_remove(proxy, name)
        for name in changed:
            self._stop_remove(proxy, name)
            proxy.supervisor.addProcessGroup(name)
        for name in added:
            proxy.supervisor.addProcessGroup(name)

    @staticmethod
    def _stop_remove(proxy: Any, name: str) -> None:
        try:
            proxy.supervisor.stopProcessGroup(name, True)
        except xmlrpc.client.Fault:
            pass
        try:
            proxy.supervisor.removeProcessGroup(name)
        except xmlrpc.client.Fault:
            pass

    def apply_program(self, program: render.Program) -> bool:
        """Make the supervised program match ``program``; return True if anything changed."""
        with _lock:
            changed = atomic_write(self.program_file(program.name), render.render_program(program), mode=0o600)
            if changed or program.name not in self._group_names():
                self._update()
            else:
                current = self.info(program.name)
                if current is not None and current.state in ("STOPPED", "FATAL", "EXITED"):
                    self._proxy().supervisor.startProcess(program.name, False)
                    changed = True
        return changed

    def remove_program(self, name: str) -> bool:
        with _lock:
            existed = self.program_file(name).exists()
            self.program_file(name).unlink(missing_ok=True)
            if self.reachable() and (existed or name in self._group_names()):
                self._update()
                if name in self._group_names():
                    self._stop_remove(self._proxy(), name)
        return existed

    def restart(self, name: str) -> None:
        proxy = self._proxy()
        try:
            proxy.supervisor.stopProcess(name, True)
        except xmlrpc.client.Fault:
            pass
        proxy.supervisor.startProcess(name, False)

    def _group_names(self) -> set[str]:
        try:
            return {p["group"] for p in self._proxy().supervisor.getAllProcessInfo()}
        except (OSError, xmlrpc.client.Fault, xmlrpc.client.ProtocolError):
            return set()

    def states(self) -> dict[str, ProcessInfo]:
        """Return every supervised process (empty if supervisord is not running)."""
        try:
            infos = self._proxy().supervisor.getAllProcessInfo()
        except (OSError, xmlrpc.client.Fault, xmlrpc.client.ProtocolError):
            return {}
        return {
            i["name"]: ProcessInfo(
                i["name"], i["statename"], int(i["pid"]), int(i["start"]), i["description"], i["spawnerr"]
            )
            for i in infos
        }

    def info(self, name: str) -> ProcessInfo | None:
        return self.states().get(name)

    def wait_running(self, name: str, *, timeout: float, started: bool = False) -> ProcessInfo:
        """Wait until ``name`` is RUNNING (or, with ``started``, at least STARTING: the caller then
        checks readiness itself). Raise PermanentError if it gives up (FATAL)."""
        last: list[ProcessInfo | None] = [None]
        good = ("RUNNING", "STARTING") if started else ("RUNNING",)

        def settled() -> bool:
            info = self.info(name)
            last[0] = info
            return info is not None and info.state in (*good, "FATAL")

        wait_until(settled, timeout=timeout, interval=0.05)
        info = last[0]
        if info is None:
            raise PermanentError(f"process {name} is not known to supervisord")
        if info.state not in good:
            raise PermanentError(f"process {name} did not stay up ({info.state}: {info.spawnerr or info.description})")
        return info
