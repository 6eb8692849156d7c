"""Observe what actually runs: clusters, databases and roles (by ownership marker), Odoo
processes, routes served by the edge, and health. Nothing here changes anything."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from odooplane.drivers.base import ProcessState
from odooplane.errors import OdooplaneError
from odooplane.estate.models import ManagedCluster
from odooplane.estate.resolve import EnvRef
from odooplane.operations.context import Context
from odooplane.operations.desired import EnvArtifacts, artifacts, program_name
from odooplane.planner.observed import ClusterObservation, EnvObservation, Observed, Orphan
from odooplane.services import odoo, postgres
from odooplane.services.postgres import DatabaseStats

logger = logging.getLogger(__name__)
CLUSTER_PROGRAM_PREFIX = "pg-"


def cluster_program(name: str) -> str:
    return f"{CLUSTER_PROGRAM_PREFIX}{name}"


def _observe_cluster(ctx: Context, name: str, processes: dict[str, ProcessState]) -> ClusterObservation:
    cluster = ctx.estate.clusters[name]
    managed = isinstance(cluster, ManagedCluster)
    initialised = ctx.cluster_root(name).initialised if managed else True
    process = processes.get(cluster_program(name)) if managed else None
    try:
        conn = ctx.cluster_conn(name, allocate=False)
    except OdooplaneError as exc:
        return ClusterObservation(name, cluster.kind, initialised, process, False, exc.message)
    if conn is None or (managed and (process is None or not process.running)):
        return ClusterObservation(name, cluster.kind, initialised, process, False, "not running")
    try:
        dbs, roles = postgres.owned_objects(conn, ctx.estate_id)
    except OdooplaneError as exc:
        return ClusterObservation(name, cluster.kind, initialised, process, False, exc.message)
    return ClusterObservation(name, cluster.kind, initialised, process, True, None, dbs, roles)


def _env_db_facts(
    ctx: Context, art: EnvArtifacts | None, cluster: ClusterObservation, ref: EnvRef, *, stats: bool
) -> tuple[bool | None, bool | None, dict[str, str] | None, DatabaseStats | None, str | None]:
    if not cluster.reachable:
        return None, None, None, None, cluster.error
    database = ref.database
    role_exists = ref.role in cluster.roles
    database_exists = database in cluster.databases
    modules = None
    db_stats = None
    error = None
    if database_exists:
        conn = art.cluster if art else ctx.cluster_conn(cluster.name, allocate=False)
        if conn is not None:
            try:
                modules = postgres.module_states(conn, database)
                if stats:
                    db_stats = postgres.database_stats(conn, database)
            except OdooplaneError as exc:
                error = exc.message
    return role_exists, database_exists, modules, db_stats, error


def observe(
    ctx: Context, *, health: bool = True, stats: bool = False
) -> tuple[Observed, dict[EnvRef, EnvArtifacts | None]]:
    """Return what runs now for every environment of the estate and what is orphaned, with the
    desired artifacts of the environments already provisioned (None for the others)."""
    driver = ctx.driver
    supervisor_running = bool(driver.process_names()) and bool(driver.processes())
    processes = driver.processes()
    clusters = {name: _observe_cluster(ctx, name, processes) for name in ctx.estate.clusters}
    arts = {env.ref: artifacts(ctx, env, create=False) for env in ctx.valid.environments}
    routes = driver.routes({a.route.name: a.route for a in arts.values() if a is not None})

    def one(ref: EnvRef) -> EnvObservation:
        env = ctx.valid.environment(ref)
        assert env is not None
        art = arts[ref]
        role_exists, database_exists, modules, db_stats, error = _env_db_facts(
            ctx, art, clusters[env.cluster_name], ref, stats=stats
        )
        conf_path = ctx.layout.env_conf(ref.slug)
        conf_exists = conf_path.exists()
        conf_current = bool(art) and conf_exists and conf_path.read_text() == art.conf_text  # type: ignore[union-attr]
        process = processes.get(program_name(ref.slug))
        process_current = art is not None and driver.process_current(art.process)
        route = routes.get(ref.slug)
        probe = None
        if health and art is not None and process is not None and process.running:
            probe = odoo.probe(f"http://127.0.0.1:{art.http_port}/web/health", timeout=2.0)
        return EnvObservation(
            ref=ref,
            provisioned=art is not None,
            role_exists=role_exists,
            database_exists=database_exists,
            modules=modules,
            config_exists=conf_exists,
            config_current=conf_current,
            process=process,
            process_current=process_current,
            route_exists=route is not None,
            route_current=bool(route and route.current),
            route_served=bool(route and route.served),
            health=probe,
            stats=db_stats,
            error=error,
        )

    refs = [env.ref for env in ctx.valid.environments]
    with ThreadPoolExecutor(max_workers=8) as pool:
        envs = dict(zip(refs, pool.map(one, refs), strict=True))
    observed = Observed(
        supervisor_running=supervisor_running,
        edge_running=driver.edge_running(),
        clusters=clusters,
        envs=envs,
        orphans=_orphans(ctx, clusters, routes.keys(), processes),
    )
    return observed, arts


def _orphans(
    ctx: Context,
    clusters: dict[str, ClusterObservation],
    route_names: Iterable[str],
    processes: dict[str, ProcessState],
) -> list[Orphan]:
    wanted_slugs = {env.ref.slug for env in ctx.valid.environments}
    wanted_dbs = {env.database for env in ctx.valid.environments}
    wanted_clusters = {cluster_program(n) for n, c in ctx.estate.clusters.items() if isinstance(c, ManagedCluster)}
    out: list[Orphan] = []
    for name in sorted(set(ctx.driver.process_names()) | set(processes)):
        stray_env = name.startswith("odoo-") and name.removeprefix("odoo-") not in wanted_slugs
        stray_cluster = name.startswith(CLUSTER_PROGRAM_PREFIX) and name not in wanted_clusters
        if stray_env or stray_cluster:
            out.append(Orphan("process", name))
    for name in sorted(route_names):
        if name not in wanted_slugs:
            out.append(Orphan("route", name))
    for cname, cluster in clusters.items():
        for db, target in sorted(cluster.databases.items()):
            if db not in wanted_dbs:
                out.append(Orphan("database", db, cname, target))
        for role, target in sorted(cluster.roles.items()):
            if role not in wanted_dbs:
                out.append(Orphan("role", role, cname, target))
    if ctx.layout.envs.is_dir():
        for path in sorted(ctx.layout.envs.iterdir()):
            if path.is_dir() and path.name not in wanted_slugs:
                out.append(Orphan("directory", path.name, str(path)))
    return out
