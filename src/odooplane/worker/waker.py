"""The waker (loopback): where the edge sends the requests of a sleeping environment that wakes on
request. It answers a "waking up" page (503, Retry-After) and records the wake request; the
worker's next tick — nudged at once — starts the environment and routes it back to Odoo."""

from __future__ import annotations

import html
import logging
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

logger = logging.getLogger(__name__)
RETRY_S = 5
PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="{retry}">
<title>Waking up</title><style>body{{font-family:sans-serif;max-width:36em;margin:4em auto;color:#1b1f24}}</style>
</head><body><h1>Waking up</h1><p>{target} was asleep outside its working hours. It is starting now:
this page reloads by itself every {retry} seconds until it answers.</p></body></html>
"""


def serve(port: int, wake: Callable[[str], str | None], *, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """Serve the waker in a background thread. ``wake(hostname)`` records a wake request and returns
    the environment it is for (None: no sleeping environment has that hostname)."""
    seen: dict[str, float] = {}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            hostname = (self.headers.get("Host") or "").split(":")[0].lower()
            with lock:  # one wake request per hostname every few seconds, whatever the traffic
                fresh = time.monotonic() - seen.get(hostname, -1e9) > RETRY_S
                if fresh:
                    seen[hostname] = time.monotonic()
            target = wake(hostname) if fresh else hostname
            if target is None:
                self.send_error(404, "no sleeping environment has this hostname")
                return
            body = PAGE.format(retry=RETRY_S, target=html.escape(target)).encode()
            self.send_response(503)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Retry-After", str(RETRY_S))
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_POST = do_HEAD = _answer

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="waker", daemon=True).start()
    return server
