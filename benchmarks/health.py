"""A health sweep over many simulated environments: one simulator pool serving HEALTH_ENVS (1,000)
databases on one cluster, behind Traefik. Target: the sweep takes at most 5 s.

The raw baseline, measured in the same run, is the floor of the HTTP part alone: ``GET /web/health``
through the edge for every hostname with the same concurrency (64), over plain asyncio sockets.

Prints one JSON object on its last line: {"environments", "sweep_s", "baseline_http_s", "ratio",
"probes": {name: {"p50_ms", "p95_ms"}}, "apply_s"}.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import yaml
from tests.support import services

from benchmarks.common import cli, emit, postgres, workdir

ENVS = int(os.environ.get("HEALTH_ENVS", "1000"))
SWEEPS = int(os.environ.get("HEALTH_SWEEPS", "3"))


async def raw_http(port: int, hosts: list[str], concurrency: int = 64) -> float:
    gate = asyncio.Semaphore(concurrency)

    async def one(host: str) -> None:
        async with gate:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(f"GET /web/health HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
            await writer.drain()
            status = await reader.readline()
            await reader.read()
            writer.close()
            if b" 200 " not in status:
                raise SystemExit(f"{host}: {status!r}")

    started = time.perf_counter()
    await asyncio.gather(*(one(h) for h in hosts))
    return time.perf_counter() - started


def main() -> None:
    with postgres() as pg_url, workdir() as tmp:
        root = Path(tmp)
        tag = uuid.uuid4().hex[:5]
        port = services.free_port()
        data: dict[str, Any] = {
            "platform": {"name": f"hb{tag}", "data_dir": "data", "default_stack": "sim", "default_cluster": "main",
                         "edge": {"http_port": port, "api_port": services.free_port()},
                         "metrics_port": services.free_port(), "ports": {"start": 30000, "end": 30999}},
            "clusters": {"main": {"kind": "external", "url": pg_url}},
            "stacks": {"sim": {"series": "18.0", "simulator": True, "templates": [[]]}},
            "pools": {f"p{tag}": {"processes": 2, "workers": 0, "db_maxconn": 16}},
            "tenants": {f"h{tag}{i:04d}": {"environments": {"prod": {"placement": {"shared": f"p{tag}"},
                                                                     "backup": False}}}
                        for i in range(ENVS)},
        }
        path = root / "estate.yaml"
        path.write_text(yaml.safe_dump(data))
        env = {**os.environ, "XDG_STATE_HOME": str(root / "xdg")}
        try:
            apply_s = cli("apply", str(path), "-q", "--parallel", "4", cwd=root)
            print(f"applied {ENVS} environments in {apply_s:.0f} s", flush=True)
            hosts = [f"h{tag}{i:04d}-prod.localhost" for i in range(ENVS)]
            baseline = min(asyncio.run(raw_http(port, hosts)) for _ in range(SWEEPS))
            sweeps, probes = [], {}
            for _ in range(SWEEPS):
                proc = subprocess.run([sys.executable, "-m", "odooplane", "health", "-f", str(path), "--json"],
                                      cwd=root, env=env, capture_output=True, text=True, check=False)
                if proc.returncode not in (0, 5, 6):
                    raise SystemExit(f"health failed ({proc.returncode}):\n{proc.stderr}")
                report = json.loads(proc.stdout)
                bad = [(e["target"], [c for c in e["checks"] if c["status"] != "ok"])
                       for e in report["environments"] if e["status"] != "ok"]
                if bad:
                    raise SystemExit(f"{len(bad)} environments not ok, e.g. {bad[:3]}")
                sweeps.append(report["sweep_s"])
                probes = report["probes"]
                print(f"sweep of {len(report['environments'])}: {report['sweep_s']:.2f} s", flush=True)
        finally:
            cli("down", "-f", str(path), "--purge", "--yes", cwd=root)
    emit({"environments": ENVS, "sweep_s": round(statistics.median(sweeps), 2), "sweeps_s": sweeps,
          "baseline_http_s": round(baseline, 2), "ratio": round(statistics.median(sweeps) / baseline, 1),
          "apply_s": round(apply_s, 1), "target_s": 5.0,
          "probes": {name: {"p50_ms": v["p50_ms"], "p95_ms": v["p95_ms"]} for name, v in probes.items()}})


if __name__ == "__main__":
    main()
