"""Fault-injection points for crash tests: a multi-statement action calls :func:`point` between
its statements, so a test can kill the process *inside* a step (between ``CREATE DATABASE`` and
the statement that marks it, between two renames of a swap…), not only at step boundaries.

Two environment variables, read on every call (so a test sets them per subprocess):

- ``ODOOPLANE_TEST_TRACE_POINTS=FILE``: append the name of every point reached to ``FILE`` (one
  per line), so a test learns which points an operation passes through;
- ``ODOOPLANE_TEST_KILL_POINT=NAME[#N]``: SIGKILL this process at the ``N``-th time (default 1)
  ``NAME`` is reached. Names may end with ``*`` to match a prefix.

Both are no-ops in production: nothing is read or written when they are unset.
"""

from __future__ import annotations

import os
import signal
import threading

TRACE_ENV = "ODOOPLANE_TEST_TRACE_POINTS"
KILL_ENV = "ODOOPLANE_TEST_KILL_POINT"

_hits: dict[str, int] = {}
_lock = threading.Lock()


def _matches(pattern: str, name: str) -> bool:
    return name.startswith(pattern[:-1]) if pattern.endswith("*") else name == pattern


def point(name: str) -> None:
    """Mark a point where a crash may happen. Kill the process here if a test asked for it."""
    trace = os.environ.get(TRACE_ENV)
    kill = os.environ.get(KILL_ENV)
    if not trace and not kill:
        return
    with _lock:
        if trace:
            with open(trace, "a", encoding="utf-8") as out:
                out.write(name + "\n")
        if kill:
            pattern, _, nth = kill.partition("#")
            if _matches(pattern, name):
                _hits[pattern] = _hits.get(pattern, 0) + 1
                if _hits[pattern] == int(nth or "1"):
                    os.kill(os.getpid(), signal.SIGKILL)
