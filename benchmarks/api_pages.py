"""Reads of the API at estate scale: pages of environments and tenants (first page, a page deep in
the cursor, filtered by tenant, label, stage and health), one environment, one tenant, against the
raw floor measured in the same run: ``GET /api/v1/whoami`` on the same service (HTTP, token check,
JSON; nothing that depends on the estate).

Sizes: ``BENCH_PAGES_SIZES`` (default ``500,5000``): N pooled tenants with a production environment
each, a business-unit label, a health row each in the state store (the last sweep). Nothing is
provisioned: reads are of the estate and the state store only. Each route is timed ``ROUNDS``
times (p50) by one client over one kept-alive connection, after one warm-up call.

Prints one JSON object on its last line: per size the p50 of every route, the worst ratio to the
floor, and the growth of every route from the smallest to the largest size.
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import yaml
from tests.support.served import Served

from benchmarks.common import emit, workdir
from benchmarks.scale import estate_text
from odooplane.store import db, probes

SIZES = [int(n) for n in os.environ.get("BENCH_PAGES_SIZES", "500,5000").split(",") if n]
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "30"))


def routes(n: int) -> dict[str, str]:
    mid = f"t{n // 2:05d}"
    last = f"t{n - 1:05d}"
    return {
        "environments first page": "/api/v1/environments?limit=100",
        "environments deep page": f"/api/v1/environments?limit=100&after={mid}/prod",
        "environments by tenant": f"/api/v1/environments?tenant={last}",
        "environments by label": "/api/v1/environments?limit=100&label=business_unit=bu7",
        "environments by stage": "/api/v1/environments?limit=100&stage=production",
        "environments failing": "/api/v1/environments?limit=100&status=failing",
        "one environment": f"/api/v1/environments/{last}/prod",
        "tenants first page": "/api/v1/tenants?limit=100",
        "tenants deep page": f"/api/v1/tenants?limit=100&after={mid}",
        "one tenant": f"/api/v1/tenants/{last}",
    }


def p50(client: httpx.Client, url: str) -> float:
    assert client.get(url).status_code == 200, url  # warm-up, and the route answers
    times = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        answer = client.get(url)
        times.append(time.perf_counter() - started)
        if answer.status_code != 200:
            raise SystemExit(f"GET {url}: {answer.status_code} {answer.text[:300]}")
    return statistics.median(times)


def measure(root: Path, n: int) -> dict[str, float]:
    path = root / f"estate-{n}.yaml"
    data = yaml.safe_load(estate_text(n))
    data["platform"]["data_dir"] = f"data-{n}"
    path.write_text(yaml.safe_dump(data))
    env = {"XDG_STATE_HOME": str(root / "xdg")}
    token = subprocess.run([sys.executable, "-m", "odooplane", "tokens", "create", "pages", "--role", "auditor",
                            "-f", str(path)], cwd=root, capture_output=True, text=True, check=True,
                           env={**os.environ, **env}).stdout.strip()
    store = db.open_store(f"sqlite:///{root / f'data-{n}' / 'state.db'}")
    try:  # a last sweep: every environment checked, one in 50 failing
        now = dt.datetime.now(dt.UTC)
        probes.record(store, now, [(f"t{i:05d}/prod", "failing" if i % 50 == 0 else "ok",
                                    [{"name": "http", "ok": i % 50 != 0}]) for i in range(n)])
    finally:
        store.close()
    served = Served(path, "--executors", "0", "--no-access-log", env=env)
    try:
        with httpx.Client(base_url=served.base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
            out = {"floor whoami": p50(client, "/api/v1/whoami")}
            for name, url in routes(n).items():
                out[name] = p50(client, url)
                print(f"{n}: {name}: {out[name] * 1000:.1f} ms", flush=True)
        return out
    finally:
        served.stop()


def main() -> None:
    result: dict[str, Any] = {}
    with workdir() as tmp:
        root = Path(tmp)
        by_size = {n: measure(root, n) for n in SIZES}
    for n, figures in by_size.items():
        floor = figures["floor whoami"]
        result[f"floor_{n}_ms"] = round(floor * 1000, 1)
        result[f"p50_{n}_ms"] = {k: round(v * 1000, 1) for k, v in figures.items() if k != "floor whoami"}
        result[f"worst_ratio_{n}"] = round(max(v for k, v in figures.items() if k != "floor whoami") / floor, 1)
    small, large = SIZES[0], SIZES[-1]
    if small != large:
        result["growth"] = {k: round(by_size[large][k] / by_size[small][k], 1) for k in by_size[large]}
    emit(result)


if __name__ == "__main__":
    main()
