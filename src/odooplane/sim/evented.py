"""The evented process (``odoo-bin gevent``), started by the prefork master.

It serves the whole application on ``gevent_port`` (``longpolling_port``
before 16) with the raw socket available to routes, so ``/websocket``
upgrades here (and ``/longpolling/poll`` waits here before 16).  Real Odoo
uses gevent; the simulator uses threads.  Its watchdog exits when the parent
changes or past ``limit_memory_soft_gevent`` (else ``limit_memory_soft``).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from types import FrameType

from odooplane.sim import limits
from odooplane.sim.config import Config
from odooplane.sim.handler import HTTPServer, bind
from odooplane.sim.server import listen_host, make_application

_logger = logging.getLogger("odoo.service.server")
BEAT = 4.0


class EventedServer:
    """``GeventServer``."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.app = make_application(config, "evented")
        self.ppid = os.getppid()
        self.httpd: HTTPServer | None = None

    def _signal(self, sig: int, frame: FrameType | None) -> None:
        if self.httpd is not None:
            threading.Thread(target=self.httpd.shutdown, daemon=True).start()

    def _watchdog(self) -> None:
        soft = int(self.config["limit_memory_soft_gevent"] or self.config["limit_memory_soft"] or 0)
        while not self.app.services.stopping.wait(BEAT):
            restart = False
            if os.getppid() != self.ppid:
                _logger.warning("Gevent Parent changed: %s", os.getpid())
                restart = True
            if soft and limits.virtual_memory() > soft:
                _logger.warning("Gevent virtual memory limit reached: %s", limits.virtual_memory())
                restart = True
            if restart:
                os.kill(os.getpid(), signal.SIGTERM)  # suicide: the master starts a new one

    def run(self) -> int:
        limits.die_with_parent(signal.SIGTERM)
        limits.set_limit_memory_hard(self.config, evented=True)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._signal)
        host, port = listen_host(self.config), self.config.evented_port
        self.httpd = HTTPServer((host, port), bind(self.app))
        _logger.info("Evented Service (longpolling) running on %s:%s", host, self.httpd.server_address[1])
        threading.Thread(target=self._watchdog, name="gevent-watchdog", daemon=True).start()
        try:
            self.httpd.serve_forever()
        finally:
            self.app.services.stopping.set()
            self.httpd.server_close()
            self.app.services.pool.close_all()
        return 0
