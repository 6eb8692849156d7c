"""Crash tests: learn the fault points an operation passes (``odooplane.faults``), kill the CLI at
one of them (SIGKILL, inside a step: between two statements), and check what is left."""

from __future__ import annotations

import signal
import uuid
from collections import Counter
from pathlib import Path

import psycopg

from tests.support.estate import TestEstate

TRACE_ENV = "ODOOPLANE_TEST_TRACE_POINTS"
KILL_ENV = "ODOOPLANE_TEST_KILL_POINT"


def trace(estate: TestEstate, *args: str, timeout: float = 600) -> list[str]:
    """Run ``odooplane ARGS`` once (it must succeed); return every fault point it passed as
    ``name#n`` (the n-th time it reached ``name``), in order."""
    out = estate.path.parent / f"points-{uuid.uuid4().hex[:6]}.txt"
    estate.cli(*args, extra_env={TRACE_ENV: str(out)}, timeout=timeout)
    seen: Counter[str] = Counter()
    points = []
    for name in out.read_text().split():
        seen[name] += 1
        points.append(f"{name}#{seen[name]}")
    out.unlink()
    return points


def kill_at(estate: TestEstate, point: str, *args: str, timeout: float = 600) -> None:
    """Run ``odooplane ARGS`` and SIGKILL it at ``point``; fail if it was not killed there."""
    proc = estate.cli(*args, check=False, extra_env={KILL_ENV: point}, timeout=timeout)
    assert proc.returncode == -signal.SIGKILL, (
        f"{' '.join(args)} was not killed at {point} (exit {proc.returncode}): {proc.stderr[-3000:]}")


def temporary_databases(estate: TestEstate, tenant: str) -> list[str]:
    """Databases of ``tenant`` that only exist while an operation runs (``<db>__…``), and this
    estate's half-made or scratch ones (``opl_new_…``, ``vfy-…``, marked with its id)."""
    with psycopg.connect(estate.cluster_url(), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE (datname LIKE %s AND datname LIKE %s) "
            "OR ((datname LIKE 'opl_new_%%' OR datname LIKE 'vfy-%%') "
            "AND shobj_description(oid, 'pg_database') LIKE %s) ORDER BY 1",
            (f"{tenant}%", "%\\_\\_%", f"odooplane:{estate.estate_id()}:%")).fetchall()
    return [str(r[0]) for r in rows]


def registered_temporaries(estate: TestEstate) -> list[str]:
    """What the state store still lists as temporary (everything must be released in the end)."""
    import sqlalchemy as sa

    from odooplane.store.db import normalise_url

    url = estate.data.get("platform", {}).get("state_db") or f"sqlite:///{estate.data_dir / 'state.db'}"
    engine = sa.create_engine(normalise_url(url))
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT kind, name FROM temporaries")).all()
    engine.dispose()
    return [f"{kind} {name}" for kind, name in rows]


def stray_directories(data_dir: Path) -> list[str]:
    """Sandboxes and staged filestores (``<db>.restore``, ``<db>.old``) anywhere in the data dir."""
    found = [str(p) for p in data_dir.rglob("*") if p.is_dir() and p.suffix in (".restore", ".old")]
    for sandboxes in (data_dir / "backups" / "sandboxes", data_dir / "sandboxes"):
        if sandboxes.is_dir():
            found += [str(p) for p in sandboxes.iterdir()]
    return sorted(set(found))


def command_lines() -> dict[int, str]:
    """Every process's command line, by pid."""
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            out[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
    return out


def sandbox_processes(runtime_dir: Path) -> list[str]:
    """Odoo processes started on a sandbox of this estate (a verification's boot)."""
    return [f"{pid}: {cmdline[:200]}" for pid, cmdline in command_lines().items()
            if str(runtime_dir / "sandboxes") in cmdline]


def assert_nothing_left(estate: TestEstate, tenant: str, *, context: str) -> None:
    """No temporary database, directory, sandbox process, leftover or orphan remains."""
    status = estate.status()
    problems = {
        "leftovers": status.get("leftovers"),
        "orphans": status["orphans"],
        "databases": temporary_databases(estate, tenant),
        "registered": registered_temporaries(estate),
        "directories": sorted(set(stray_directories(estate.data_dir) + stray_directories(estate.runtime_dir))),
        "processes": sandbox_processes(estate.runtime_dir),
    }
    assert not any(problems.values()), f"{context}: {problems}"
