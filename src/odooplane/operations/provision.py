"""Provisioning steps: clusters, the edge, templates, and one environment's pipeline
(role → database (template copy or Odoo init) → identity → limits → config → process → health →
route), each idempotent and journaled."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from odooplane.clock import wait_until
from odooplane.drivers.base import ClusterSpec, FilestoreRef, OdooCommand
from odooplane.errors import OdooplaneError, PermanentError, TemporaryError
from odooplane.estate.models import ManagedCluster
from odooplane.estate.resolve import DesiredEnvironment
from odooplane.operations import locks, templates, temporaries
from odooplane.operations.context import Context
from odooplane.operations.desired import (
    CREATING,
    SERVICE_PROGRAM,
    WORKER_PROGRAM,
    EnvArtifacts,
    OdooProcess,
    SessionUser,
    allocate_waker_port,
    artifacts,
    modules_state,
    owner,
    program_name,
    redis_admin,
    secret_name,
    service_spec,
    session_user,
    worker_spec,
)
from odooplane.operations.runner import Operation, StepFailed
from odooplane.planner.observed import EnvObservation, Orphan
from odooplane.render.traefik import DATABASE_HEADER
from odooplane.services import http, odoo, odoo_db, passwords, postgres, redis_acl
from odooplane.services.postgres import ClusterConn, marker
from odooplane.store import ports

logger = logging.getLogger(__name__)

HEALTH_TIMEOUT_S = 90
ROUTE_TIMEOUT_S = 30


# -- clusters ---------------------------------------------------------------------------------


def ensure_cluster(ctx: Context, op: Operation, name: str) -> ClusterConn:
    """Make cluster ``name`` reachable: a managed one made, configured and run by the driver."""
    cluster = ctx.estate.clusters[name]
    target = f"cluster {name}"
    if not isinstance(cluster, ManagedCluster):
        external = ctx.cluster_conn(name)
        assert external is not None
        op.step("cluster-check", target, lambda: postgres.server_version(external))
        return external
    conn = ctx.cluster_conn(name)
    assert conn is not None
    with locks.hold(ctx.store, f"cluster-{name}", wait=120, what=target, op=op):
        extra: dict[str, str | int | bool] = dict(cluster.settings)
        if cluster.pitr is not None:
            from odooplane.operations import pitr

            extra = {**pitr.archiving(ctx, name, conn), **extra}
        spec = ClusterSpec(name=name, port=conn.port, superuser_password=conn.password or "",
                           settings=tuple(sorted(extra.items())), bin_dir=cluster.bin_dir,
                           pitr=cluster.pitr is not None)

        def step(step_name: str, action: Callable[[], object], **kw: Any) -> object:
            return op.step(step_name, target, action, **kw)

        try:
            ctx.driver.ensure_cluster(spec, step=step)
        except PermanentError as exc:
            raise StepFailed(target=target, step="cluster-process", reason=exc.message) from exc
        if cluster.pitr is not None:
            from odooplane.operations import pitr

            pitr.ensure(ctx, op, name, conn)
    return conn


# -- edge -------------------------------------------------------------------------------------


def ensure_edge(ctx: Context, op: Operation) -> None:
    edge = ctx.estate.platform.edge
    if "edge" not in ctx.driver.processes():  # ours (even still starting) holds the port legitimately
        for port, key in ((edge.http_port, "http_port"), (edge.api_port, "api_port")):
            if not ports.port_is_free(port, edge.bind if key == "http_port" else "127.0.0.1"):
                raise StepFailed(target="edge", step="edge",
                                 reason=f"platform.edge.{key} {port} is already in use by another program")
    op.step("edge", "edge", ctx.driver.ensure_edge)


# -- the worker ----------------------------------------------------------------------------------

def ensure_worker(ctx: Context, op: Operation) -> None:
    """Keep the worker supervised while any environment is backed up (schedules need no CLI)."""
    wanted = ctx.valid.scheduled()
    info = ctx.driver.processes().get(WORKER_PROGRAM)
    if not wanted:
        if info is not None or WORKER_PROGRAM in ctx.driver.process_names():
            op.step("remove-process", WORKER_PROGRAM, lambda: ctx.driver.remove_process(WORKER_PROGRAM))
        return
    from odooplane.operations import sleeping

    if sleeping.waker_wanted(ctx):  # the port the edge sends sleeping environments' requests to
        allocate_waker_port(ctx)
    spec = worker_spec(ctx)
    if info is None or not info.running or not ctx.driver.process_current(spec):
        op.step("worker", "runtime", lambda: (ctx.driver.ensure_process(spec),
                                              ctx.driver.wait_running(WORKER_PROGRAM, timeout=30, started=True)))


def ensure_service(ctx: Context, op: Operation) -> None:
    """Keep `odooplane serve` supervised while the estate declares ``platform.service``."""
    spec = service_spec(ctx)
    info = ctx.driver.processes().get(SERVICE_PROGRAM)
    if spec is None:
        if info is not None or SERVICE_PROGRAM in ctx.driver.process_names():
            op.step("remove-process", SERVICE_PROGRAM, lambda: ctx.driver.remove_process(SERVICE_PROGRAM))
        return
    if info is None or not info.running or not ctx.driver.process_current(spec):
        op.step("service", "runtime", lambda: (ctx.driver.ensure_process(spec),
                                               ctx.driver.wait_running(SERVICE_PROGRAM, timeout=30, started=True)))


# -- templates ----------------------------------------------------------------------------------


def ensure_template(ctx: Context, op: Operation, template: templates.DesiredTemplate) -> None:
    conn = ctx.cluster_conn(template.cluster_name)
    assert conn is not None
    with locks.hold(ctx.store, f"template-{template.key}", wait=1800, what=f"template {template.database}", op=op):
        op.step("template", f"template {template.database}",
                lambda: templates.build(ctx, template, conn, operation_id=op.op_id),
                detail=",".join(["base", *template.modules]))


# -- processes ------------------------------------------------------------------------------------


def start_process(ctx: Context, proc: OdooProcess, *, restart: bool) -> None:
    """Make the driver run ``proc`` at its revision (restart it if asked: odoo.conf changed)."""
    ctx.driver.ensure_workload(proc.workload, restart=restart)
    ctx.driver.wait_ready(proc.name, timeout=60)


def wait_healthy(ctx: Context, proc: OdooProcess, *, database: str | None = None, log: Path | None = None) -> None:
    """Wait until Odoo answers directly (/web/health, or a shared pool's tenant login page with
    the edge's header); fail fast if the process gives up."""
    path = "/web/login" if database else "/web/health"
    url = ctx.driver.endpoint(proc.workload) + path
    headers = {DATABASE_HEADER: database} if database else None
    gave_up = False

    def healthy() -> bool:
        nonlocal gave_up
        if odoo.probe(url, timeout=3.0, headers=headers).ok:
            return True
        info = ctx.driver.workloads().get(proc.name)
        gave_up = info is None or info.state == "FATAL"
        return gave_up

    if wait_until(healthy, timeout=HEALTH_TIMEOUT_S, interval=0.05) and not gave_up:
        return
    info = ctx.driver.workloads().get(proc.name)
    state = f"{info.state} {info.detail}" if info else "not running"
    raise PermanentError(f"Odoo does not answer {url} (process {state}" + (f"; log: {log})" if log else ")"))


def check_through_edge(ctx: Context, art: EnvArtifacts) -> None:
    """GET the login page through Traefik with the environment's first hostname: proves the route,
    the database selection and Odoo in one request."""
    edge = ctx.estate.platform.edge
    host = art.env.hostnames[0]
    try:
        response = http.get(f"http://127.0.0.1:{edge.http_port}/web/login", headers={"Host": host}, timeout=10)
    except http.HttpError as exc:
        raise TemporaryError(f"edge did not answer for {host}: {exc}", delay=0.1) from exc
    if response.status != 200:
        raise TemporaryError(f"edge answered {response.status} for {host}/web/login", delay=0.1)


# -- one environment ----------------------------------------------------------------------------


def _logs_dir(ctx: Context, art: EnvArtifacts) -> Path:
    return ctx.layout.env_logs(art.slug)


def _write_conf(ctx: Context, art: EnvArtifacts) -> bool:
    assert art.process is not None
    return ctx.driver.configure_workload(art.process.workload)


def _init(ctx: Context, art: EnvArtifacts) -> None:
    env = art.env
    ctx.driver.run_odoo(OdooCommand(
        workload=art.runner, args=tuple(odoo.init_args(database=env.database, modules=list(env.modules))),
        what="Odoo init", log_name="init", log_scope=art.slug, secrets=(art.db_password,)))
    states = postgres.module_states(art.cluster, env.database) or {}
    if states.get("base") != "installed":
        raise PermanentError("Odoo init finished but base is not installed")


def _install(ctx: Context, art: EnvArtifacts, modules: list[str]) -> None:
    """Install ``modules`` and check they are installed: Odoo ignores (with a warning, exit 0) a name
    not on its addons path."""
    ctx.driver.run_odoo(OdooCommand(
        workload=art.runner, args=tuple(odoo.init_args(database=art.env.database, modules=modules)),
        what="Odoo module install", log_name="install", log_scope=art.slug, secrets=(art.db_password,)))
    states = postgres.module_states(art.cluster, art.env.database) or {}
    left = [f"{m} ({states.get(m) or 'not on the addons path'})" for m in modules if states.get(m) != "installed"]
    if left:
        raise PermanentError(f"Odoo module install finished without installing {', '.join(left)} "
                             f"(log: {_logs_dir(ctx, art) / 'install.log'})")


def reset_identity(art: EnvArtifacts, *, database: str | None = None) -> None:
    """Give the environment's database (or ``database``, a copy about to become it) its own identity."""
    hashed = passwords.hash_password(art.admin_password, rounds=passwords.GENERATED_ROUNDS)
    odoo_db.reset_identity(art.cluster, database or art.env.database, odoo_db.Identity(art.base_url, hashed))


def _limits(art: EnvArtifacts) -> None:
    env = art.env
    postgres.set_tenant_limits(art.cluster, database=env.database, role=env.role,
                               connection_limit=env.connection_limit, statement_timeout_s=env.statement_timeout_s)


def mark_ready(ctx: Context, art: EnvArtifacts) -> None:
    """Record in the database's marker that it is complete and which of the environment's modules
    are installed — read back from ``ir_module_module`` now, never taken from the estate — so that
    observing many environments needs no query inside each database and a module that did not
    install is never claimed."""
    env = art.env
    states = postgres.module_states(art.cluster, env.database) or {}
    if states.get("base") != "installed":
        raise PermanentError(f"{env.ref}: base is not installed in {env.database}: the database is not complete")
    verified = [m for m in env.modules if states.get(m) == "installed"]
    postgres.set_database_state(art.cluster, database=env.database, estate_id=ctx.estate_id, target=str(env.ref),
                                state=modules_state(verified))


def ensure_env(ctx: Context, op: Operation, env: DesiredEnvironment, obs: EnvObservation) -> None:
    """Converge one environment. On a permanent failure of a new environment, undo what this run
    created (database, role, files, ports) so nothing is left half-applied, then re-raise."""
    t = str(env.ref)
    with locks.hold(ctx.store, f"env-{env.ref.slug}", wait=5, what=t, op=op):
        created: list[str] = []
        try:
            _converge_env(ctx, op, env, obs, created)
        except StepFailed:
            if "database" in created:
                op.step("rollback", t, lambda: remove_env(ctx, env.ref.slug, env=env, drop_data=True))
            raise


def _converge_env(
    ctx: Context, op: Operation, env: DesiredEnvironment, obs: EnvObservation, created: list[str]
) -> None:
    t = str(env.ref)
    if obs.provisioned:
        art = artifacts(ctx, env, create=True)
    else:
        art = op.step("prepare", t, lambda: artifacts(ctx, env, create=True))
    assert art is not None
    comment = marker(ctx.estate_id, t)
    new = not obs.database_exists or not obs.base_installed
    if new and not obs.route_exists:
        # Let Traefik load the route while the database is made: until it exists the edge answers
        # with Odoo's database selector (a pool) or 502 (no process yet), never another tenant.
        ctx.driver.ensure_route(art.route)
    if env.pool is None and not obs.role_exists:
        op.step("role", t, lambda: postgres.ensure_role(art.cluster, role=env.role, password=art.db_password,
                                                        comment=comment))
    if art.process is not None and art.sessions is not None and (not obs.config_current or obs.sessions_missing):
        op.step("sessions", t, lambda: ensure_sessions(ctx, art.sessions))
    if art.process is not None and not obs.config_current:
        op.step("config", t, lambda: _write_conf(ctx, art))
    else:
        ctx.make_dir(art.data_dir)
        ctx.make_dir(_logs_dir(ctx, art))
    if obs.database_exists and not obs.base_installed:
        # Never fully initialised (an interrupted first apply): it holds no data, start again.
        op.step("database-reset", t, lambda: postgres.drop_database(art.cluster, env.database))
    if new:
        template = templates.for_environment(ctx, env)
        if template is not None:
            op.step("from-template", t, lambda: templates.copy_into(ctx, template, art, operation_id=op.op_id),
                    detail=template.database)
            created.append("database")
        else:
            # Marked "creating" until Odoo's init and the identity are done: a kill in between
            # leaves a database the next run knows it may start again.
            op.step("database", t, lambda: temporaries.create_database(
                ctx, art.cluster, database=env.database, owner=env.role, target=t, operation_id=op.op_id,
                comment=marker(ctx.estate_id, t, state=CREATING)))
            created.append("database")
            op.step("init", t, lambda: _init(ctx, art), detail=",".join(["base", *env.modules]))
        op.step("identity", t, lambda: reset_identity(art))
        mark_ready(ctx, art)
    restart = bool(obs.process is not None and not obs.config_current)
    if not new:
        installed = {m for m, s in (obs.modules or {}).items() if s == "installed"}
        missing = [m for m in env.modules if m not in installed]
        if missing:
            op.step("modules", t, lambda: _install(ctx, art, missing), detail=",".join(missing))
            mark_ready(ctx, art)
            restart = True  # the running registry must load the new modules
    if new or not obs.limits_current:
        op.step("limits", t, lambda: _limits(art))
    if art.process is not None:
        proc = art.process
        healthy = obs.health is not None and obs.health.ok
        running = obs.process is not None and obs.process.running
        if not running or not obs.process_current or restart or not healthy:
            op.step("process", t, lambda: start_process(ctx, proc, restart=restart or (running and not healthy)))
            op.step("health", t, lambda: wait_healthy(ctx, proc, log=ctx.layout.odoo_log(art.slug)))
    elif new:
        pool_first = _pool_first_process(ctx, env)
        op.step("health", t, lambda: wait_healthy(ctx, pool_first, database=env.database))
    if not obs.route_current or not obs.route_served:
        def route() -> None:
            ctx.driver.ensure_route(art.route)
            ctx.driver.wait_route_served(art.route.name, timeout=ROUTE_TIMEOUT_S)

        op.step("route", t, route)
        op.step("edge-check", t, lambda: check_through_edge(ctx, art), attempts=20)


def _pool_first_process(ctx: Context, env: DesiredEnvironment) -> OdooProcess:
    from odooplane.operations.desired import pool_artifacts

    pool = ctx.valid.pool(env.pool or "")
    assert pool is not None
    arts = pool_artifacts(ctx, pool, create=False)
    if arts is None:
        raise PermanentError(f"pool {env.pool} is not provisioned")
    return arts.processes[0]


# -- removal ------------------------------------------------------------------------------------


def ensure_sessions(ctx: Context, sessions: SessionUser | None) -> None:
    """The Redis ACL user of an environment's or pool's sessions (idempotent)."""
    if sessions is None:
        return
    redis_acl.ensure_user(sessions.host, sessions.port, redis_admin(ctx, sessions), user=sessions.user,
                          password=sessions.password, prefix=sessions.prefix)


def remove_sessions(ctx: Context, sessions: SessionUser) -> None:
    """Delete the ACL user of ``sessions`` and every session kept under its prefix."""
    redis_acl.remove_user(sessions.host, sessions.port, redis_admin(ctx, sessions), user=sessions.user,
                          prefix=sessions.prefix)


def remove_env(ctx: Context, slug: str, *, env: DesiredEnvironment | None, drop_data: bool,
               cluster: ClusterConn | None = None, database: str | None = None) -> None:
    """Stop and unroute one environment; with ``drop_data`` also drop its database, role,
    filestore, port allocations and stored secrets. Idempotent. Logs are kept."""
    ctx.driver.remove_route(slug)
    ctx.driver.remove_workload(program_name(slug))
    if not drop_data:
        return
    db = database or (env.database if env else None)
    conn = cluster
    if conn is None and env is not None:
        conn = ctx.cluster_conn(env.cluster_name, allocate=False)
    if conn is not None and db:
        postgres.drop_database(conn, db)
        if env is None or env.pool is None:
            postgres.drop_role(conn, db)
    ctx.driver.storage.remove_storage(f"env-{slug}")  # its data_dir: filestore and sessions
    shutil.rmtree(ctx.layout.env_dir(slug), ignore_errors=True)  # its configuration
    shutil.rmtree(ctx.layout.mail_dir(slug), ignore_errors=True)
    if env is not None and env.pool is not None:
        ctx.driver.storage.remove(FilestoreRef(f"pool-{env.pool}", env.database))
    if env is not None and env.pool is None and env.stateless is not None and env.stateless.sessions:
        art = artifacts(ctx, env, create=False)
        if art is not None and art.sessions is not None:
            remove_sessions(ctx, art.sessions)
    if env is not None:
        ports.release(ctx.store, owner=owner(env))
        ctx.secrets.delete_prefix(secret_name(env, ""))


def remove_pool_sessions(ctx: Context, pool: str) -> list[str]:
    """Delete a removed pool's session ACL user and its sessions from every Redis server of the
    estate that has it (the estate no longer says which one kept them); return those servers. A
    server that does not answer is skipped with a warning: its user holds only that pool's keys."""
    done = []
    for name in sorted(ctx.estate.monitoring.redis):
        sessions = session_user(ctx, name, slug=f"pool-{pool}", password="")
        try:
            if sessions.user not in redis_acl.users(sessions.host, sessions.port, redis_admin(ctx, sessions)):
                continue
            remove_sessions(ctx, sessions)
        except (OSError, redis_acl.RedisError, OdooplaneError) as exc:  # down, refusing, or its password unset
            logger.warning("redis %s: cannot remove the sessions of removed pool %s: %s", name, pool, exc)
            continue
        done.append(name)
    return done


def remove_orphan(ctx: Context, op: Operation, orphan: Orphan, *, prune: bool) -> None:
    """Stop a process or route that belongs to nothing in the estate, drop a stale template; with
    ``prune`` also drop an old environment's database, role and directory (data is never dropped
    implicitly)."""
    label = orphan.target or orphan.name
    if orphan.kind == "process":
        op.step("remove-process", orphan.name, lambda: ctx.driver.remove_process(orphan.name))
        return
    if orphan.kind == "route":
        op.step("remove-route", orphan.name, lambda: ctx.driver.remove_route(orphan.name))
        return
    if orphan.kind == "pool-route":
        # Sessions first: the route is what shows the pool is gone, so it goes last (a kill in between
        # leaves the route for the next run to find, and the sessions step runs again).
        if ctx.estate.monitoring.redis:
            op.step("remove-sessions", f"pool {orphan.name}", lambda: remove_pool_sessions(ctx, orphan.name))
        op.step("remove-route", f"pool {orphan.name}",
                lambda: ctx.driver.remove_pool_service(f"pool-{orphan.name}"))
        return
    conn = ctx.cluster_conn(orphan.where, allocate=False) if orphan.where in ctx.estate.clusters else None
    if orphan.kind == "template":
        if conn is not None:
            key = orphan.name.removeprefix(templates.PREFIX)
            op.step("remove-template", orphan.name, lambda: templates.remove(ctx, conn, orphan.name, key))
        return
    if not prune:
        return
    if orphan.kind == "directory":
        op.step("remove-directory", label, lambda: shutil.rmtree(orphan.where, ignore_errors=True))
        return
    if conn is None:
        return
    if orphan.kind == "database":
        if orphan.target in {str(env.ref) for env in ctx.valid.environments}:
            return  # data of an environment that still exists: never dropped as an orphan (planner.plan)

        def drop() -> None:
            postgres.drop_database(conn, orphan.name)
            if orphan.target:
                ports.release(ctx.store, owner=f"env/{orphan.target}")
                ctx.secrets.delete_prefix(f"env/{orphan.target}/")

        op.step("drop-database", label, drop)
    elif orphan.kind == "role":
        op.step("drop-role", label, lambda: postgres.drop_role(conn, orphan.name))


def find_cluster_of(ctx: Context, database: str) -> ClusterConn | None:
    """Return the estate cluster holding our database ``database`` (for orphans)."""
    for name in ctx.estate.clusters:
        try:
            conn = ctx.cluster_conn(name, allocate=False)
            if conn is not None and postgres.database_exists(conn, database):
                return conn
        except OdooplaneError:
            continue
    return None
