"""Usage metering from a health sweep: what each environment (and each pool) used — CPU and
memory from the driver (a process tree's counters on this host, the engine's samples in
containers), its database and filestore sizes, and what its counters grew by since the previous
sample (requests and bytes through the edge, PostgreSQL's active time of its database)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from odooplane.drivers.base import ResourceUsage
from odooplane.estate.resolve import DesiredEnvironment, DesiredPool
from odooplane.operations.context import Context
from odooplane.operations.desired import pool_program, program_name
from odooplane.operations.health import FleetHealth
from odooplane.store import usage

logger = logging.getLogger(__name__)


def pool_target(name: str) -> str:
    return f"pool:{name}"


def record(ctx: Context, fleet: FleetHealth, envs: Sequence[DesiredEnvironment],
           pools: Sequence[DesiredPool]) -> int:
    """Add one sample of every environment swept and of ``pools`` to their hour; return how many."""
    states = ctx.driver.workloads()
    used = ctx.driver.resource_usage(states)
    health = {e.target: e for e in fleet.environments}
    compute: dict[str, list[ResourceUsage]] = {}
    readings: dict[str, float] = {}
    for env in envs:
        t = str(env.ref)
        if env.pool is None and (u := used.get(program_name(env.ref.slug))) is not None:
            compute[t] = [u]
        h = health.get(t)
        if h is not None and fleet.edge_metrics:  # a failed scrape reads nothing (not zeros to grow from)
            for key, metric in (("requests", "edge_requests_total"), ("db_ms", "pg_active_time_ms_total"),
                                ("egress", "edge_response_bytes_total")):
                if metric in h.metrics:
                    readings[f"{t}|{key}"] = h.metrics[metric]
    for pool in pools:
        found = [u for i in range(pool.processes) if (u := used.get(pool_program(pool.name, i))) is not None]
        if found:
            compute[pool_target(pool.name)] = found
    for target, parts in compute.items():
        if all(p.cpu_seconds is not None for p in parts):  # one counter per process: each restarts alone
            for i, p in enumerate(parts):
                readings[f"{target}#{i}|cpu"] = p.cpu_seconds or 0.0
    grown = usage.growth(ctx.store, fleet.at, readings)
    samples = []
    for target in [*(str(e.ref) for e in envs), *(pool_target(p.name) for p in pools)]:
        parts = compute.get(target, [])
        cores: float | None = None
        counted = [grown[key] for i in range(len(parts)) if (key := f"{target}#{i}|cpu") in grown]
        if parts and counted and len(counted) == len(parts) and all(seconds > 0 for _, seconds in counted):
            cores = sum(delta / seconds for delta, seconds in counted)
        elif parts and all(p.cpu_cores is not None for p in parts):
            cores = sum(p.cpu_cores or 0.0 for p in parts)
        memory = float(sum(p.memory_bytes for p in parts)) if parts and cores is not None else None
        h = health.get(target)
        storage = None
        if h is not None and ("pg_database_size_bytes" in h.metrics or "filestore_bytes" in h.metrics):
            storage = int(h.metrics.get("pg_database_size_bytes", 0) + h.metrics.get("filestore_bytes", 0))
        samples.append(usage.Sample(
            target, cores, memory, storage,
            requests=grown.get(f"{target}|requests", (0.0, 0.0))[0],
            db_active_ms=grown.get(f"{target}|db_ms", (0.0, 0.0))[0],
            egress_bytes=grown.get(f"{target}|egress", (0.0, 0.0))[0]))
    usage.add(ctx.store, fleet.at, samples)
    return len(samples)
