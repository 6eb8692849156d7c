"""Cron lag in one pool of many simulated tenants (``BENCH_CRON_TENANTS``, default 500), with two
cron workers in both of two layouts:

- ``partitioned``: 2 prefork processes of 2 HTTP workers and 1 cron worker each; each process's
  cron worker visits its share of the tenants (``odooplane_cron_partition``);
- ``shared``: 1 process of 2 HTTP workers and 2 cron workers, both visiting every tenant (what any
  pool did before, and what one process still does).

The simulator's cron interval is ``BENCH_CRON_INTERVAL`` seconds (default 60: real Odoo sleeps
60 s between rounds, plus up to 9 s of jitter). Every active cron of every tenant is made due at the
same moment T0; the lag of a tenant is when its last cron ran (``lastcall``) minus T0. Prints one
JSON object on its last line: per layout the lags (max, p95, median) and ``max_lag_intervals`` (max
lag / interval; the target is ≤ 2).
"""

from __future__ import annotations

import datetime
import os
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
import yaml
from tests.support import services

from benchmarks.common import cli, emit, postgres, workdir

TENANTS = int(os.environ.get("BENCH_CRON_TENANTS", "500"))
INTERVAL = float(os.environ.get("BENCH_CRON_INTERVAL", "60"))
LEAD_S = 15.0  # T0 is this far ahead of setting the first tenant, so every tenant is set before it


def estate(directory: Path, pg_url: str, processes: int) -> tuple[Path, list[str]]:
    tag = uuid.uuid4().hex[:4]
    data: dict[str, Any] = {
        "platform": {"name": f"cron{tag}", "data_dir": "data", "default_stack": "sim", "default_cluster": "main",
                     "edge": {"http_port": services.free_port(), "api_port": services.free_port()},
                     "metrics_port": services.free_port(), "ports": {"start": 26000, "end": 29999}},
        "clusters": {"main": {"kind": "external", "url": pg_url}},
        "stacks": {"sim": {"series": "18.0", "simulator": True, "templates": [[]]}},
        "pools": {"std": {"processes": processes, "workers": 2, "max_cron_threads": 2 // processes, "db_maxconn": 8,
                          "options": {"sim_cron_interval": INTERVAL}}},
        "tenants": {f"c{tag}{i:04d}": {"environments": {"prod": {"placement": {"shared": "std"}, "backup": False}}}
                    for i in range(TENANTS)},
    }
    path = directory / "estate.yaml"
    path.write_text(yaml.safe_dump(data))
    return path, [f"c{tag}{i:04d}_prod" for i in range(TENANTS)]


def _url(pg_url: str, db: str) -> str:
    return pg_url.rsplit("/", 1)[0] + f"/{db}"


def make_due(pg_url: str, dbs: list[str]) -> datetime.datetime:
    """Set every active cron of ``dbs`` due at one moment T0 (UTC, naive as ir_cron stores it)."""
    with psycopg.connect(pg_url) as conn:
        now = conn.execute("SELECT now() at time zone 'UTC'").fetchone()
    assert now is not None
    t0: datetime.datetime = now[0] + datetime.timedelta(seconds=LEAD_S)
    for db in dbs:
        with psycopg.connect(_url(pg_url, db)) as conn:
            conn.execute("UPDATE ir_cron SET nextcall = %s, lastcall = NULL WHERE active", (t0,))
    with psycopg.connect(pg_url) as conn:
        done = conn.execute("SELECT now() at time zone 'UTC'").fetchone()
    assert done is not None and done[0] < t0, f"setting {len(dbs)} tenants took longer than {LEAD_S} s"
    return t0


def lags(pg_url: str, dbs: list[str], t0: datetime.datetime, *, timeout: float) -> dict[str, float]:
    """Poll (with a deadline) until every tenant's crons ran after T0; return each tenant's lag."""
    found: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    while len(found) < len(dbs):
        if time.monotonic() > deadline:
            raise SystemExit(f"{len(dbs) - len(found)} tenants' crons did not run within {timeout:.0f} s")
        for db in dbs:
            if db in found:
                continue
            with psycopg.connect(_url(pg_url, db)) as conn:
                row = conn.execute("SELECT bool_and(lastcall IS NOT NULL AND lastcall >= %s), max(lastcall) "
                                   "FROM ir_cron WHERE active", (t0,)).fetchone()
            if row is not None and row[0]:
                found[db] = (row[1] - t0).total_seconds()
        time.sleep(1.0)  # pacing between polling rounds, not synchronisation: the loop checks the state
    return found


def measure(pg_url: str, processes: int) -> dict[str, float]:
    out: dict[str, float] = {}
    with workdir() as tmp:
        root = Path(tmp)
        path, dbs = estate(root, pg_url, processes)
        try:
            out["apply_s"] = cli("apply", str(path), "-q", "--parallel", "4", cwd=root)
            t0 = make_due(pg_url, dbs)
            found = lags(pg_url, dbs, t0, timeout=20 * INTERVAL + 300)
        finally:
            cli("down", "-f", str(path), "--purge", "--yes", cwd=root)
    values = sorted(found.values())
    out["max_lag_s"] = values[-1]
    out["p95_lag_s"] = values[int(0.95 * (len(values) - 1))]
    out["median_lag_s"] = statistics.median(values)
    out["max_lag_intervals"] = values[-1] / INTERVAL
    return {k: round(v, 2) for k, v in out.items()}


def main() -> None:
    result: dict[str, Any] = {"tenants": TENANTS, "interval_s": INTERVAL, "cron_workers": 2}
    with postgres() as pg_url:
        for layout, processes in (("partitioned", 2), ("shared", 1)):
            result[layout] = measure(pg_url, processes)
            print(f"{layout}: {result[layout]}", flush=True)
    emit(result)


if __name__ == "__main__":
    main()
