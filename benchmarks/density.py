"""Memory density: resident memory (PSS, so shared pages count once) of one shared pool serving
1, 20 and 100 tenants, against the same tenants each on dedicated processes.

Runs on the simulator by default; with ODOO_SOURCE and ODOO_PYTHON set, on real Odoo. Prints one
JSON object on its last line: {"runtime", "pool_mib_per_tenant_100", "dedicated_mib_per_tenant",
"ratio_100"} (plus the 1/20 figures).
"""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path
from typing import Any

import yaml
from tests.support import services

from benchmarks.common import cli, emit, postgres, workdir

COUNTS = [int(c) for c in os.environ.get("DENSITY_COUNTS", "1,20,100").split(",")]
DEDICATED = int(os.environ.get("DENSITY_DEDICATED", "10"))


def stack() -> dict[str, Any]:
    if os.environ.get("ODOO_SOURCE"):
        return {"series": "18.0", "source": os.environ["ODOO_SOURCE"],
                "python": os.environ.get("ODOO_PYTHON", sys.executable), "templates": [[]]}
    return {"series": "18.0", "simulator": True, "templates": [[]]}


def pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        return 0
    return 0


def tree(root: int) -> list[int]:
    """``root`` and all its descendants."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def mib(pids: list[int]) -> float:
    return sum(pss_kib(p) for p in pids) / 1024


def touch(port: int, hosts: list[str]) -> None:
    """Load every tenant's registry (one login page each), as users arriving would."""
    import httpx

    for host in hosts:
        httpx.get(f"http://127.0.0.1:{port}/web/login", headers={"Host": host}, timeout=120)


def measure(pg_url: str, count: int, placement: str) -> float:
    """PSS in MiB of the Odoo processes serving ``count`` tenants with ``placement``."""
    with workdir() as tmp:
        root = Path(tmp)
        tag = uuid.uuid4().hex[:5]
        pool = f"d{tag}"
        env: dict[str, Any] = {"placement": {"shared": pool}} if placement == "shared" else {}
        data = {
            "platform": {"name": f"dens{tag}", "data_dir": "data", "default_stack": "odoo", "default_cluster": "main",
                         "edge": {"http_port": services.free_port(), "api_port": services.free_port()},
                     "metrics_port": services.free_port(),
                         "ports": {"start": 23000, "end": 23999}},
            "clusters": {"main": {"kind": "external", "url": pg_url}},
            "stacks": {"odoo": stack()},
            "pools": {pool: {"processes": 1, "workers": 2, "db_maxconn": 8}},
            "tenants": {f"t{tag}{i:03d}": {"environments": {"x": dict(env)}} for i in range(count)},
        }
        path = root / "estate.yaml"
        path.write_text(yaml.safe_dump(data))
        try:
            cli("apply", str(path), "-q", "--parallel", "4", cwd=root)
            hosts = [f"t{tag}{i:03d}-x.localhost" for i in range(count)]
            touch(data["platform"]["edge"]["http_port"], hosts)
            import json
            import subprocess

            status = json.loads(subprocess.run(
                [sys.executable, "-m", "odooplane", "status", "-f", str(path), "--json"], cwd=root, check=False,
                capture_output=True, text=True, env={**os.environ, "XDG_STATE_HOME": str(root / "xdg")}).stdout)
            if placement == "shared":
                pids = [p["pid"] for p in status["pools"][0]["processes"] if p["pid"]]
            else:
                pids = [r["pid"] for r in status["environments"] if r["pid"]]
            total = sum(mib(tree(pid)) for pid in pids)
        finally:
            cli("down", "-f", str(path), "--purge", "--yes", cwd=root)
    return total


def main() -> None:
    result: dict[str, Any] = {"runtime": "odoo" if os.environ.get("ODOO_SOURCE") else "simulator"}
    with postgres() as pg_url:
        dedicated = measure(pg_url, DEDICATED, "dedicated")
        result["dedicated_mib_per_tenant"] = round(dedicated / DEDICATED, 1)
        print(f"{DEDICATED} dedicated: {dedicated:.0f} MiB", flush=True)
        for count in COUNTS:
            total = measure(pg_url, count, "shared")
            result[f"pool_mib_{count}"] = round(total, 1)
            result[f"pool_mib_per_tenant_{count}"] = round(total / count, 2)
            print(f"pool with {count}: {total:.0f} MiB", flush=True)
    last = COUNTS[-1]
    result[f"ratio_{last}"] = round(result["dedicated_mib_per_tenant"] / result[f"pool_mib_per_tenant_{last}"], 1)
    emit(result)


if __name__ == "__main__":
    main()
