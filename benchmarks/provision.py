"""Provisioning latency: from `odooplane apply` of one new environment (a shared pool, template
copy) to HTTP 200 on its /web/login through Traefik, against the raw floor measured in the same
run (`CREATE DATABASE … TEMPLATE` + a hard-linked filestore copy, nothing else). Then 100 new
tenants in one apply.

Prints one JSON object on its last line: {"p50_s", "floor_p50_s", "ratio", "bulk_100_s"}.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg
import yaml
from psycopg import sql
from tests.support import services

from benchmarks.common import cli, emit, postgres, runtime_root, workdir
from odooplane.agent.tree import copy_tree

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "7"))


def base_estate(pg_url: str, tag: str) -> dict[str, Any]:
    return {
        "platform": {"name": f"prov{tag}", "data_dir": "data", "default_stack": "sim", "default_cluster": "main",
                     "edge": {"http_port": services.free_port(), "api_port": services.free_port()},
                     "metrics_port": services.free_port(),
                     "ports": {"start": 27000, "end": 27999}},
        "clusters": {"main": {"kind": "external", "url": pg_url}},
        "stacks": {"sim": {"series": "18.0", "simulator": True, "templates": [[]]}},
        # db_maxconn bounds connections per Odoo process: 100 databases must not exhaust max_connections.
        "pools": {f"bp{tag}": {"processes": 1, "workers": 2, "db_maxconn": 8}},
        "tenants": {f"w{tag}": {"environments": {"stg": {"placement": {"shared": f"bp{tag}"}}}}},
    }


def add_tenant(data: dict[str, Any], name: str, tag: str) -> None:
    data["tenants"][name] = {"environments": {"stg": {"placement": {"shared": f"bp{tag}"}}}}


def time_to_200(path: Path, root: Path, edge_port: int, host: str) -> float:
    """Start `odooplane apply`; return seconds until the new host answers 200 through the edge."""
    started = time.perf_counter()
    env = {**os.environ, "XDG_STATE_HOME": str(root / "xdg")}
    proc = subprocess.Popen([sys.executable, "-m", "odooplane", "apply", str(path), "-q"], cwd=root, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    answered: list[float] = []

    def poll() -> None:
        with httpx.Client(timeout=2) as client:
            while proc.poll() is None or not answered:
                try:
                    if client.get(f"http://127.0.0.1:{edge_port}/web/login", headers={"Host": host}).status_code == 200:
                        answered.append(time.perf_counter() - started)
                        return
                except httpx.HTTPError:
                    pass
                if proc.poll() is not None and proc.returncode != 0:
                    return
                time.sleep(0.01)

    poller = threading.Thread(target=poll)
    poller.start()
    _, stderr = proc.communicate()
    poller.join(timeout=30)
    if proc.returncode != 0 or not answered:
        raise SystemExit(f"apply failed ({proc.returncode}): {stderr}")
    return answered[0]


def floor(pg_url: str, template: str, filestore: Path, scratch: Path) -> float:
    """The raw cost: CREATE DATABASE … TEMPLATE and a hard-linked copy of the filestore."""

    name = f"floor_{uuid.uuid4().hex[:8]}"
    started = time.perf_counter()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template)))
    copy_tree(filestore, scratch / name)
    elapsed = time.perf_counter() - started
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {}").format(sql.Identifier(name)))
    return elapsed


def main() -> None:
    result: dict[str, float] = {}
    with postgres() as pg_url, workdir() as tmp:
        root = Path(tmp)
        tag = uuid.uuid4().hex[:5]
        data = base_estate(pg_url, tag)
        path = root / "estate.yaml"
        path.write_text(yaml.safe_dump(data))
        edge_port = data["platform"]["edge"]["http_port"]
        try:
            cli("apply", str(path), "-q", cwd=root)  # the pool, the template, a first tenant
            templates = runtime_root(root / "data") / "templates"
            template = next(p.name for p in templates.iterdir())
            tpl_db = f"tpl-{template}"
            tpl_files = templates / template / "data" / "filestore" / tpl_db
            latencies, floors = [], []
            for i in range(ROUNDS):
                name = f"n{tag}{i:02d}"
                add_tenant(data, name, tag)
                path.write_text(yaml.safe_dump(data))
                latencies.append(time_to_200(path, root, edge_port, f"{name}-stg.localhost"))
                floors.append(floor(pg_url, tpl_db, tpl_files, root / "floor"))
                print(f"round {i}: apply→200 {latencies[-1]:.3f} s, floor {floors[-1]:.3f} s", flush=True)
            result["p50_s"] = round(statistics.median(latencies), 3)
            result["floor_p50_s"] = round(statistics.median(floors), 3)
            result["ratio"] = round(result["p50_s"] / result["floor_p50_s"], 1)
            for i in range(100):
                add_tenant(data, f"b{tag}{i:03d}", tag)
            path.write_text(yaml.safe_dump(data))
            result["bulk_100_s"] = round(cli("apply", str(path), "-q", "--parallel", "8", cwd=root), 2)
            print(f"100 tenants in one apply: {result['bulk_100_s']} s", flush=True)
        finally:
            cli("down", "-f", str(path), "--purge", "--yes", cwd=root)
    emit(result)


if __name__ == "__main__":
    main()
