"""The threaded server (``workers = 0``) and what every server mode shares.

Like ``ThreadedServer``: apply the memory hard limit, start listening on
``http_interface:http_port``, then preload the ``-d`` databases (installing or
upgrading as asked; with ``--stop-after-init`` the HTTP service is not
started and the process exits with the preload result), then run
``max_cron_threads`` cron threads and wait for a signal.  SIGTERM/SIGINT stop
gracefully (a second one forces the exit), SIGHUP re-executes the server, and
going over ``limit_memory_soft`` re-executes it too.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
from types import FrameType
from typing import TYPE_CHECKING

from odooplane.sim import limits
from odooplane.sim.config import Config

if TYPE_CHECKING:
    from odooplane.sim.app import Application
    from odooplane.sim.handler import HTTPServer

_logger = logging.getLogger("odoo.service.server")
CHECK_INTERVAL = 60.0  # SLEEP_INTERVAL of the threaded server's main loop
STRIPPED_ARGS = ("-s", "--save", "-u", "--update", "-i", "--init", "--i18n-overwrite", "--stop-after-init")


def make_application(config: Config, kind: str) -> Application:
    """Build this process's services and route table."""
    # Imported here: ``-i ... --stop-after-init`` never serves, and skips importing the web stack.
    from odooplane.sim import routes
    from odooplane.sim.app import Application, Services

    return Application(Services.create(config, kind), routes.build(config.release))


def preload(config: Config) -> int:
    """``preload_registries`` of the ``-d`` databases: 0, or -1 if loading one failed."""
    if not config.db_names:
        return 0
    from odooplane.sim import install  # only a server given databases loads (or installs) modules

    return install.preload_registries(config, config.db_names)


def listen_host(config: Config) -> str:
    return str(config["http_interface"] or "0.0.0.0")


def stripped_argv(argv: list[str]) -> list[str]:
    """``stripped_sys_argv``: the arguments minus -i/-u/--save (for re-execution and the gevent process)."""
    result: list[str] = []
    skip = False
    for index, arg in enumerate(argv):
        if skip:
            skip = False
            continue
        name = arg.split("=", 1)[0]
        if name in STRIPPED_ARGS:
            skip = "=" not in arg and name in ("-u", "--update", "-i", "--init") and index + 1 < len(argv)
            continue
        if arg.startswith(("-i", "-u")) and len(arg) > 2:
            continue
        result.append(arg)
    return result


def reexec(argv: list[str]) -> None:
    """Replace this process by a fresh server with (nearly) the same arguments."""
    logging.shutdown()
    os.execv(sys.executable, [sys.executable, "-m", "odooplane.sim", *stripped_argv(argv)])  # noqa: S606


class ThreadedServer:
    """``workers = 0``: HTTP and cron threads in one process."""

    def __init__(self, config: Config, argv: list[str]) -> None:
        self.config = config
        self.argv = argv
        self.app: Application | None = None  # built when the server serves (not with --stop-after-init)
        self.httpd: HTTPServer | None = None
        self.quit = threading.Event()
        self.signals = 0
        self.phoenix = False

    def _signal(self, sig: int, frame: FrameType | None) -> None:
        self.signals += 1
        if self.signals > 1:
            sys.stderr.write("Forced shutdown.\n")
            os._exit(0)
        self.phoenix = sig == signal.SIGHUP
        self.quit.set()

    def start_http(self, app: Application) -> None:
        from odooplane.sim.handler import HTTPServer, bind

        host, port = listen_host(self.config), int(self.config["http_port"])
        self.httpd = HTTPServer((host, port), bind(app))
        _logger.info("HTTP service (werkzeug) running on %s:%s", socket.getfqdn() if host == "0.0.0.0" else host,
                     self.httpd.server_address[1])
        threading.Thread(target=self.httpd.serve_forever, name="odoo.service.httpd", daemon=True).start()

    def run(self) -> int:
        config = self.config
        limits.set_limit_memory_hard(config)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, self._signal)
        if config.stop_after_init:
            rc = preload(config)
            self.stop()
            return rc
        from odooplane.sim import cron

        self.app = app = make_application(config, "threaded")
        if config["http_enable"]:
            self.start_http(app)
        rc = preload(config)
        for dbname in config.db_names if rc == 0 else []:
            try:
                # preload_registries put the registry in this process's LRU: threaded crons visit it
                app.services.registries.get(dbname, quiet=True)
            except Exception:
                _logger.debug("registry of %s not loaded", dbname, exc_info=True)
        services = app.services

        def loaded() -> list[str]:
            return [registry.db_name for registry in services.registries.loaded() if registry.ready]

        for number in range(int(config["max_cron_threads"] or 0)):
            threading.Thread(target=cron.cron_thread, args=(number, config, loaded, services.stopping),
                             name=f"odoo.service.cron.cron{number}", daemon=True).start()
        while not self.quit.wait(CHECK_INTERVAL):
            soft = int(config["limit_memory_soft"] or 0)
            if soft and limits.virtual_memory() > soft:
                _logger.warning("Server memory limit (%s) reached.", limits.virtual_memory())
                self.phoenix = True
                break
        self.stop()
        if self.phoenix:
            _logger.info("Initiating server reload")
            reexec(self.argv)
        return 0

    def stop(self) -> None:
        if not self.phoenix:
            _logger.info("Initiating shutdown")
            _logger.info("Hit CTRL-C again or send a second signal to force the shutdown.")
        if self.app is not None:
            self.app.services.stopping.set()
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
        if self.app is not None:
            self.app.services.pool.close_all()
