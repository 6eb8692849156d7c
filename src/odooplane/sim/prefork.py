"""The prefork server (``workers >= 1``): a master and its worker processes.

Like ``PreforkServer``: the master binds ``http_port``, preloads the ``-d``
databases, then keeps ``workers`` HTTP worker processes accepting on the
shared socket, ``max_cron_threads`` cron worker processes, and the evented
process (``gevent`` subcommand, serving ``/websocket`` on ``gevent_port``).
Workers ping a watchdog pipe; one silent for ``limit_time_real`` is killed.
An HTTP worker exits after ``limit_request`` requests or past
``limit_memory_soft`` and is replaced.  SIGINT/SIGTERM stop everything and
reap every child; children die with the master (PR_SET_PDEATHSIG, and a
parent check every beat).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import time
from types import FrameType

from odooplane.sim.config import Config
from odooplane.sim.server import listen_host, preload, stripped_argv
from odooplane.sim.workers import CronWorker, HttpWorker, Worker

_logger = logging.getLogger("odoo.service.server")
BEAT = 4.0


def pipe_new() -> tuple[int, int]:
    """A non-blocking, close-on-exec pipe."""
    read_fd, write_fd = os.pipe()
    for fd in (read_fd, write_fd):
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)
        fcntl.fcntl(fd, fcntl.F_SETFD, fcntl.fcntl(fd, fcntl.F_GETFD) | fcntl.FD_CLOEXEC)
    return read_fd, write_fd


def empty_pipe(fd: int) -> None:
    with contextlib.suppress(OSError):
        while os.read(fd, 4096):
            pass


class PreforkServer:
    """The master process."""

    def __init__(self, config: Config, argv: list[str]) -> None:
        self.config = config
        self.argv = argv
        self.population = int(config["workers"])
        self.timeout = int(config["limit_time_real"] or 0)
        cron_timeout = int(config["limit_time_real_cron"] or 0)
        self.cron_timeout = self.timeout if cron_timeout == -1 else cron_timeout
        self.socket: socket.socket | None = None
        self.workers: dict[int, Worker] = {}
        self.evented: subprocess.Popen[bytes] | None = None
        self.queue: list[int] = []
        self.pipe = pipe_new()

    def _signal(self, sig: int, frame: FrameType | None) -> None:
        if len(self.queue) < 5 or sig == signal.SIGCHLD:
            self.queue.append(sig)
            with contextlib.suppress(OSError):
                os.write(self.pipe[1], b".")

    def start(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD):
            signal.signal(sig, self._signal)
        if self.config["http_enable"]:
            host, port = listen_host(self.config), int(self.config["http_port"])
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            self.socket = socket.socket(family, socket.SOCK_STREAM)
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.socket.setblocking(False)
            self.socket.bind((host, port))
            self.socket.listen(8 * self.population)
            _logger.info("HTTP service (werkzeug) running on %s:%s", host, self.socket.getsockname()[1])

    def spawn(self, kind: type[Worker]) -> None:
        worker = kind(self.config, self.socket, timeout=self.cron_timeout if kind is CronWorker else self.timeout)
        pid = os.fork()
        if pid:
            worker.attach_parent(pid)
            self.workers[pid] = worker
            return
        code = 1
        try:
            os.close(self.pipe[0])
            os.close(self.pipe[1])
            code = worker.run()
        finally:
            logging.shutdown()
            os._exit(code)

    def spawn_evented(self) -> None:
        command = [sys.executable, "-m", "odooplane.sim", "gevent", *stripped_argv(self.argv)]
        self.evented = subprocess.Popen(command, close_fds=True)

    def process_spawn(self) -> None:
        if self.config["http_enable"]:
            while sum(isinstance(w, HttpWorker) for w in self.workers.values()) < self.population:
                self.spawn(HttpWorker)
            if self.evented is None or self.evented.poll() is not None:
                self.spawn_evented()
        while sum(isinstance(w, CronWorker) for w in self.workers.values()) < int(self.config["max_cron_threads"]):
            self.spawn(CronWorker)

    def process_zombie(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if not pid:
                return
            worker = self.workers.pop(pid, None)
            if worker is not None:
                worker.close()
                if os.WIFEXITED(status) and os.WEXITSTATUS(status) not in (0,):
                    _logger.warning("Worker (%s) exited with code %s", pid, os.WEXITSTATUS(status))
            elif self.evented is not None and pid == self.evented.pid:
                self.evented.returncode = os.waitstatus_to_exitcode(status)

    def process_timeout(self) -> None:
        now = time.time()
        for pid, worker in list(self.workers.items()):
            if worker.watchdog_timeout and now - worker.watchdog_time >= worker.watchdog_timeout:
                _logger.error("%s (%s) timeout after %ss", type(worker).__name__, pid, worker.watchdog_timeout)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    def sleep(self) -> None:
        fds = {worker.watchdog_pipe[0]: worker for worker in self.workers.values()}
        try:
            ready, _, _ = select.select([*fds, self.pipe[0]], [], [], BEAT)
        except OSError as exc:
            if exc.errno != errno.EINTR:
                raise
            return
        for fd in ready:
            if fd in fds:
                fds[fd].watchdog_time = time.time()
            empty_pipe(fd)

    def run(self) -> int:
        self.start()
        rc = preload(self.config)
        if self.config.stop_after_init:
            self.stop()
            return rc
        while True:
            try:
                while self.queue:
                    if self.queue.pop(0) in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                        raise KeyboardInterrupt
                self.process_zombie()
                self.process_timeout()
                self.process_spawn()
                self.sleep()
            except KeyboardInterrupt:
                self.stop()
                return 0
            except Exception:
                _logger.exception("Multiprocess exception")
                self.stop(graceful=False)
                return -1

    def stop(self, *, graceful: bool = True) -> None:
        """Stop the evented process and every worker, and reap them all (no orphans)."""
        if self.evented is not None and self.evented.poll() is None:
            self.evented.kill()  # real Odoo SIGKILLs the gevent process too
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.evented.wait(10)
        if self.socket is not None:
            self.socket.close()
        if graceful:
            _logger.info("Stopping gracefully")
            for pid in list(self.workers):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGINT)
            deadline = time.time() + min(self.timeout or 10, 10)
            while self.workers and time.time() < deadline:
                self.process_zombie()
                time.sleep(0.05)
        else:
            _logger.info("Stopping forcefully")
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in list(self.workers):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            deadline = time.time() + 2
            while self.workers and time.time() < deadline:
                self.process_zombie()
                time.sleep(0.02)
        for pid in list(self.workers):
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
            self.workers.pop(pid).close()
