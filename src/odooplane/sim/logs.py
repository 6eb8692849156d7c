"""Logging in Odoo's format (``odoo/netsvc.py``).

Every line is ``%(asctime)s %(pid)s %(levelname)s %(dbname)s %(name)s:
%(message)s %(perf_info)s``, e.g. ``2025-01-31 10:00:00,123 4242 INFO acme
odoo.modules.loading: Modules loaded.`` (note the trailing space when there is
no perf info, as in real Odoo).  The database name is per thread, ``?`` when
none.  HTTP access lines come from the ``werkzeug`` logger and carry
``query_count query_time remaining_time`` of the request that produced them.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
import threading
import time

from odooplane.sim.config import Config

FORMAT = "%(asctime)s %(pid)s %(levelname)s %(dbname)s %(name)s: %(message)s %(perf_info)s"
LEVELS = {
    "debug": logging.DEBUG, "debug_rpc": logging.DEBUG, "debug_rpc_answer": logging.DEBUG,
    "debug_sql": logging.DEBUG, "info": logging.INFO, "runbot": logging.INFO, "test": logging.INFO,
    "warn": logging.WARNING, "error": logging.ERROR, "critical": logging.CRITICAL, "notset": logging.NOTSET,
}
_MONTHS = ("", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

_state = threading.local()


def set_dbname(dbname: str | None) -> None:
    """Tag the current thread's log lines with ``dbname`` (None: ``?``)."""
    _state.dbname = dbname


def start_request() -> None:
    """Reset the current thread's per-request counters (query count/time, start time)."""
    _state.query_count = 0
    _state.query_time = 0.0
    _state.perf_t0 = time.monotonic()
    _state.dbname = None


def count_query(duration: float) -> None:
    """Account one SQL query of ``duration`` seconds to the current request, if any."""
    if hasattr(_state, "query_count"):
        _state.query_count += 1
        _state.query_time += duration


class DBFormatter(logging.Formatter):
    """Adds ``pid`` and ``dbname`` to every record."""

    def format(self, record: logging.LogRecord) -> str:
        record.pid = os.getpid()
        record.dbname = getattr(_state, "dbname", None) or "?"
        if not hasattr(record, "perf_info"):
            record.perf_info = ""
        return super().format(record)


class PerfFilter(logging.Filter):
    """On ``werkzeug`` records, append the request's query count and timings."""

    def filter(self, record: logging.LogRecord) -> bool:
        if hasattr(_state, "query_count"):
            remaining = time.monotonic() - _state.perf_t0 - _state.query_time
            record.perf_info = f"{_state.query_count} {_state.query_time:.3f} {remaining:.3f}"
            del _state.query_count
        else:
            record.perf_info = "- - -"
        return True


def setup(config: Config) -> None:
    """Install Odoo-style handlers on the root logger, to ``logfile`` or stderr."""
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
        existing.close()
    logfile = config["logfile"]
    handler: logging.Handler
    if logfile:
        os.makedirs(os.path.dirname(str(logfile)) or ".", exist_ok=True)
        # WatchedFileHandler reopens the file after logrotate moves it, like Odoo.
        handler = logging.handlers.WatchedFileHandler(str(logfile))
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(DBFormatter(FORMAT))
    root.addHandler(handler)
    root.setLevel(LEVELS.get(str(config["log_level"]), logging.INFO))
    werkzeug = logging.getLogger("werkzeug")
    for old_filter in list(werkzeug.filters):
        werkzeug.removeFilter(old_filter)
    werkzeug.addFilter(PerfFilter())


def access_line(*, address: str, requestline: str, status: int, request_id: str | None) -> str:
    """Return a werkzeug-style access message: ``addr - - [date] "line" status -``.

    A sanitised ``request_id=...`` is appended when the request carried
    ``X-Request-Id`` (a simulator addition: real Odoo does not log it).
    """
    now = time.localtime()
    stamp = (f"{now.tm_mday:02d}/{_MONTHS[now.tm_mon]}/{now.tm_year:04d} "
             f"{now.tm_hour:02d}:{now.tm_min:02d}:{now.tm_sec:02d}")
    line = f'{address} - - [{stamp}] "{requestline}" {status} -'
    if request_id:
        safe = "".join(ch for ch in request_id[:128] if ch.isalnum() or ch in "-_.:/+=")
        line += f" request_id={safe}"
    return line
