"""``logs``: an environment's Odoo log (or the edge's), filtered and optionally followed."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from odooplane.actions import estate_file
from odooplane.errors import NotFound, UsageError
from odooplane.estate.resolve import EnvRef

_ODOO_LINE = re.compile(r"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}),\d+ \d+ (\w+) ")
LEVELS = ("debug", "info", "warning", "error", "critical")


@dataclass(frozen=True)
class LogQuery:
    since: dt.timedelta | None = None
    level: str | None = None
    grep: str | None = None
    lines: int = 100


def parse_since(text: str) -> dt.timedelta:
    """Parse ``90s``, ``10m``, ``2h``, ``1d``; raise UsageError otherwise."""
    match = re.fullmatch(r"(\d+)([smhd])", text.strip())
    if not match:
        raise UsageError(f"--since {text!r}: use a number and a unit, like 30s, 10m, 2h or 1d")
    value, unit = int(match.group(1)), match.group(2)
    return dt.timedelta(seconds=value * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit])


def log_file(path: Path | None, target: str) -> Path:
    valid = estate_file.load(path)
    from odooplane.layout import Layout

    layout = Layout(valid.data_dir)
    if target == "edge":
        return layout.access_log
    try:
        ref = EnvRef.parse(target)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    if valid.environment(ref) is None:
        raise NotFound(f"{target}: no such environment in {valid.path}")
    return layout.odoo_log(ref.slug)


def _keep(line: str, query: LogQuery, now: dt.datetime) -> bool:
    if query.grep and query.grep not in line:
        return False
    match = _ODOO_LINE.match(line)
    if query.level:
        level = match.group(2).lower() if match else ""
        if level not in LEVELS or LEVELS.index(level) < LEVELS.index(query.level):
            return False
    if query.since and match:
        stamp = dt.datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.UTC)
        if now - stamp > query.since:
            return False
    return True


def read(file: Path, query: LogQuery) -> list[str]:
    if query.level and query.level not in LEVELS:
        raise UsageError(f"--level {query.level!r}: one of {', '.join(LEVELS)}")
    if not file.exists():
        return []
    now = dt.datetime.now(dt.UTC)
    lines = [ln.rstrip("\n") for ln in file.read_text(errors="replace").splitlines()]
    kept = [ln for ln in lines if _keep(ln, query, now)]
    return kept[-query.lines :] if query.lines else kept


def follow(file: Path, query: LogQuery, *, poll: float = 0.25) -> Iterator[str]:
    """Yield new lines appended to ``file`` (re-opening it after rotation) until interrupted."""
    position = file.stat().st_size if file.exists() else 0
    inode = file.stat().st_ino if file.exists() else None
    while True:
        if file.exists():
            stat = file.stat()
            if stat.st_ino != inode or stat.st_size < position:
                position, inode = 0, stat.st_ino
            if stat.st_size > position:
                with open(file, errors="replace") as handle:
                    handle.seek(position)
                    chunk = handle.read()
                    position = handle.tell()
                now = dt.datetime.now(dt.UTC)
                for line in chunk.splitlines():
                    if _keep(line, query, now):
                        yield line
        time.sleep(poll)
