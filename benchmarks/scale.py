"""Estate-scale costs of the control plane itself, at sizes this machine cannot run for real.

- ``validate``: reading, checking and resolving an estate of N pooled tenants (one environment each,
  labelled), in this process and as the ``odooplane validate`` command, against the raw floor
  measured in the same run: libyaml's own ``yaml.load`` of the same file (parsing and building the
  data, nothing checked; cyclic garbage collection paused, as ``validate`` pauses it).
- ``plan``: the planner over the validated estate and a synthetic observation in which everything
  is provisioned and current (nothing to do), at 1,000 and 10,000 environments: what grows with the
  estate in ``plan`` once observation is done.

Sizes: ``BENCH_SCALE_SIZES`` (default ``1000,5000,10000``). Prints one JSON object on its last line.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from benchmarks.common import emit
from odooplane.drivers.base import ProcessState
from odooplane.estate import validate
from odooplane.estate.validate import ValidEstate
from odooplane.planner import plan as planner
from odooplane.planner.observed import (
    ClusterObservation,
    EnvObservation,
    Observed,
    PoolObservation,
    ProcessObservation,
)

# Sizes at which plan and status also run as commands do, on the fake driver (BENCH_SCALE_OBSERVED).
OBSERVED_SIZES = {int(n) for n in os.environ.get("BENCH_SCALE_OBSERVED", "1000,10000").split(",") if n}


def estate_text(tenants: int) -> str:
    """N tenants, each with a production environment in one shared pool, on an external cluster."""
    data: dict[str, Any] = {
        "platform": {"name": "scale", "data_dir": "data", "default_stack": "sim", "default_cluster": "main"},
        "clusters": {"main": {"kind": "external", "url": "postgresql://postgres@127.0.0.1:5432/postgres"}},
        "stacks": {"sim": {"series": "18.0", "simulator": True}},
        "pools": {"std": {"processes": 4, "workers": 2}},
        "tenants": {f"t{i:05d}": {"labels": {"business_unit": f"bu{i % 20}"},
                                  "environments": {"prod": {"placement": {"shared": "std"}}}} for i in range(tenants)},
    }
    return yaml.safe_dump(data)


def best_of(runs: int, action: Any) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(runs):
        started = time.perf_counter()
        result = action()
        best = min(best, time.perf_counter() - started)
    return best, result


def converged(valid: ValidEstate) -> Observed:
    """What observation would return if everything ran as declared."""
    up = ProcessState("odoo", "RUNNING", 1, 0, "")
    envs = {e.ref: EnvObservation(ref=e.ref, provisioned=True, role_exists=True, database_exists=True,
                                  modules={m: "installed" for m in ("base", *e.modules)}, config_exists=True,
                                  config_current=True, process=up, process_current=True, route_exists=True,
                                  route_current=True, route_served=True, health=None)
            for e in valid.environments}
    pools = {p.name: PoolObservation(p.name, True, True, tuple(ProcessObservation(f"{p.name}-{i}", up, True, True)
                                                               for i in range(p.processes)), True)
             for p in valid.pools}
    clusters = {name: ClusterObservation(name, "external", True, True, True, None) for name in valid.estate.clusters}
    return Observed(supervisor_running=True, edge_running=True, clusters=clusters, envs=envs, orphans=[],
                    pools=pools, worker=up)


def observed_plan_and_status(path: Path, runs: int) -> dict[str, float]:
    """``plan`` and ``status`` as the actions run them (observation, planner, status rows) over the
    estate at ``path``, on the fake driver and a state store holding every environment's secrets,
    ports and last sweep, with the cluster's catalogue synthetic (one marker per database, as
    PostgreSQL would list them: this machine cannot hold 10,000 databases)."""
    import datetime as dt
    from unittest import mock

    from odooplane.actions import plan as plan_action
    from odooplane.actions import status as status_action
    from odooplane.drivers.fake import FakeDriver
    from odooplane.layout import Layout
    from odooplane.operations import observe
    from odooplane.operations.context import Context, edge_spec
    from odooplane.operations.desired import artifacts, pool_artifacts, ready_state, secret_name, worker_spec
    from odooplane.services import postgres
    from odooplane.services.postgres import DatabaseStats, OwnedDatabase, marker
    from odooplane.store import probes, tables
    from odooplane.store.db import now, open_store
    from odooplane.store.secrets import SecretBox, load_key

    valid = validate.validate(path)
    root = path.parent / f"data-{len(valid.environments)}"
    root.mkdir()
    store = open_store(f"sqlite:///{root / 'state.db'}")
    box = SecretBox(store, load_key(root / "secret.key"))
    fake = FakeDriver(root, edge_spec(valid))
    ctx = Context(valid=valid, layout=Layout(root, runtime=root / "runtime"), store=store, secrets=box, driver=fake,
                  estate_id=store.estate_id(), actor="bench")
    # What apply would have left: the pool's workloads and every environment's secret and route.
    fake.prepare()
    fake.ensure_edge()
    fake.ensure_process(worker_spec(ctx))
    for pool in valid.pools:
        art = pool_artifacts(ctx, pool, create=True)
        assert art is not None
        for proc in art.processes:
            fake.ensure_workload(proc.workload)
        fake.ensure_pool_service(art.service)
    rows = [{"name": secret_name(e, "admin_user_password"), "ciphertext": box._fernet.encrypt(b"x" * 24).decode(),
             "fingerprint": "", "updated_at": now()} for e in valid.environments]
    with store.begin() as conn:
        conn.execute(tables.secrets.insert(), rows)
    for env in valid.environments:
        art = artifacts(ctx, env, create=False)
        assert art is not None
        fake.ensure_route(art.route)
    swept = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)  # after the workloads started
    probes.record(store, swept, [(str(e.ref), "ok", [{"name": "http", "status": "ok", "value": 200, "detail": ""}])
                                 for e in valid.environments])
    prefix = marker(ctx.estate_id, "")
    dbs = {e.database: OwnedDatabase(name=e.database, target=str(e.ref), state=ready_state(e), owner=e.role,
                                     is_template=False, allows_connections=True, connection_limit=e.connection_limit,
                                     statement_timeouts={}) for e in valid.environments}
    roles = {p.role: f"pool/{p.name}" for p in valid.pools}
    assert prefix
    ctx.close = lambda: None  # type: ignore[method-assign]
    patches = [
        mock.patch.object(postgres, "owned_databases", return_value=dbs),
        mock.patch.object(postgres, "owned_objects", return_value=({}, roles)),
        mock.patch.object(postgres, "max_connections", return_value=10_000),
        mock.patch.object(postgres, "owned_database_stats",
                          return_value={d: DatabaseStats(9 << 20, 0) for d in dbs}),
        mock.patch("odooplane.actions.estate_file.context", return_value=ctx),
    ]
    for patch in patches:
        patch.start()
    try:
        plan_s, result = best_of(runs, lambda: plan_action.run(path))
        assert not [c for c in result.changes if c.target != "runtime"], result.changes[:3]
        status_s, status = best_of(runs, lambda: status_action.run(path))
        assert len(status.environments) == len(valid.environments)
        assert all(e.health == "ok" and e.health_checked_at for e in status.environments), "from the sweep"
        observe_s, _ = best_of(runs, lambda: observe.observe(ctx, health="recorded"))
    finally:
        for patch in patches:
            patch.stop()
        fake.shutdown()
        store.close()
    return {"fake_plan_s": round(plan_s, 3), "fake_status_s": round(status_s, 3), "fake_observe_s": round(observe_s, 3)}


def main() -> None:
    sizes = [int(n) for n in os.environ.get("BENCH_SCALE_SIZES", "1000,5000,10000").split(",")]
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="odooplane-scale-") as tmp:
        for n in sizes:
            path = Path(tmp) / f"estate-{n}.yaml"
            path.write_text(estate_text(n))
            # The floor gets what validate does: no cyclic garbage collection while it reads.
            gc.disable()
            try:
                raw_s, _ = best_of(3, lambda p=path: yaml.load(p.read_text(), Loader=yaml.CSafeLoader))
            finally:
                gc.enable()
            validate_s, valid = best_of(3, lambda p=path: validate.validate(p))
            assert len(valid.environments) == n
            observed = converged(valid)
            plan_s, result = best_of(3, lambda v=valid, o=observed: planner.plan(v, o))
            assert result.empty, result.changes[:3]
            cli_s, _ = best_of(2, lambda p=path: subprocess.run(
                [sys.executable, "-m", "odooplane", "validate", str(p)], check=True, capture_output=True))
            figures = {"raw_yaml_s": round(raw_s, 3), "validate_s": round(validate_s, 3),
                       "validate_ratio": round(validate_s / raw_s, 1), "validate_cli_s": round(cli_s, 2),
                       "plan_s": round(plan_s, 4)}
            if n in OBSERVED_SIZES:
                figures.update(observed_plan_and_status(path, runs=2))
            print(f"{n} environments: {figures}", flush=True)
            out[str(n)] = figures
    first, last = str(sizes[0]), str(sizes[-1])
    growth = int(last) / int(first)
    out["validate_growth"] = round(out[last]["validate_s"] / out[first]["validate_s"], 1)
    out["raw_yaml_growth"] = round(out[last]["raw_yaml_s"] / out[first]["raw_yaml_s"], 1)
    out["plan_growth"] = round(out[last]["plan_s"] / max(out[first]["plan_s"], 1e-6), 1)
    observed = [str(n) for n in sizes if n in OBSERVED_SIZES]
    if len(observed) > 1:
        for key in ("fake_plan_s", "fake_status_s"):
            out[key.removesuffix("_s") + "_growth"] = round(out[observed[-1]][key] / out[observed[0]][key], 1)
    out["size_growth"] = growth
    emit(out)


if __name__ == "__main__":
    main()
