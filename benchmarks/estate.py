"""Whole-estate commands on a real estate of simulated pooled tenants (one pool, an external
cluster, a template), at each size of ``BENCH_ESTATE_SIZES`` (default ``100,1000``):

- ``apply`` of N new tenants (``--parallel`` ``BENCH_ESTATE_PARALLEL``, default 4);
- one health sweep (``odooplane health``, every database read) against its HTTP floor measured in
  the same run: one ``GET /web/health`` per environment through the edge, at the sweep's
  concurrency (64);
- the worker's sweeps: the same code with the worker's rotation (the figures inside databases read
  for a fifth of the fleet per sweep, the others carried), run ``1 + SLOW_EVERY`` times in a row:
  the first reads them all, the steady state is the median of the others;
- ``plan`` and ``status --json`` with nothing to do (health from that sweep), and a no-op ``apply``;
- ``down --purge``.

Tenants have ``backup: false`` so that the worker's first backups do not run during the
measurement, and the worker sweeps once an hour (``health_interval_s: 3600``): the measurement
starts once its first sweep is published, so that none of its sweeps runs beside the ones
measured. Prints one JSON object on its last line: per size the figures in seconds, and the growth
of each from the first size to the last.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import yaml
from tests.support import services

from benchmarks.common import cli, emit, postgres, workdir

SIZES = [int(n) for n in os.environ.get("BENCH_ESTATE_SIZES", "100,1000").split(",")]
PARALLEL = os.environ.get("BENCH_ESTATE_PARALLEL", "4")
SWEEP_CONCURRENCY = 64  # operations.health.sweep's default
POOL_IN_FLIGHT = 2 * 8 // 2  # the sweep's cap per pool: half of processes x db_maxconn (estate() below)


def estate(directory: Path, pg_url: str, tenants: int) -> tuple[Path, int, list[str], int]:
    tag = uuid.uuid4().hex[:4]
    http_port = services.free_port()
    data: dict[str, Any] = {
        "platform": {"name": f"est{tag}", "data_dir": "data", "default_stack": "sim", "default_cluster": "main",
                     "edge": {"http_port": http_port, "api_port": services.free_port()},
                     "metrics_port": services.free_port(), "ports": {"start": 26000, "end": 29999},
                     "health_interval_s": 3600},
        "clusters": {"main": {"kind": "external", "url": pg_url}},
        "stacks": {"sim": {"series": "18.0", "simulator": True, "templates": [[]]}},
        # Few connections per process: 3 processes each (2 workers and cron) stay well inside a
        # default max_connections of 100 whatever the number of tenants.
        "pools": {"std": {"processes": 2, "workers": 2, "db_maxconn": 8}},
        "tenants": {f"e{tag}{i:04d}": {"environments": {"prod": {"placement": {"shared": "std"}, "backup": False}}}
                    for i in range(tenants)},
    }
    path = directory / "estate.yaml"
    path.write_text(yaml.safe_dump(data))
    return path, http_port, [f"e{tag}{i:04d}-prod.localhost" for i in range(tenants)], \
        data["platform"]["metrics_port"]


def worker_quiet(metrics_port: int, *, timeout_s: float = 900.0) -> float:
    """Wait until the estate's worker has published a sweep (it sweeps again only in an hour);
    return how long that took."""
    started = time.perf_counter()
    while True:
        try:
            text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).text
            if "odooplane_health_sweep_timestamp_seconds" in text:
                return time.perf_counter() - started
        except httpx.HTTPError:
            pass
        if time.perf_counter() - started > timeout_s:
            raise SystemExit(f"the worker published no health sweep in {timeout_s:.0f} s")
        time.sleep(1)  # polling a server's answer, with a deadline


def http_floor(port: int, hosts: list[str]) -> tuple[float, int]:
    """One /web/health per environment through the edge, with the sweep's bounds on requests in
    flight (SWEEP_CONCURRENCY in all, POOL_IN_FLIGHT to the one pool); return the time and how many
    did not answer 200."""
    async def run() -> tuple[float, int]:
        gate = asyncio.Semaphore(min(SWEEP_CONCURRENCY, POOL_IN_FLIGHT))
        failed = 0
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            async def one(host: str) -> None:
                nonlocal failed
                async with gate:
                    response = await client.get("/web/health", headers={"Host": host})
                    failed += response.status_code != 200

            started = time.perf_counter()
            await asyncio.gather(*(one(h) for h in hosts))
            return time.perf_counter() - started, failed

    return asyncio.run(run())


def worker_sweeps(path: Path, root: Path) -> dict[str, float]:
    """The worker's sweep, in this process (no CLI start): a first one that reads every database's
    slow signals, then SLOW_EVERY with the rotation; their durations and the steady-state median."""
    from odooplane.actions import estate_file
    from odooplane.operations import health

    previous = os.environ.get("XDG_STATE_HOME")
    os.environ["XDG_STATE_HOME"] = str(root / "xdg")
    try:
        ctx = estate_file.context(path)
        try:
            times, cpu = [], []
            for _ in range(1 + health.SLOW_EVERY):
                cpu_started = time.process_time()
                times.append(health.sweep(ctx, observer="benchmark", slow_every=health.SLOW_EVERY).sweep_s)
                cpu.append(time.process_time() - cpu_started)
        finally:
            ctx.close()
    finally:
        if previous is None:
            os.environ.pop("XDG_STATE_HOME", None)
        else:
            os.environ["XDG_STATE_HOME"] = previous
    steady = sorted(times[1:])
    return {"worker_first_sweep_s": times[0], "worker_sweep_s": steady[len(steady) // 2],
            "worker_sweep_max_s": steady[-1],
            "worker_sweep_cpu_s": sorted(cpu[1:])[len(steady) // 2]}  # the sweeping process's own CPU


def timed(*args: str, cwd: Path, ok: tuple[int, ...] = (0,)) -> float:
    """Like common.cli, but exit codes in ``ok`` count as success (health exits non-zero on findings)."""
    env = {**os.environ, "XDG_STATE_HOME": str(cwd / "xdg")}
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "odooplane", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, check=False)
    elapsed = time.perf_counter() - started
    if proc.returncode not in ok:
        raise SystemExit(f"odooplane {' '.join(args)} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return elapsed


def measure(pg_url: str, n: int) -> dict[str, float]:
    out: dict[str, float] = {}
    with workdir() as tmp:
        root = Path(tmp)
        path, port, hosts, metrics_port = estate(root, pg_url, n)
        try:
            out["apply_s"] = cli("apply", str(path), "-q", "--parallel", PARALLEL, cwd=root)
            out["worker_published_after_s"] = worker_quiet(metrics_port)
            floors = [http_floor(port, hosts) for _ in range(2)]
            out["http_floor_s"] = min(f[0] for f in floors)
            out["http_floor_failed"] = max(f[1] for f in floors)  # answers other than 200, reported
            # health exits 6 when a finding is critical (never backed up is not one: backup is off).
            out["health_s"] = timed("health", "-f", str(path), "--json", cwd=root, ok=(0, 5, 6))
            out["health_ratio"] = out["health_s"] / out["http_floor_s"]
            out.update(worker_sweeps(path, root))
            out["worker_sweep_ratio"] = out["worker_sweep_s"] / out["http_floor_s"]
            out["plan_s"] = cli("plan", str(path), cwd=root)
            out["status_s"] = timed("status", "-f", str(path), "--json", cwd=root)
            out["noop_apply_s"] = cli("apply", str(path), "-q", cwd=root)
        finally:
            out["purge_s"] = cli("down", "-f", str(path), "--purge", "--yes", cwd=root)
    return {k: round(v, 2) for k, v in out.items()}


def main() -> None:
    result: dict[str, Any] = {"parallel": int(PARALLEL)}
    with postgres() as pg_url:
        for n in SIZES:
            result[str(n)] = measure(pg_url, n)
            print(f"{n} tenants: {result[str(n)]}", flush=True)
    first, last = result[str(SIZES[0])], result[str(SIZES[-1])]
    result["growth"] = {k: round(last[k] / first[k], 1) for k in last if first.get(k) and k.endswith("_s")}
    result["size_growth"] = SIZES[-1] / SIZES[0]
    emit(result)


if __name__ == "__main__":
    main()
