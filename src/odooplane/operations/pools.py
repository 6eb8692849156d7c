"""Shared pools: the pool's role (it owns every tenant database of the pool, so Odoo lists and
runs crons for them), its odoo.conf per process, the supervised processes and the edge service
that the tenants' routes point at."""

from __future__ import annotations

from functools import partial

from odooplane.estate.resolve import DesiredPool
from odooplane.operations import locks
from odooplane.operations.context import Context
from odooplane.operations.desired import PoolArtifacts, pool_artifacts
from odooplane.operations.provision import ensure_sessions, start_process, wait_healthy
from odooplane.operations.runner import Operation
from odooplane.planner.observed import PoolObservation
from odooplane.services import postgres


def ensure_pool(ctx: Context, op: Operation, pool: DesiredPool, obs: PoolObservation | None) -> PoolArtifacts:
    """Converge a pool: role, configuration, processes (healthy), edge service."""
    t = f"pool {pool.name}"
    with locks.hold(ctx.store, f"pool-{pool.name}", wait=60, what=t, op=op):
        art = pool_artifacts(ctx, pool, create=True)
        assert art is not None
        if obs is None or not obs.role_exists:
            op.step("role", t, lambda: postgres.ensure_role(
                art.cluster, role=pool.role, password=art.db_password,
                comment=postgres.marker(ctx.estate_id, f"pool/{pool.name}")))
        current = {p.name: p for p in (obs.processes if obs else ())}
        if art.sessions is not None and (obs is None or obs.sessions_missing or any(
                not (seen := current.get(p.name)) or not seen.current for p in art.processes)):
            op.step("sessions", t, lambda: ensure_sessions(ctx, art.sessions))
        for proc in art.processes:
            seen = current.get(proc.name)
            running = seen is not None and seen.process is not None and seen.process.running
            if not running or seen is None or not seen.current or seen.healthy is False:
                restart = seen is not None and seen.healthy is False
                where = f"{t} #{proc.name.rsplit('-', 1)[-1]}"
                op.step("process", where, partial(start_process, ctx, proc, restart=restart))
                op.step("health", where, partial(wait_healthy, ctx, proc, log=ctx.layout.process_log(proc.name)))
        if obs is None or not obs.route_current:
            op.step("route", t, lambda: ctx.driver.ensure_pool_service(art.service))
    return art
