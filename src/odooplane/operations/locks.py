"""Locks: one per environment (and per cluster, and for the edge), held with ``flock`` on a file
in the data directory. The kernel releases a lock when its holder dies, so kill -9 never leaves
a stale lock behind; the file records the holder's pid for the error message."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from odooplane.errors import LockedError


@contextmanager
def hold(lock_dir: Path, name: str, *, wait: float = 0.0, what: str | None = None) -> Iterator[None]:
    """Hold the lock ``name`` for the duration of the block.

    Wait up to ``wait`` seconds for it; raise :class:`LockedError` naming the holder otherwise.
    """
    lock_dir.mkdir(parents=True, exist_ok=True)
    path = lock_dir / f"{name.replace('/', '__')}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + wait
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "another process"
                    raise LockedError(
                        f"{what or name}: locked by {holder}; wait for it to finish (or check `odooplane operations`)"
                    ) from None
                time.sleep(0.05)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
