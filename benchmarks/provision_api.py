"""Warm provisioning through the service: from `POST /api/v1/tenants` (a new tenant of a shared pool)
to HTTP 200 on its /web/login through Traefik, against the raw floor measured in the same run
(`CREATE DATABASE … TEMPLATE` + a hard-linked filestore copy, nothing else). Then 100 tenants
POSTed at once, until every one of them serves.

Prints one JSON object on its last line:
{"p50_s", "floor_p50_s", "ratio", "bulk_100_all_serving_s", "bulk_100_post_s", "bulk_failed"}.
"""

from __future__ import annotations

import os
import statistics
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import yaml
from tests.support.served import Served

from benchmarks.common import cli, emit, postgres, runtime_root, workdir
from benchmarks.provision import base_estate, floor

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "9"))
BULK = int(os.environ.get("BENCH_BULK", "100"))


def serving(client: httpx.Client, edge_port: int, host: str) -> bool:
    try:
        return client.get(f"http://127.0.0.1:{edge_port}/web/login", headers={"Host": host}).status_code == 200
    except httpx.HTTPError:
        return False


def post(client: httpx.Client, served: Served, token: str, name: str, pool: str) -> int:
    answer = client.post(f"{served.base}/api/v1/tenants", headers={"Authorization": f"Bearer {token}"},
                         json={"name": name, "environments": {"stg": {"placement": {"shared": pool}}}})
    if answer.status_code != 202:
        raise SystemExit(f"POST {name}: {answer.status_code} {answer.text}")
    return int(answer.json()["operation"])


def time_to_200(served: Served, token: str, name: str, pool: str, edge_port: int) -> tuple[float, str]:
    """Seconds from the POST to the first 200 through the edge, and where the operation spent them."""
    with httpx.Client(timeout=5) as client:
        started = time.perf_counter()
        op = post(client, served, token, name, pool)
        posted = time.perf_counter() - started
        deadline = started + 60
        while not serving(client, edge_port, f"{name}-stg.localhost"):
            if time.perf_counter() > deadline:
                raise SystemExit(f"{name} did not serve within 60 s:\n{served.output()[-3000:]}")
            time.sleep(0.005)
        took = time.perf_counter() - started
        steps = client.get(f"{served.base}/api/v1/operations/{op}", headers={"Authorization": f"Bearer {token}"}).json()
        where = ", ".join(f"{s['name']} {s['duration_s'] or 0:.3f}" for s in steps["steps"])
        return took, f"POST answered {posted:.3f}; {where}"


def bulk(served: Served, token: str, tag: str, pool: str, edge_port: int) -> dict[str, float | int]:
    names = [f"b{tag}{i:03d}" for i in range(BULK)]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=BULK) as pool_executor, httpx.Client(timeout=120) as client:
        ops = list(pool_executor.map(lambda n: post(client, served, token, n, pool), names))
    posted = time.perf_counter() - started
    waiting = set(names)
    deadline = started + 300
    with httpx.Client(timeout=5) as client:
        while waiting and time.perf_counter() < deadline:
            for name in sorted(waiting):
                if serving(client, edge_port, f"{name}-stg.localhost"):
                    waiting.discard(name)
            time.sleep(0.05)
        all_serving = time.perf_counter() - started
        failed = 0
        for op in ops:
            status = client.get(f"{served.base}/api/v1/operations/{op}",
                                headers={"Authorization": f"Bearer {token}"}).json()["status"]
            failed += status != "succeeded"
    if waiting:
        raise SystemExit(f"{len(waiting)} of {BULK} tenants did not serve within 300 s "
                         f"({failed} operations failed):\n{served.output()[-3000:]}")
    return {"bulk_100_post_s": round(posted, 2), "bulk_100_all_serving_s": round(all_serving, 2),
            "bulk_failed": failed}


def main() -> None:
    result: dict[str, float | int] = {}
    with postgres() as pg_url, workdir() as tmp:
        root = Path(tmp)
        tag = uuid.uuid4().hex[:5]
        data = base_estate(pg_url, tag)
        pool = f"bp{tag}"
        path = root / "estate.yaml"
        path.write_text(yaml.safe_dump(data))
        edge_port = data["platform"]["edge"]["http_port"]
        env = {"XDG_STATE_HOME": str(root / "xdg")}
        served = None
        try:
            cli("apply", str(path), "-q", cwd=root)  # the pool, the template, a first tenant
            token = cli_token(path, root)
            served = Served(path, "--executors", "4", "--no-access-log", env=env)
            templates = runtime_root(root / "data") / "templates"
            template = next(p.name for p in templates.iterdir())
            tpl_db = f"tpl-{template}"
            tpl_files = templates / template / "data" / "filestore" / tpl_db
            latencies, floors = [], []
            for i in range(ROUNDS):
                took, where = time_to_200(served, token, f"n{tag}{i:02d}", pool, edge_port)
                latencies.append(took)
                floors.append(floor(pg_url, tpl_db, tpl_files, root / "floor"))
                print(f"round {i}: POST→200 {took:.3f} s, floor {floors[-1]:.3f} s ({where})", flush=True)
            result["p50_s"] = round(statistics.median(latencies), 3)
            result["floor_p50_s"] = round(statistics.median(floors), 3)
            result["ratio"] = round(result["p50_s"] / result["floor_p50_s"], 1)
            result.update(bulk(served, token, tag, pool, edge_port))
            print(f"{BULK} tenants POSTed at once: all serving after {result['bulk_100_all_serving_s']} s "
                  f"(POSTs answered in {result['bulk_100_post_s']} s)", flush=True)
        finally:
            if served is not None:
                served.stop()
            cli("down", "-f", str(path), "--purge", "--yes", cwd=root)
    emit(result)


def cli_token(path: Path, root: Path) -> str:
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "odooplane", "tokens", "create", "bench", "--role", "provisioner",
                           "-f", str(path)], cwd=root, capture_output=True, text=True, check=True,
                          env={**os.environ, "XDG_STATE_HOME": str(root / "xdg")})
    return proc.stdout.strip()


if __name__ == "__main__":
    main()
