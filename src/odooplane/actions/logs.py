"""``logs``: one environment's lines from every log that speaks of it — its Odoo log (a pooled
environment's lines out of its pool's logs), the edge's JSON access log (its routers) and its
managed PostgreSQL cluster's log (its database) — merged in time order, filtered, followed.

A request is followed across them by its id: Traefik's tracing gives every request a trace id,
written in the access log (``TraceId``) and passed to Odoo as a W3C ``traceparent`` header, which
Odooplane's Odoo logging writes as ``request_id=<id>``."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from odooplane.actions import estate_file
from odooplane.errors import KubernetesEstate, NotFound, UsageError
from odooplane.estate.models import ManagedCluster
from odooplane.estate.resolve import DesiredEnvironment, EnvRef
from odooplane.estate.validate import ValidEstate
from odooplane.layout import Layout
from odooplane.render.traefik import part_of

_ODOO_LINE = re.compile(r"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}),(\d+) \d+ (\w+) (\S+) ")
_PG_LINE = re.compile(r"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})(?:\.(\d+))? \w+ \[\d+\] (?:\S*@(\S*) )?(\w+):")
LEVELS = ("debug", "info", "warning", "error", "critical")
SOURCES = ("odoo", "edge", "postgres")
PG_LEVELS = {"DEBUG": "debug", "LOG": "info", "INFO": "info", "NOTICE": "info", "STATEMENT": "info",
              "DETAIL": "info", "HINT": "info", "CONTEXT": "info", "WARNING": "warning", "ERROR": "error",
              "FATAL": "critical", "PANIC": "critical"}


@dataclass(frozen=True)
class LogQuery:
    since: dt.timedelta | None = None
    level: str | None = None
    grep: str | None = None
    request_id: str | None = None
    lines: int = 100


@dataclass(frozen=True)
class LogLine:
    source: str  # odoo, edge, postgres
    at: dt.datetime | None
    level: str
    text: str


@dataclass(frozen=True)
class LogSource:
    """One file and how to read an environment's lines out of it."""

    name: str
    path: Path
    parse: Callable[[str], LogLine | None]  # None: not this environment's line


def parse_since(text: str) -> dt.timedelta:
    """Parse ``90s``, ``10m``, ``2h``, ``1d``; raise UsageError otherwise."""
    match = re.fullmatch(r"(\d+)([smhd])", text.strip())
    if not match:
        raise UsageError(f"--since {text!r}: use a number and a unit, like 30s, 10m, 2h or 1d")
    value, unit = int(match.group(1)), match.group(2)
    return dt.timedelta(seconds=value * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit])


def parse_sources(text: str | None, *, request_id: str | None) -> tuple[str, ...]:
    if not text:
        return SOURCES if request_id else ("odoo",)
    wanted = tuple(dict.fromkeys(s.strip() for s in text.split(",") if s.strip()))
    unknown = [s for s in wanted if s not in SOURCES]
    if unknown or not wanted:
        raise UsageError(f"--source {text!r}: a comma-separated list of {', '.join(SOURCES)}")
    return wanted


# -- parsers --------------------------------------------------------------------------------------

def odoo_parser(database: str | None) -> Callable[[str], LogLine | None]:
    """Odoo's lines; with ``database`` only the lines logged for it (a pool's log serves many)."""

    def parse(line: str) -> LogLine | None:
        match = _ODOO_LINE.match(line)
        if match is None:  # a traceback's continuation lines
            return None if database else LogLine("odoo", None, "info", line)
        if database and match.group(4) != database:
            return None
        at = dt.datetime.strptime(f"{match.group(1)}.{match.group(2)}", "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=dt.UTC)
        return LogLine("odoo", at, match.group(3).lower(), line)

    return parse


def json_object(line: str) -> dict[str, Any] | None:
    """The JSON object a log line is, or None (a line of another format)."""
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    return entry if isinstance(entry, dict) else None


def edge_parser(routers: tuple[str, ...] | None) -> Callable[[str], LogLine | None]:
    """Traefik's JSON access log; with ``routers`` only requests those routers served."""

    def parse(line: str) -> LogLine | None:
        entry = json_object(line)
        if entry is None:
            return None
        router = str(entry.get("RouterName", "")).removesuffix("@file")
        if routers is not None and not any(part_of(router, r) for r in routers):
            return None
        status = int(entry.get("DownstreamStatus") or 0)
        level = "error" if status >= 500 else "warning" if status >= 400 else "info"
        try:
            at = dt.datetime.fromisoformat(str(entry.get("StartUTC", ""))[:26].rstrip("Z")).replace(tzinfo=dt.UTC)
        except ValueError:
            at = None
        text = (f"{entry.get('RequestMethod', '?')} {entry.get('RequestHost', '')}{entry.get('RequestPath', '')} "
                f"{status} {int(entry.get('Duration') or 0) / 1e6:.1f}ms router={router or '-'} "
                f"request_id={entry.get('TraceId') or entry.get('request_X-Request-Id') or '-'}")
        return LogLine("edge", at, level, text)

    return parse


def postgres_parser(database: str | None) -> Callable[[str], LogLine | None]:
    """A managed cluster's log (prefix ``%m [%p] %q%u@%d``); with ``database`` only its sessions'."""

    def parse(line: str) -> LogLine | None:
        match = _PG_LINE.match(line)
        if match is None:
            return None
        if database and match.group(3) != database:
            return None
        at = dt.datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.UTC)
        if match.group(2):
            at = at.replace(microsecond=int(match.group(2).ljust(6, "0")[:6]))
        return LogLine("postgres", at, PG_LEVELS.get(match.group(4), "info"), line)

    return parse


# -- sources --------------------------------------------------------------------------------------

def _layout(valid: ValidEstate) -> Layout:
    """The data directory's layout, with Odoo's runtime directory where this estate keeps it."""
    from odooplane.services import service_users
    from odooplane.store.db import default_url, open_store

    store = open_store(valid.estate.platform.state_db or default_url(valid.data_dir))
    try:
        estate_id = store.estate_id()
    finally:
        store.close()
    return Layout(valid.data_dir, runtime=service_users.runtime_dir(valid.data_dir, estate_id=estate_id))


def sources_for(valid: ValidEstate, target: str, wanted: tuple[str, ...]) -> list[LogSource]:
    """The files to read for ``target`` (tenant/env, or 'edge' for the whole access log)."""
    layout = _layout(valid)
    if target == "edge":
        return [LogSource("edge", layout.access_log, edge_parser(None))]
    try:
        ref = EnvRef.parse(target)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    env = valid.environment(ref)
    if env is None:
        raise NotFound(f"{target}: no such environment in {valid.path}")
    out: list[LogSource] = []
    if "odoo" in wanted:
        out += _odoo_sources(valid, layout, env)
    if "edge" in wanted:
        out.append(LogSource("edge", layout.access_log, edge_parser((ref.slug,))))
    if "postgres" in wanted and isinstance(env.cluster, ManagedCluster):
        from odooplane.operations.observe import cluster_program

        out.append(LogSource("postgres", layout.process_log(cluster_program(env.cluster_name)),
                             postgres_parser(env.database)))
    return out


def _odoo_sources(valid: ValidEstate, layout: Layout, env: DesiredEnvironment) -> list[LogSource]:
    if env.pool is None:
        return [LogSource("odoo", layout.odoo_log(env.ref.slug), odoo_parser(None))]
    pool = valid.pool(env.pool)
    count = pool.processes if pool else 1
    return [LogSource("odoo", layout.pool_odoo_log(env.pool, i), odoo_parser(env.database)) for i in range(count)]


# -- reading --------------------------------------------------------------------------------------

def keep(line: LogLine, query: LogQuery, now: dt.datetime) -> bool:
    if query.grep and query.grep not in line.text:
        return False
    if query.request_id and query.request_id not in line.text:
        return False
    if query.level and (line.level not in LEVELS or LEVELS.index(line.level) < LEVELS.index(query.level)):
        return False
    return not (query.since and line.at and now - line.at > query.since)


def check(query: LogQuery) -> None:
    if query.level and query.level not in LEVELS:
        raise UsageError(f"--level {query.level!r}: one of {', '.join(LEVELS)}")
    if query.request_id is not None and not re.fullmatch(r"[0-9A-Za-z._-]{4,128}", query.request_id):
        raise UsageError(f"--request-id {query.request_id!r}: a request or trace id (letters, digits, . _ -)")


def read(sources: list[LogSource], query: LogQuery) -> list[LogLine]:
    """Every kept line of ``sources`` in time order (a file's own order for lines without a time)."""
    check(query)
    now = dt.datetime.now(dt.UTC)
    merged: list[tuple[dt.datetime, int, LogLine]] = []
    for index, source in enumerate(sources):
        if not source.path.exists():
            continue
        last = dt.datetime.min.replace(tzinfo=dt.UTC)
        for raw in source.path.read_text(errors="replace").splitlines():
            line = source.parse(raw)
            if line is None:
                continue
            last = line.at or last
            if keep(line, query, now):
                merged.append((last, index, line))
    merged.sort(key=lambda item: (item[0], item[1]))
    kept = [item[2] for item in merged]
    return kept[-query.lines:] if query.lines else kept


def follow(sources: list[LogSource], query: LogQuery, *, poll: float = 0.25) -> Iterator[LogLine]:
    """Yield new lines appended to any of ``sources`` (re-opening after rotation) until interrupted."""
    positions: dict[Path, tuple[int, int | None]] = {}
    for source in sources:
        stat = source.path.stat() if source.path.exists() else None
        positions[source.path] = (stat.st_size, stat.st_ino) if stat else (0, None)
    while True:
        for source in sources:
            if not source.path.exists():
                continue
            stat = source.path.stat()
            position, inode = positions[source.path]
            if stat.st_ino != inode or stat.st_size < position:
                position = 0
            if stat.st_size > position:
                with open(source.path, errors="replace") as handle:
                    handle.seek(position)
                    chunk = handle.read()
                    position = handle.tell()
                now = dt.datetime.now(dt.UTC)
                for raw in chunk.splitlines():
                    line = source.parse(raw)
                    if line is not None and keep(line, query, now):
                        yield line
            positions[source.path] = (position, stat.st_ino)
        time.sleep(poll)


def run(path: Path | None, target: str, query: LogQuery, *, sources: str | None = None) -> list[LogSource]:
    valid = estate_file.load(path)
    if valid.estate.platform.driver == "kubernetes":  # pod logs: the CLI hands over (kubernetes_ops.logs)
        raise KubernetesEstate(valid.path)
    check(query)
    return sources_for(valid, target, parse_sources(sources, request_id=query.request_id))
