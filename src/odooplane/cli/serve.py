"""``odooplane serve``: the control plane as a service (REST API; docs/api.md)."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from pathlib import Path

import typer

from odooplane.cli.output import err, errors
from odooplane.errors import UsageError


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:8810`` for IPv6) → (host, port); raise UsageError otherwise."""
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--listen {text!r}: expected HOST:PORT (127.0.0.1:8810)")
    return host, int(port)


def _wait_for_signal() -> None:
    """Block until SIGTERM or SIGINT."""
    import threading

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(1.0):
        pass


def _log_requests() -> None:
    """The service's access log on stderr: one line per request, with its actor."""
    import logging

    logger = logging.getLogger("odooplane.api.access")
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s access %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def _server_class() -> type:
    import uvicorn

    class Server(uvicorn.Server):
        """Stops gracefully on SIGTERM or SIGINT and then exits 0 (uvicorn's own re-raises the signal
        after its graceful shutdown, so a supervisor would see a process killed by it)."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            originals = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for sig, handler in originals.items():
                    signal.signal(sig, handler)

    return Server


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        estate: Path = typer.Option(None, "--estate", "-f", help="Estate file (default: the last applied)."),
        listen: str = typer.Option("127.0.0.1:8810", "--listen", help="HOST:PORT to serve on."),
        access_log: bool = typer.Option(True, "--access-log/--no-access-log",
                                        help="One line per request on stderr, with its actor."),
        executors: int = typer.Option(2, "--executors", min=0, max=32,
                                      help="Worker threads running queued operations (0: none here)."),
        api: bool = typer.Option(True, "--api/--no-api",
                                 help="--no-api: only run queued operations (a worker process of its own)."),
        secure_cookies: bool = typer.Option(False, "--secure-cookies",
                                            help="Mark the dashboard's cookies Secure even when the request came "
                                                 "over plain HTTP (behind a TLS-terminating proxy)."),
    ) -> None:
        """Serve the REST API (/api/v1, OpenAPI at /api/v1/openapi.json) for the estate and run the
        operations it queues; it follows edits of the estate file. Several processes may share one
        estate (a PostgreSQL state database): each claims queued operations, and resumes those of a
        process that died. Stop with Ctrl-C or SIGTERM (operations in progress finish first, up to 30 s)."""
        import uvicorn

        from odooplane.actions import estate_file

        _Server = _server_class()
        from odooplane.actions import access as access_action
        from odooplane.actions.executor import Executor
        from odooplane.actions.service import Service
        from odooplane.api.app import create_app
        from odooplane.web import app as dashboard
        from odooplane.web import oidc as oidc_web

        with errors():
            host, port = parse_listen(listen)
            if not api and executors == 0:
                raise UsageError("--no-api with --executors 0 would do nothing")
            svc = Service.open(estate_file.locate(estate))
        executor = Executor(svc, threads=executors)
        try:
            executor.start()
            if not api:
                err.print(f"odooplane: running queued operations of {svc.path} ({executors} thread(s))")
                _wait_for_signal()
                return
            err.print(f"odooplane: serving {svc.path} on http://{host if ':' not in host else f'[{host}]'}:{port}/ "
                      f"(dashboard: /, API: /api/v1, OpenAPI: /api/v1/openapi.json; {executors} executor thread(s))")
            if access_log:
                _log_requests()
            app = create_app(svc, executor=executor)
            with errors():
                oidc = access_action.oidc_settings(svc.context())
            dashboard.install(app, secure_cookies=True if secure_cookies else None,
                              oidc=oidc_web.load(*oidc) if oidc else None)
            config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                                    server_header=False)
            _Server(config).run()
        finally:
            executor.stop()
            svc.close()
            err.print("odooplane: stopped")
