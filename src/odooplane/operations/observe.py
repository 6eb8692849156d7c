"""Observe what actually runs: clusters, databases and roles (by ownership marker), templates,
Odoo processes of environments and pools, routes served by the edge, and health. Nothing here
changes anything."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal

from odooplane.drivers.base import ClusterState, ProcessState
from odooplane.errors import OdooplaneError
from odooplane.estate.models import ManagedCluster
from odooplane.estate.resolve import DesiredEnvironment, DesiredPool, EnvRef
from odooplane.estate.validate import cyclic_gc_paused
from odooplane.operations import release_content, templates, temporaries
from odooplane.operations.context import Context
from odooplane.operations.desired import (
    CREATING,
    EnvArtifacts,
    OdooProcess,
    PoolArtifacts,
    SessionUser,
    artifacts,
    pool_artifacts,
    pool_program,
    program_name,
    ready_state,
    redis_admin,
)
from odooplane.planner.observed import (
    ClusterObservation,
    EnvObservation,
    Leftover,
    Observed,
    Orphan,
    PoolObservation,
    ProcessObservation,
    TemplateObservation,
)
from odooplane.render.traefik import DATABASE_HEADER
from odooplane.services import odoo, postgres, redis_acl
from odooplane.services.postgres import DatabaseStats
from odooplane.store import probes, releases

logger = logging.getLogger(__name__)


def moves_name(database: str) -> str:
    """The name an environment's database has while a move copies it (the original data)."""
    return f"{database}__moving"
CLUSTER_PROGRAM_PREFIX = "pg-"
POOL_PROGRAM_PREFIX = "pool-"


def cluster_program(name: str) -> str:
    return f"{CLUSTER_PROGRAM_PREFIX}{name}"


def _observe_cluster(ctx: Context, name: str, managed_states: dict[str, ClusterState]) -> ClusterObservation:
    cluster = ctx.estate.clusters[name]
    managed = isinstance(cluster, ManagedCluster)
    state = managed_states.get(name) if managed else None
    initialised = state.initialised if state is not None else not managed
    running = state.running if state is not None else not managed
    try:
        conn = ctx.cluster_conn(name, allocate=False)
    except OdooplaneError as exc:
        return ClusterObservation(name, cluster.kind, initialised, running, False, exc.message)
    if conn is None or not running:
        return ClusterObservation(name, cluster.kind, initialised, running, False, "not running")
    try:
        dbs = postgres.owned_databases(conn, ctx.estate_id)
        _, roles = postgres.owned_objects(conn, ctx.estate_id)
        limit = postgres.max_connections(conn)
    except OdooplaneError as exc:
        return ClusterObservation(name, cluster.kind, initialised, running, False, exc.message)
    return ClusterObservation(name, cluster.kind, initialised, running, True, None, dbs, roles, limit)


def _file_is(path: Path, text: str) -> bool:
    try:
        return path.read_text() == text
    except FileNotFoundError:
        return False


def _probe(base: str, database: str | None = None) -> odoo.Probe:
    if database is None:
        return odoo.probe(f"{base}/web/health", timeout=2.0)
    # A shared pool serves a database only with the edge's header: probe the tenant's login page.
    return odoo.probe(f"{base}/web/login", timeout=3.0, headers={DATABASE_HEADER: database})


def _process_obs(
    ctx: Context, proc: OdooProcess, processes: dict[str, ProcessState], *, health: bool
) -> ProcessObservation:
    state = processes.get(proc.name)
    current = ctx.driver.workload_current(proc.workload)
    healthy = None
    if health and state is not None and state.alive:
        healthy = _probe(ctx.driver.endpoint(proc.workload)).ok
    return ProcessObservation(proc.name, state, current, healthy)


def _observe_pool(
    ctx: Context,
    pool: DesiredPool,
    art: PoolArtifacts | None,
    cluster: ClusterObservation,
    processes: dict[str, ProcessState],
    *,
    health: bool,
) -> PoolObservation:
    role_exists = (pool.role in cluster.roles) if cluster.reachable else None
    if art is None:
        return PoolObservation(pool.name, False, role_exists, (), False)
    procs = tuple(_process_obs(ctx, p, processes, health=health) for p in art.processes)
    route_current = ctx.driver.pool_service_current(art.service)
    return PoolObservation(pool.name, True, role_exists, procs, route_current)


def _session_users(ctx: Context, sessions: Iterable[SessionUser]) -> dict[str, set[str] | None]:
    """The ACL users of each Redis server sessions are kept in (one ``ACL USERS`` per server);
    None for a server that does not answer (unknown: nothing is planned for it)."""
    out: dict[str, set[str] | None] = {}
    for s in sessions:
        if s.server in out:
            continue
        try:
            out[s.server] = redis_acl.users(s.host, s.port, redis_admin(ctx, s))
        except (OSError, OdooplaneError, redis_acl.RedisError) as exc:
            logger.warning("redis %s: cannot list its ACL users: %s", s.server, exc)
            out[s.server] = None
    return out


def _missing(users: dict[str, set[str] | None], sessions: SessionUser | None) -> bool:
    if sessions is None:
        return False
    known = users.get(sessions.server)
    return known is not None and sessions.user not in known


def _limits_current(env: DesiredEnvironment, owned: postgres.OwnedDatabase | None) -> bool:
    if owned is None:
        return True
    want_timeout = f"{env.statement_timeout_s}s" if env.statement_timeout_s else None
    return owned.connection_limit == env.connection_limit and owned.statement_timeouts.get(env.role) == want_timeout


HealthSource = Literal["probe", "recorded", "none"]
RECORDED_MAX_AGE = dt.timedelta(minutes=15)  # (or two sweep intervals) older: not taken for the process's health


def observe(
    ctx: Context, *, health: HealthSource = "probe", stats: bool = False, only: set[EnvRef] | None = None
) -> tuple[Observed, dict[EnvRef, EnvArtifacts | None]]:
    """Return what runs now for every environment and pool of the estate and what is orphaned,
    with the desired artifacts of the environments already provisioned (None for the others).

    ``health``: "probe" asks every running process now (``/web/health``, or a pool tenant's login
    page); "recorded" takes each environment's result from the last health sweep when it is
    younger than RECORDED_MAX_AGE and than the process (no request is made), and probes now only
    the environments without one; "none" leaves it unknown. ``stats``: size and connections of
    every database (one query per cluster). ``only``: just these environments (and their pools); the
    rest of the estate, and what is orphaned, is not looked at.

    The cost is linear in the estate: per cluster one query for markers and roles (and one for
    stats); secrets and port allocations are read once; nothing queries an environment's database
    unless its marker says it is not complete."""
    with ctx.reading(), cyclic_gc_paused():
        return _observe(ctx, health=health, stats=stats, only=only)


def _recorded_health(
    ctx: Context, env: DesiredEnvironment, process: ProcessState | None, latest: dict[str, probes.ProbeRow]
) -> tuple[odoo.Probe | None, dt.datetime | None]:
    row = latest.get(str(env.ref))
    if row is None or process is None or not process.alive:
        return None, None
    max_age = max(RECORDED_MAX_AGE, 2 * dt.timedelta(seconds=ctx.estate.platform.health_interval_s))
    if ctx.clock.now() - row.ts > max_age or row.ts.timestamp() < process.started_at:
        return None, None  # stale, or taken before the process (re)started
    check = next((c for c in row.checks if c.get("name") == "http"), None)
    if check is None:
        return None, None
    ok = check.get("status") == "ok"
    value = check.get("value")
    return odoo.Probe(ok=ok, status=value if isinstance(value, int) else None, latency_ms=check.get("latency_ms"),
                      error=None if ok else str(check.get("detail") or value)), row.ts


def _observe(
    ctx: Context, *, health: HealthSource, stats: bool, only: set[EnvRef] | None = None
) -> tuple[Observed, dict[EnvRef, EnvArtifacts | None]]:
    driver = ctx.driver
    envs_list = [e for e in ctx.valid.environments if only is None or e.ref in only]
    pools_list = [p for p in ctx.valid.pools if only is None or any(e.pool == p.name for e in envs_list)]
    probing = health != "none"  # pool processes and environments without a recorded result
    latest = probes.latest(ctx.store) if health == "recorded" else {}
    processes = driver.processes()
    supervisor_running = bool(processes) or bool(driver.process_names())
    managed = [n for n, c in ctx.estate.clusters.items() if isinstance(c, ManagedCluster)]
    managed_states = ctx.driver.clusters(managed)
    clusters = {name: _observe_cluster(ctx, name, managed_states) for name in ctx.estate.clusters}
    db_stats_by_cluster = _stats(ctx, clusters) if stats else {}
    pool_arts = {p.name: pool_artifacts(ctx, p, create=False) for p in pools_list}
    pools = {
        p.name: _observe_pool(ctx, p, pool_arts[p.name], clusters[p.cluster_name], processes,
                              health=health == "probe")
        for p in pools_list
    }
    arts = {env.ref: artifacts(ctx, env, create=False, pools=pool_arts) for env in envs_list}
    session_users = _session_users(ctx, [a.sessions for a in (*arts.values(), *pool_arts.values())
                                         if a is not None and a.sessions is not None])
    if session_users:
        pools = {name: dataclasses.replace(obs, sessions_missing=_missing(session_users, art.sessions))
                 if (art := pool_arts[name]) is not None else obs for name, obs in pools.items()}
    applied = {str(env.ref): (e.release if (e := releases.applied(ctx.store, str(env.ref))) else None)
               for env in envs_list if env.release is not None}
    failed = {str(env.ref): release_content.failed_upgrade(ctx, env)
              for env in envs_list if env.release is not None}
    routes = driver.routes({a.route.name: a.route for a in arts.values() if a is not None})

    asleep = ctx.asleep()

    def one(env: DesiredEnvironment) -> EnvObservation:
        art = arts[env.ref]
        cluster = clusters[env.cluster_name]
        owned = cluster.databases.get(env.database) if cluster.reachable else None
        modules: dict[str, str] | None = None
        db_stats = db_stats_by_cluster.get(env.cluster_name, {}).get(env.database)
        error = cluster.error if not cluster.reachable else None
        if owned is not None and owned.state == ready_state(env):
            # Complete, with exactly these modules (recorded in its marker): no query inside it.
            modules = {module: "installed" for module in ("base", *env.modules)}
        elif owned is not None and owned.state == CREATING:
            modules = None  # being made (or its making was killed): it holds no data yet
        elif owned is not None and (conn := ctx.cluster_conn(env.cluster_name, allocate=False)) is not None:
            try:
                modules = postgres.module_states(conn, env.database)
            except OdooplaneError as exc:
                error = exc.message
        route = routes.get(env.ref.slug)
        moving = cluster.databases.get(moves_name(env.database)) if cluster.reachable else None
        if art is not None and art.process is not None:
            proc = _process_obs(ctx, art.process, processes, health=health == "probe")
            process, process_current = proc.process, proc.current
            config_current = proc.current
            config_exists = config_current or process is not None
            probe, probe_at = _recorded_health(ctx, env, process, latest)
            if probe is None and probing and process and process.alive:
                probe = _probe(ctx.driver.endpoint(art.process.workload))
        elif art is not None:  # shared: the pool's first process stands for it
            pool_art = pool_arts[env.pool or ""]
            first = pool_art.processes[0] if pool_art else None
            process = processes.get(first.name) if first else None
            process_current, config_exists, config_current = True, True, True
            probe, probe_at = _recorded_health(ctx, env, process, latest)
            if probe is None and probing and first and process and process.alive:
                probe = _probe(ctx.driver.endpoint(first.workload), env.database)
        else:
            process = processes.get(program_name(env.ref.slug))
            process_current = config_exists = config_current = False
            probe, probe_at = None, None
        return EnvObservation(
            ref=env.ref,
            asleep=str(env.ref) in asleep,
            provisioned=art is not None,
            role_exists=(env.role in cluster.roles) if cluster.reachable else None,
            database_exists=(owned is not None) if cluster.reachable else None,
            modules=modules,
            config_exists=config_exists,
            config_current=config_current,
            process=process,
            process_current=process_current,
            route_exists=route is not None,
            route_current=bool(route and route.current),
            route_served=bool(route and route.served),
            health=probe,
            stats=db_stats,
            error=error,
            owner=owned.owner if owned else None,
            limits_current=_limits_current(env, owned),
            release=applied.get(str(env.ref)),
            failed_upgrade=failed.get(str(env.ref)),
            moving_from=moving.owner if moving is not None and moving.target == str(env.ref) else None,
            health_at=probe_at,
            sessions_missing=art is not None and art.process is not None and _missing(session_users, art.sessions),
        )

    if probing and len(latest) < len(envs_list):  # requests over the network: in parallel
        with ThreadPoolExecutor(max_workers=16) as pool:
            envs = dict(zip([e.ref for e in envs_list], pool.map(one, envs_list), strict=True))
    else:
        envs = {e.ref: one(e) for e in envs_list}
    observed_templates = _templates(ctx, clusters)
    observed = Observed(
        supervisor_running=supervisor_running,
        edge_running=driver.edge_running(),
        clusters=clusters,
        envs=envs,
        orphans=_orphans(ctx, clusters, routes.keys(), processes, observed_templates) if only is None else [],
        pools=pools,
        templates=observed_templates,
        worker=processes.get("worker"),
        service=processes.get("service"),
        leftovers=[Leftover(t.target, t.kind, t.name, t.describe()) for t in temporaries.pending(ctx)],
    )
    return observed, arts


def _stats(ctx: Context, clusters: dict[str, ClusterObservation]) -> dict[str, dict[str, DatabaseStats]]:
    out: dict[str, dict[str, DatabaseStats]] = {}
    for name, cluster in clusters.items():
        conn = ctx.cluster_conn(name, allocate=False) if cluster.reachable else None
        if conn is None:
            continue
        try:
            out[name] = postgres.owned_database_stats(conn, ctx.estate_id)
        except OdooplaneError as exc:
            logger.warning("cluster %s: database sizes unavailable: %s", name, exc.message)
    return out


def _templates(ctx: Context, clusters: dict[str, ClusterObservation]) -> dict[str, TemplateObservation]:
    out: dict[str, TemplateObservation] = {}
    for template in templates.desired(ctx):
        cluster = clusters[template.cluster_name]
        owned = cluster.databases.get(template.database)
        ready = owned is not None and owned.is_template and not owned.allows_connections
        out[template.database] = TemplateObservation(
            template.key, template.database, template.cluster_name, ready, owned is not None
        )
    return out


def _orphans(
    ctx: Context,
    clusters: dict[str, ClusterObservation],
    route_names: Iterable[str],
    processes: dict[str, ProcessState],
    wanted_templates: dict[str, TemplateObservation],
) -> list[Orphan]:
    wanted_slugs = {env.ref.slug for env in ctx.valid.environments if env.pool is None}
    all_slugs = {env.ref.slug for env in ctx.valid.environments}
    # An interrupted move's copy is the environment's data: wanted while the environment is.
    wanted_dbs = ({env.database for env in ctx.valid.environments} | set(wanted_templates)
                  | {moves_name(env.database) for env in ctx.valid.environments})
    wanted_roles = (
        {env.role for env in ctx.valid.environments} | {p.role for p in ctx.valid.pools} | set(wanted_templates)
    )
    wanted_programs = {cluster_program(n) for n, c in ctx.estate.clusters.items() if isinstance(c, ManagedCluster)}
    wanted_programs |= {program_name(slug) for slug in wanted_slugs}
    wanted_programs |= {pool_program(p.name, i) for p in ctx.valid.pools for i in range(p.processes)}
    out: list[Orphan] = []
    for name in sorted(set(ctx.driver.process_names()) | set(processes)):
        ours = name.startswith(("odoo-", CLUSTER_PROGRAM_PREFIX, POOL_PROGRAM_PREFIX))
        if ours and name not in wanted_programs:
            out.append(Orphan("process", name))
    for name in sorted(route_names):
        if name not in all_slugs:
            out.append(Orphan("route", name))
    pool_names = {p.name for p in ctx.valid.pools}
    for service in ctx.driver.pool_service_names():
        if service.removeprefix("pool-") not in pool_names:
            out.append(Orphan("pool-route", service.removeprefix("pool-")))
    for cname, cluster in clusters.items():
        for db, owned in sorted(cluster.databases.items()):
            if db not in wanted_dbs:
                kind = "template" if db.startswith(templates.PREFIX) else "database"
                out.append(Orphan(kind, db, cname, owned.target))
        for role, target in sorted(cluster.roles.items()):
            if role not in wanted_roles and not role.startswith(templates.PREFIX):
                out.append(Orphan("role", role, cname, target))
    if ctx.layout.envs.is_dir():
        for path in sorted(ctx.layout.envs.iterdir()):
            if path.is_dir() and path.name not in wanted_slugs:
                out.append(Orphan("directory", path.name, str(path)))
    return out
