"""Provisioning steps: clusters, the edge, and one environment's pipeline
(role → database → config → init → process → health → route), each idempotent and journaled."""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path

import httpx

from odooplane import execute
from odooplane.clock import wait_until
from odooplane.drivers.base import ProcessSpec
from odooplane.errors import CommandFailed, OdooplaneError, PermanentError, TemporaryError
from odooplane.estate.models import ManagedCluster
from odooplane.estate.resolve import DesiredEnvironment
from odooplane.operations import locks
from odooplane.operations.context import Context
from odooplane.operations.desired import EnvArtifacts, artifacts, owner, program_name, secret_name
from odooplane.operations.observe import cluster_program
from odooplane.operations.runner import Operation, StepFailed
from odooplane.planner.observed import EnvObservation, Orphan
from odooplane.services import managed_pg, odoo, pg_binaries, postgres
from odooplane.services.postgres import ClusterConn, marker
from odooplane.services.supervisor import atomic_write
from odooplane.store import ports

logger = logging.getLogger(__name__)

INIT_TIMEOUT_S = 1800
HEALTH_TIMEOUT_S = 90
ROUTE_TIMEOUT_S = 30


# -- clusters ---------------------------------------------------------------------------------


def ensure_cluster(ctx: Context, op: Operation, name: str) -> ClusterConn:
    """Make cluster ``name`` reachable: for a managed one initdb + configure + run it."""
    cluster = ctx.estate.clusters[name]
    target = f"cluster {name}"
    if not isinstance(cluster, ManagedCluster):
        external = ctx.cluster_conn(name)
        assert external is not None
        op.step("cluster-check", target, lambda: postgres.server_version(external))
        return external
    conn = ctx.cluster_conn(name)
    assert conn is not None
    layout = ctx.cluster_root(name)
    with locks.hold(ctx.layout.locks, f"cluster-{name}", wait=120, what=target):
        binaries = pg_binaries.find(cluster.bin_dir)
        user = managed_pg.service_user()
        if not layout.initialised:
            op.step(
                "cluster-init",
                target,
                lambda: managed_pg.initdb(binaries, layout, superuser_password=conn.password or "", user=user),
                detail=f"{binaries.bin_dir} ({binaries.origin})",
            )
        settings = managed_pg.render_settings(port=conn.port, run_dir=layout.run_dir, extra=dict(cluster.settings))
        program = cluster_program(name)
        process = ProcessSpec(
            name=program,
            kind="cluster",
            argv=managed_pg.server_argv(binaries, layout, user=user),
            cwd=layout.root,
            log_file=ctx.layout.process_log(program),
            user=user,
            stop_signal="INT",  # fast shutdown
            stop_wait_s=60,
            start_s=2,
            priority=100,
        )
        info = ctx.driver.processes().get(program)
        needs_settings = _settings_differ(layout, settings)
        if needs_settings:
            op.step("cluster-config", target, lambda: managed_pg.write_settings(layout, settings, user=user))
        if needs_settings and info is not None and info.running:
            op.step("cluster-restart", target, lambda: ctx.driver.restart_process(program))
        if info is None or not info.running or not ctx.driver.process_current(process):
            if not ports.port_is_free(conn.port) and (info is None or not info.running):
                raise StepFailed(
                    target=target,
                    step="cluster-process",
                    reason=f"port {conn.port} is already in use by another program",
                )

            def start() -> None:
                ctx.driver.ensure_process(process)
                ctx.driver.wait_running(program, timeout=30)

            op.step("cluster-process", target, start)
        op.step("cluster-ready", target, lambda: postgres.server_version(conn), attempts=10)
    return conn


def _settings_differ(layout: managed_pg.ClusterLayout, text: str) -> bool:
    try:
        return (layout.pgdata / "odooplane.conf").read_text() != text
    except FileNotFoundError:
        return True


# -- edge -------------------------------------------------------------------------------------


def ensure_edge(ctx: Context, op: Operation) -> None:
    edge = ctx.estate.platform.edge
    if not ctx.driver.edge_running():
        for port, key in ((edge.http_port, "http_port"), (edge.api_port, "api_port")):
            if not ports.port_is_free(port, edge.bind if key == "http_port" else "127.0.0.1"):
                raise StepFailed(
                    target="edge",
                    step="edge",
                    reason=f"platform.edge.{key} {port} is already in use by another program",
                )
    op.step("edge", "edge", ctx.driver.ensure_edge)


# -- one environment ----------------------------------------------------------------------------


def _dirs(ctx: Context, slug: str) -> None:
    for path in (ctx.layout.env_dir(slug), ctx.layout.env_data(slug), ctx.layout.env_logs(slug)):
        path.mkdir(parents=True, exist_ok=True)


def _write_conf(ctx: Context, art: EnvArtifacts) -> bool:
    _dirs(ctx, art.slug)
    return atomic_write(art.conf_path, art.conf_text, mode=0o600)


_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(?:Error|Exception|Denied|Fault)\b.*")
_LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d [\d:,]+ \d+ (?:ERROR|CRITICAL) \S+ (.*)$")


def odoo_error_summary(log_file: Path) -> str:
    """Return the most telling line of a failed Odoo run: the final exception line of the last
    traceback, else the last ERROR/CRITICAL message, else the last line."""
    try:
        lines = log_file.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return ""
    exceptions = [ln.strip() for ln in lines if _EXCEPTION_LINE.match(ln)]
    if exceptions:
        return exceptions[-1][:300]
    errors = [m.group(1).strip() for ln in lines if (m := _LOG_LINE.match(ln))]
    if errors:
        return errors[-1][:300]
    return lines[-1].strip()[:300] if lines else ""


def run_odoo_command(art: EnvArtifacts, argv: list[str], *, what: str, log_file: Path) -> None:
    """Run an odoo-bin command that stops by itself; raise PermanentError with the log's last error."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    log_file.unlink(missing_ok=True)
    try:
        execute.run(
            [*argv, f"--logfile={log_file}"],
            what=what,
            timeout=INIT_TIMEOUT_S,
            cwd=log_file.parent,
            secrets=[art.db_password],
        )
    except CommandFailed as exc:
        text = odoo_error_summary(log_file) or (exc.stderr_tail.splitlines() or ["(no output)"])[-1]
        raise PermanentError(f"{what} exited with {exc.returncode}: {text} (log: {log_file})") from exc


def _init(ctx: Context, art: EnvArtifacts) -> None:
    env = art.env
    argv = odoo.init_argv(art.runtime, art.conf_path, database=env.database, modules=list(env.modules))
    run_odoo_command(art, argv, what="Odoo init", log_file=ctx.layout.env_logs(art.slug) / "init.log")
    states = postgres.module_states(art.cluster, env.database) or {}
    if states.get("base") != "installed":
        raise PermanentError("Odoo init finished but base is not installed")


def _install(ctx: Context, art: EnvArtifacts, modules: list[str]) -> None:
    argv = odoo.install_argv(art.runtime, art.conf_path, database=art.env.database, modules=modules)
    run_odoo_command(art, argv, what="Odoo module install", log_file=ctx.layout.env_logs(art.slug) / "install.log")


def wait_healthy(ctx: Context, art: EnvArtifacts) -> None:
    """Wait until Odoo answers /web/health directly; fail fast if the process gives up."""
    url = f"http://127.0.0.1:{art.http_port}/web/health"

    gave_up = False

    def healthy() -> bool:
        nonlocal gave_up
        if odoo.probe(url, timeout=2.0).ok:
            return True
        info = ctx.driver.processes().get(art.process.name)
        gave_up = info is None or info.state == "FATAL"
        return gave_up

    if wait_until(healthy, timeout=HEALTH_TIMEOUT_S, interval=0.05) and not gave_up:
        return
    info = ctx.driver.processes().get(art.process.name)
    state = f"{info.state} {info.detail}" if info else "not running"
    raise PermanentError(
        f"Odoo does not answer {url} (process {state}; log: {ctx.layout.odoo_log(art.slug)})"
    )


def check_through_edge(ctx: Context, art: EnvArtifacts) -> None:
    """GET /web/health through Traefik with the environment's first hostname."""
    edge = ctx.estate.platform.edge
    host = art.env.hostnames[0]
    try:
        response = httpx.get(f"http://127.0.0.1:{edge.http_port}/web/health", headers={"Host": host}, timeout=5)
    except httpx.HTTPError as exc:
        raise TemporaryError(f"edge did not answer for {host}: {type(exc).__name__}", delay=0.2) from exc
    if response.status_code != 200:
        raise TemporaryError(f"edge answered {response.status_code} for {host}", delay=0.2)


def ensure_env(ctx: Context, op: Operation, env: DesiredEnvironment, obs: EnvObservation) -> None:
    """Converge one environment. On a permanent failure of a new environment, undo what this run
    created (database, role, files, ports) so nothing is left half-applied, then re-raise."""
    t = str(env.ref)
    with locks.hold(ctx.layout.locks, f"env-{env.ref.slug}", wait=5, what=t):
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
    art = (
        op.step("prepare", t, lambda: artifacts(ctx, env, create=True))
        if not obs.provisioned
        else artifacts(ctx, env, create=True)
    )
    assert art is not None
    comment = marker(ctx.estate_id, t)
    if not obs.role_exists:
        op.step(
            "role",
            t,
            lambda: postgres.ensure_role(art.cluster, role=env.role, password=art.db_password, comment=comment),
        )
    if obs.database_exists and not obs.base_installed:
        # Never fully initialised (an interrupted first apply): it holds no data, start again.
        op.step("database-reset", t, lambda: postgres.drop_database(art.cluster, env.database))
    if not obs.database_exists or not obs.base_installed:
        op.step(
            "database",
            t,
            lambda: postgres.ensure_database(art.cluster, database=env.database, owner=env.role, comment=comment),
        )
        created.append("database")
    conf_changed = False
    if not obs.config_current:
        conf_changed = op.step("config", t, lambda: _write_conf(ctx, art))
    if not obs.base_installed:
        op.step("init", t, lambda: _init(ctx, art), detail=",".join(["base", *env.modules]))
    else:
        installed = {m for m, s in (obs.modules or {}).items() if s == "installed"}
        missing = [m for m in env.modules if m not in installed]
        if missing:
            op.step("modules", t, lambda: _install(ctx, art, missing), detail=",".join(missing))
            conf_changed = True  # the running registry must load the new modules
    info = obs.process
    healthy = obs.health is not None and obs.health.ok
    need_process = info is None or not info.running or not obs.process_current or conf_changed or not healthy
    if need_process:

        def start() -> None:
            changed = ctx.driver.ensure_process(art.process)
            current = ctx.driver.processes().get(art.process.name)
            if not changed and (conf_changed or (current is not None and current.running and not healthy)):
                ctx.driver.restart_process(art.process.name)
            ctx.driver.wait_running(art.process.name, timeout=60, started=True)

        op.step("process", t, start)
        op.step("health", t, lambda: wait_healthy(ctx, art))
    if not obs.route_current or not obs.route_served:

        def route() -> None:
            ctx.driver.ensure_route(art.route)
            ctx.driver.wait_route_served(art.route.name, timeout=ROUTE_TIMEOUT_S)

        op.step("route", t, route)
        op.step("edge-check", t, lambda: check_through_edge(ctx, art), attempts=10)


# -- removal ------------------------------------------------------------------------------------


def remove_env(
    ctx: Context,
    slug: str,
    *,
    env: DesiredEnvironment | None,
    drop_data: bool,
    cluster: ClusterConn | None = None,
    database: str | None = None,
) -> None:
    """Stop and unroute one environment; with ``drop_data`` also drop its database, role,
    directory, port allocations and stored secrets. Idempotent."""
    ctx.driver.remove_route(slug)
    ctx.driver.remove_process(program_name(slug))
    if not drop_data:
        return
    db = database or (env.database if env else None)
    conn = cluster
    if conn is None and env is not None:
        conn = ctx.cluster_conn(env.cluster_name, allocate=False)
    if conn is not None and db:
        postgres.drop_database(conn, db)
        postgres.drop_role(conn, db)
    shutil.rmtree(ctx.layout.env_dir(slug), ignore_errors=True)  # logs are kept: they explain what happened
    if env is not None:
        ports.release(ctx.store, owner=owner(env))
        ctx.secrets.delete_prefix(secret_name(env, ""))


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


def remove_orphan(ctx: Context, op: Operation, orphan: Orphan, *, prune: bool) -> None:
    """Stop a process or route of an environment no longer in the estate; with ``prune`` also
    drop its database, role and directory (data is never dropped implicitly)."""
    label = orphan.target or orphan.name
    if orphan.kind == "process":
        op.step("remove-process", orphan.name, lambda: ctx.driver.remove_process(orphan.name))
        return
    if orphan.kind == "route":
        op.step("remove-route", orphan.name, lambda: ctx.driver.remove_route(orphan.name))
        return
    if not prune:
        return
    if orphan.kind == "directory":
        op.step("remove-directory", label, lambda: shutil.rmtree(orphan.where, ignore_errors=True))
        return
    conn = ctx.cluster_conn(orphan.where, allocate=False)
    if conn is None:
        return
    if orphan.kind == "database":

        def drop() -> None:
            postgres.drop_database(conn, orphan.name)
            if orphan.target:
                ports.release(ctx.store, owner=f"env/{orphan.target}")
                ctx.secrets.delete_prefix(f"env/{orphan.target}/")

        op.step("drop-database", label, drop)
    elif orphan.kind == "role":
        op.step("drop-role", label, lambda: postgres.drop_role(conn, orphan.name))
