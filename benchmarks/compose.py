"""The compose driver against the local driver, in one run: wall time of `odooplane apply` of the
same estate (two tenants, a dedicated production and staging, a shared pool with a tenant, a
managed cluster) on each; on compose also the first apply (the images built) and a no-op apply.
Then the latency of a new pool tenant on compose (apply → 200 through the edge container) against
its raw floor measured in the same run: `CREATE DATABASE … TEMPLATE` on the cluster's container and
a hard-linked copy of the template's filestore inside its volume.

Needs root and Debian's docker.io (a private dockerd is started and stopped by PID, as the tests
do) and debootstrap for the base image. Prints one JSON object on its last line:
{"local_apply_s", "compose_first_apply_s", "compose_apply_s", "compose_noop_s", "apply_ratio",
 "pool_tenant_p50_s", "floor_p50_s", "pool_tenant_ratio"}.
"""

from __future__ import annotations

import os
import shutil
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from tests.support import docker_engine, images
from tests.support.estate import TestEstate, make_estate

from benchmarks.common import emit, postgres, workdir
from benchmarks.provision import time_to_200
from odooplane.agent.tree import copy_tree

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))


def shaped(root: Path, tag: str, *, compose: dict[str, str] | None) -> TestEstate:
    estate = make_estate(root, {
        f"a{tag}": {"environments": {"prod": {}, "staging": {"stage": "staging"}}},
        f"b{tag}": {"environments": {"prod": {"placement": {"shared": f"s{tag}"}}}},
    }, cluster="managed", stack={"series": "18.0", "simulator": True, "templates": [[]]})
    estate.data["pools"] = {f"s{tag}": {"processes": 1, "workers": 0}}
    if compose is not None:
        estate.data["platform"]["driver"] = "compose"
        estate.data["platform"]["compose"] = compose
        estate.data["platform"]["edge"]["bind"] = "127.0.0.1"
    estate.write()
    return estate


def timed_apply(estate: TestEstate) -> float:
    started = time.perf_counter()
    estate.cli("apply", str(estate.path), "-q", timeout=1800)
    return time.perf_counter() - started


def floor(engine: docker_engine.DockerEngine, estate: TestEstate, project: str) -> float:
    """CREATE DATABASE … TEMPLATE and a hard-linked filestore copy inside the template's volume."""

    volume = next(v for v in engine.docker("volume", "ls", "--quiet", "--filter",
                                           f"label=com.docker.compose.project={project}").stdout.split()
                  if v.startswith(f"{project}_tpl-"))
    mountpoint = Path(engine.docker("volume", "inspect", "--format", "{{.Mountpoint}}", volume).stdout.strip())
    template = volume.removeprefix(f"{project}_")
    files = mountpoint / "filestore" / template
    admin = estate.cluster_url()
    name = f"floor_{uuid.uuid4().hex[:8]}"
    started = time.perf_counter()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template)))
    copy_tree(files, mountpoint / "filestore" / name)
    elapsed = time.perf_counter() - started
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {}").format(sql.Identifier(name)))
    shutil.rmtree(mountpoint / "filestore" / name)
    return elapsed


def main() -> None:
    reason = docker_engine.skip_reason()
    if reason is not None:
        raise SystemExit(f"compose benchmark: {reason}")
    result: dict[str, Any] = {}
    with postgres() as pg_url, docker_engine.private_engine() as engine, workdir() as tmp:
        os.environ.setdefault("ODOOPLANE_TEST_PG", pg_url)
        root = Path(tmp)
        base = images.base_image(engine)
        tag = uuid.uuid4().hex[:5]

        (root / "local").mkdir()
        local = shaped(root / "local", tag, compose=None)
        try:
            result["local_apply_s"] = round(timed_apply(local), 2)
        finally:
            local.cli("down", "-f", str(local.path), "--purge", "--yes", check=False, timeout=600)
        print(f"local: {result}", flush=True)

        docker = {"DOCKER_HOST": engine.host, "DOCKER_CONFIG": str(engine.root / "client")}
        os.environ.update(docker)
        settings = {"base_image": base, "edge_image": "build", "postgres_image": "build"}
        (root / "first").mkdir()
        first = shaped(root / "first", tag, compose={"project": f"f{tag}", **settings})
        first.env.update(docker)
        try:
            result["compose_first_apply_s"] = round(timed_apply(first), 2)  # the images built
        finally:
            # Stopped, not purged: a purge removes the images no container uses (the next apply's).
            first.cli("down", "-f", str(first.path), check=False, timeout=600)
        print(f"compose, images built: {result}", flush=True)

        (root / "compose").mkdir()
        project = f"c{tag}"
        estate = shaped(root / "compose", tag, compose={"project": project, **settings})
        estate.env.update(docker)
        try:
            result["compose_apply_s"] = round(timed_apply(estate), 2)
            result["compose_noop_s"] = round(timed_apply(estate), 2)
            result["apply_ratio"] = round(result["compose_apply_s"] / result["local_apply_s"], 2)
            print(f"compose: {result}", flush=True)
            latencies, floors = [], []
            pool = f"s{tag}"
            for i in range(ROUNDS):
                name = f"n{tag}{i:02d}"
                estate.data["tenants"][name] = {"environments": {"prod": {"placement": {"shared": pool}}}}
                estate.write()
                latencies.append(time_to_200(estate.path, estate.path.parent, estate.edge_port,
                                             f"{name}-prod.localhost"))
                floors.append(floor(engine, estate, project))
                print(f"round {i}: apply→200 {latencies[-1]:.3f} s, floor {floors[-1]:.3f} s", flush=True)
            result["pool_tenant_p50_s"] = round(statistics.median(latencies), 3)
            result["floor_p50_s"] = round(statistics.median(floors), 3)
            result["pool_tenant_ratio"] = round(result["pool_tenant_p50_s"] / result["floor_p50_s"], 1)
        finally:
            estate.cli("down", "-f", str(estate.path), "--purge", "--yes", check=False, timeout=600)
            first.cli("down", "-f", str(first.path), "--purge", "--yes", check=False, timeout=600)
    emit(result)


if __name__ == "__main__":
    main()
