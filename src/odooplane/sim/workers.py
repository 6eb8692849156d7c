"""Prefork worker processes: HTTP workers and cron workers (``Worker`` in Odoo).

Each worker loops: check its limits (parent still alive, request count under
``limit_request``, virtual size under ``limit_memory_soft``, memory hard limit
and per-request CPU limit re-armed), ping the master's watchdog, wait for work
(a connection on the shared socket, or the cron interval), do one unit of
work.  SIGINT asks it to finish the current unit and exit; SIGTERM kills it.
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
import time
from types import FrameType

from odooplane.sim import cron, database, limits
from odooplane.sim.config import Config
from odooplane.sim.server import make_application

_logger = logging.getLogger("odoo.service.server")
BEAT = 4.0
SOCKET_TIMEOUT = float(os.environ.get("ODOO_HTTP_SOCKET_TIMEOUT") or 2)


def _pipe() -> tuple[int, int]:
    read_fd, write_fd = os.pipe()
    for fd in (read_fd, write_fd):
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)
        fcntl.fcntl(fd, fcntl.F_SETFD, fcntl.fcntl(fd, fcntl.F_GETFD) | fcntl.FD_CLOEXEC)
    return read_fd, write_fd


class Worker:
    """What HTTP and cron workers share."""

    def __init__(self, config: Config, listen_socket: socket.socket | None, *, timeout: int) -> None:
        self.config = config
        self.socket = listen_socket
        self.watchdog_pipe = _pipe()
        self.wakeup_pipe = _pipe()
        self.watchdog_time = time.time()
        self.watchdog_timeout = timeout or None
        self.ppid = os.getpid()
        self.pid = 0
        self.alive = True
        self.request_max = int(config["limit_request"] or 2**16)
        self.request_count = 0

    def attach_parent(self, pid: int) -> None:
        """Called in the master after fork."""
        self.pid = pid

    def close(self) -> None:
        for fd in (*self.watchdog_pipe, *self.wakeup_pipe):
            with contextlib.suppress(OSError):
                os.close(fd)

    def _stop(self, sig: int, frame: FrameType | None) -> None:
        self.alive = False

    def _cpu_exceeded(self, sig: int, frame: FrameType | None) -> None:
        _logger.info("Worker (%d) CPU time limit (%s) reached.", self.pid, self.config["limit_time_cpu"])
        logging.shutdown()
        os._exit(1)

    def start(self) -> None:
        self.pid = os.getpid()
        limits.die_with_parent(signal.SIGTERM)
        if os.getppid() != self.ppid:
            os._exit(0)
        _logger.info("Worker %s (%s) alive", type(self).__name__, self.pid)
        signal.signal(signal.SIGINT, self._stop)
        signal.signal(signal.SIGXCPU, self._cpu_exceeded)
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        signal.set_wakeup_fd(self.wakeup_pipe[1])

    def check_limits(self) -> None:
        if os.getppid() != self.ppid:
            _logger.info("Worker (%s) Parent changed", self.pid)
            self.alive = False
        if self.request_count >= self.request_max:
            _logger.info("Worker (%d) max request (%s) reached.", self.pid, self.request_count)
            self.alive = False
        soft = int(self.config["limit_memory_soft"] or 0)
        if soft and limits.virtual_memory() > soft:
            _logger.info("Worker (%d) virtual memory limit (%s) reached.", self.pid, limits.virtual_memory())
            self.alive = False
        limits.set_limit_memory_hard(self.config)
        limits.rearm_cpu_limit(self.config)

    def sleep(self) -> None:
        raise NotImplementedError

    def process_work(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        """Release what ``start`` acquired."""

    def run(self) -> int:
        """The worker's main loop; return its exit code."""
        try:
            self.start()
            while self.alive:
                self.check_limits()
                with contextlib.suppress(OSError):
                    os.write(self.watchdog_pipe[1], b".")
                self.sleep()
                if not self.alive:
                    break
                self.process_work()
            _logger.info("Worker (%s) exiting. request_count: %s.", self.pid, self.request_count)
            self.stop()
            return 0
        except Exception:
            _logger.exception("Worker (%s) Exception occurred, exiting...", self.pid)
            return 1


class HttpWorker(Worker):
    """Accepts connections on the shared socket, one request per connection."""

    def start(self) -> None:
        from odooplane.sim.handler import bind

        super().start()
        self.app = make_application(self.config, "prefork")
        self.handler = bind(self.app, timeout=SOCKET_TIMEOUT)

    def sleep(self) -> None:
        assert self.socket is not None
        try:
            select.select([self.socket.fileno(), self.wakeup_pipe[0]], [], [], BEAT)
            with contextlib.suppress(OSError):
                while os.read(self.wakeup_pipe[0], 4096):
                    pass
        except OSError as exc:
            if exc.errno != errno.EINTR:
                raise

    def process_work(self) -> None:
        assert self.socket is not None
        try:
            client, address = self.socket.accept()
        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
            return
        client.setblocking(True)
        fcntl.fcntl(client, fcntl.F_SETFD, fcntl.fcntl(client, fcntl.F_GETFD) | fcntl.FD_CLOEXEC)
        try:
            self.handler(client, address, None)  # type: ignore[arg-type]
        except OSError as exc:
            if exc.errno not in (errno.EPIPE, errno.ECONNRESET):
                raise
        finally:
            with contextlib.suppress(OSError):
                client.close()
        self.request_count += 1

    def stop(self) -> None:
        self.app.services.pool.close_all()


class CronWorker(Worker):
    """Round-robins over the databases of the pool, one database per wake-up."""

    def __init__(self, config: Config, listen_socket: socket.socket | None, *, timeout: int) -> None:
        super().__init__(config, listen_socket, timeout=timeout)
        self.db_index = 0

    def start(self) -> None:
        os.nice(10)  # be nice with the HTTP workers, as Odoo's cron workers are
        super().start()
        if self.socket is not None:
            self.socket.close()
        self.conn = cron.listen(self.config)

    def sleep(self) -> None:
        if self.db_index == 0:
            # real Odoo: SLEEP_INTERVAL (60 s) + pid % 10 s of "chorus" jitter; scaled to sim_cron_interval
            interval = self.config.sim.cron_interval * (1 + (self.pid % 10) / 60)
            cron.wait(self.conn, interval, self.wakeup_pipe[0])
            with contextlib.suppress(OSError):
                while os.read(self.wakeup_pipe[0], 4096):
                    pass

    def process_work(self) -> None:
        db_names = cron.cron_db_list(self.config)
        if not db_names:
            self.db_index = 0
            return
        self.db_index = (self.db_index + 1) % len(db_names)
        cron.process_jobs(self.config, db_names[self.db_index])
        self.request_count += 1
        if self.request_count >= self.request_max and self.request_max < len(db_names):
            _logger.error("There are more dabatases to process than allowed by the `limit_request` configuration "
                          "variable: %s more.", len(db_names) - self.request_max)

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()
        database.forget_db_list()
