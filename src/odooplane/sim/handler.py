"""Serving one HTTP connection: parse, dispatch to the Application, write, log.

Every response closes the connection (``Connection: close``, as Odoo's
werkzeug servers do) except a ``101`` upgrade, whose socket is handed to the
response's ``upgrade`` callback.  Accepted sockets get ``TCP_NODELAY``.  Each
request produces a werkzeug-style access line on the ``werkzeug`` logger,
tagged with the request's database and perf counters, plus
``request_id=...`` when the client sent ``X-Request-Id`` (or a W3C ``traceparent``: its trace id).  ``HTTPServer`` is
the threaded server the threaded and evented modes listen with.
"""

from __future__ import annotations

import http.server
import logging
import socket
import socketserver
import sys
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any, ClassVar

from odooplane.sim import dbrouter, httpio, logs

if TYPE_CHECKING:
    from odooplane.sim.app import Application

_access = logging.getLogger("werkzeug")
_logger = logging.getLogger("odoo.service.server")
MAX_BODY = 128 * 1024 * 1024  # DEFAULT_MAX_CONTENT_LENGTH


class Handler(BaseHTTPRequestHandler):
    """A BaseHTTPRequestHandler bound to an Application (set on a subclass by ``bind``)."""

    protocol_version = "HTTP/1.1"
    wbufsize = -1  # buffered: the status line, headers and a small body leave in one send (flushed in _write)
    server_version = "Werkzeug/3.0.6 odooplane-sim"  # werkzeug-like, but says it is the simulator
    app: ClassVar[Application]

    def setup(self) -> None:
        super().setup()
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:
        _logger.debug(format, *args)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # logged once the response is fully written, see _serve

    def _serve(self) -> None:
        logs.start_request()
        self.close_connection = True
        headers = {key.lower(): value for key, value in self.headers.items()}
        routed = self.headers.get_all(dbrouter.HEADER) or []
        if len(routed) > 1:
            # werkzeug joins repeated headers with "," in the WSGI environ (the value then names no database).
            headers[dbrouter.HEADER] = ",".join(routed)
        length = int(headers.get("content-length") or 0)
        if length > MAX_BODY:
            self._write(httpio.error_page(413, "The data value transmitted exceeds the capacity limit."))
            return
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = self._read_chunked()
        else:
            body = self.rfile.read(length) if length > 0 else b""
        path, _, query = self.path.partition("?")
        request = httpio.Request(method=self.command, path=path or "/", query_string=query, headers=headers,
                                 body=body, remote_addr=self.client_address[0] if self.client_address else "",
                                 requestline=self.requestline)
        try:
            response = self.app(request)
        except Exception:
            _logger.exception("Exception happened during processing of request from %s", self.client_address)
            response = httpio.error_page(500)
        self._write(response)
        _access.info(logs.access_line(address=request.remote_addr, requestline=self.requestline,
                                      status=response.status, request_id=request_id_of(headers)))
        logs.set_dbname(None)
        self.app.services.counter.served()
        if response.upgrade is not None:
            response.upgrade(self.connection)

    def _read_chunked(self) -> bytes:
        body = b""
        while len(body) <= MAX_BODY:
            size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline().strip():  # trailers
                    pass
                break
            body += self.rfile.read(size)
            self.rfile.readline()
        return body

    def _write(self, response: httpio.Response) -> None:
        self.send_response(response.status, httpio.reason(response.status))
        upgrading = response.status == 101
        for key, value in response.headers:
            self.send_header(key, value)
        if not upgrading:
            self.send_header("Content-Length", str(len(response.body)))
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and not upgrading:
            self.wfile.write(response.body)
        self.wfile.flush()

    do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _serve


class HTTPServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    """A threaded HTTP server whose threads die with the process."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], handler: type[http.server.BaseHTTPRequestHandler]) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # LoggingBaseWSGIServerMixIn: a client that hung up is not an error; anything else goes to the log.
        error = sys.exc_info()[1]
        if isinstance(error, BrokenPipeError | ConnectionResetError):
            return
        _logger.exception("Exception happened during processing of request from %s", client_address)


def bind(app: Application, *, timeout: float | None = None) -> type[Handler]:
    """Return a Handler class serving ``app``, with an optional socket timeout."""
    return type("BoundHandler", (Handler,), {"app": app, "timeout": timeout})


def request_id_of(headers: dict[str, str]) -> str | None:
    """X-Request-Id, else the trace id of a W3C ``traceparent`` (Traefik's tracing sets it)."""
    explicit = headers.get("x-request-id")
    if explicit:
        return explicit
    parts = (headers.get("traceparent") or "").split("-")
    return parts[1] if len(parts) == 4 and len(parts[1]) == 32 else None
