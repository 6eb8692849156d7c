"""Size-based log rotation for files written by processes that reopen them (Odoo's
WatchedFileHandler notices the move; Traefik is told with SIGUSR1). supervisord rotates the
logs it captures itself."""

from __future__ import annotations

from pathlib import Path

MAX_BYTES = 20 * 1024 * 1024
BACKUPS = 5


def rotate(path: Path, *, max_bytes: int = MAX_BYTES, backups: int = BACKUPS) -> bool:
    """Rotate ``path`` to ``path.1`` (shifting older ones, dropping the oldest) when it is larger
    than ``max_bytes``; return True if it was rotated."""
    try:
        if path.stat().st_size < max_bytes:
            return False
    except FileNotFoundError:
        return False
    oldest = path.with_name(f"{path.name}.{backups}")
    oldest.unlink(missing_ok=True)
    for index in range(backups - 1, 0, -1):
        older = path.with_name(f"{path.name}.{index}")
        if older.exists():
            older.rename(path.with_name(f"{path.name}.{index + 1}"))
    path.rename(path.with_name(f"{path.name}.1"))
    return True
