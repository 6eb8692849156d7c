"""Desired artifacts of one environment: its ports, credentials, odoo.conf, process definition
and route — everything needed to compare with what runs and to make it so."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from odooplane.drivers.base import ProcessSpec
from odooplane.estate.resolve import DesiredEnvironment, stack_source
from odooplane.operations.context import Context
from odooplane.render import odoo_conf
from odooplane.render.traefik import EnvRoute
from odooplane.services import odoo, passwords, secret_refs
from odooplane.services.postgres import ClusterConn
from odooplane.store import ports


@dataclass(frozen=True)
class EnvArtifacts:
    env: DesiredEnvironment
    runtime: odoo.Runtime
    cluster: ClusterConn
    db_password: str
    http_port: int
    evented_port: int
    conf_path: Path
    conf_text: str
    process: ProcessSpec
    route: EnvRoute

    @property
    def slug(self) -> str:
        return self.env.ref.slug


def program_name(slug: str) -> str:
    return f"odoo-{slug}"


def owner(env: DesiredEnvironment) -> str:
    return f"env/{env.ref}"


def secret_name(env: DesiredEnvironment, what: str) -> str:
    return f"env/{env.ref}/{what}"


def runtime_of(ctx: Context, env: DesiredEnvironment) -> odoo.Runtime:
    return odoo.runtime(env.stack, source=stack_source(env.stack, ctx.valid.path), estate_dir=ctx.base_dir)


def _admin_hash(ctx: Context, env: DesiredEnvironment, *, create: bool) -> str | None:
    """Return the pbkdf2 hash of the master password, reusing the stored one while the password
    is unchanged (a new salt on every apply would rewrite odoo.conf and restart Odoo)."""
    if env.admin_password:
        password: str | None = secret_refs.resolve(
            env.admin_password,
            base_dir=ctx.base_dir,
            where=f"tenants.{env.ref.tenant}.environments.{env.ref.env}.admin_password",
        )
    elif create:
        password = ctx.secrets.get_or_create(secret_name(env, "admin_password"))
    else:
        password = ctx.secrets.get(secret_name(env, "admin_password"))
    if password is None:
        return None
    fingerprint = ctx.secrets.fingerprint(password)
    cached = ctx.secrets.get(secret_name(env, "admin_hash"))
    if cached:
        fp, _, hashed = cached.partition("|")
        if fp == fingerprint:
            return hashed
    if not create:
        return None
    hashed = passwords.hash_password(password)
    ctx.secrets.put(secret_name(env, "admin_hash"), f"{fingerprint}|{hashed}")
    return hashed


def _ports(ctx: Context, env: DesiredEnvironment, *, create: bool) -> tuple[int, int] | None:
    who = owner(env)
    known = ports.allocated(ctx.store)
    rng = ctx.estate.platform.ports
    if env.http_port:
        if create:
            ports.pin(ctx.store, owner=who, purpose="http", port=env.http_port)
        http: int | None = env.http_port
    elif create:
        http = ports.allocate(
            ctx.store, owner=who, purpose="http", start=rng.start, end=rng.end, reserved=ctx.reserved_ports()
        )
    else:
        http = known.get((who, "http"))
    if create:
        evented: int | None = ports.allocate(
            ctx.store, owner=who, purpose="evented", start=rng.start, end=rng.end, reserved=ctx.reserved_ports()
        )
    else:
        evented = known.get((who, "evented"))
    if http is None or evented is None:
        return None
    return http, evented


def artifacts(ctx: Context, env: DesiredEnvironment, *, create: bool) -> EnvArtifacts | None:
    """Return the desired artifacts of ``env``.

    With ``create`` False (plan, status) nothing is allocated or generated: None means the
    environment has never been provisioned. Raise SecretError if a secret reference is unset.
    """
    cluster = ctx.cluster_conn(env.cluster_name, allocate=create)
    if cluster is None:
        return None
    db_password = (
        ctx.secrets.get_or_create(secret_name(env, "db_password"))
        if create
        else ctx.secrets.get(secret_name(env, "db_password"))
    )
    admin_hash = _admin_hash(ctx, env, create=create)
    port_pair = _ports(ctx, env, create=create)
    if db_password is None or admin_hash is None or port_pair is None:
        return None
    http_port, evented_port = port_pair
    slug = env.ref.slug
    layout = ctx.layout
    rt = runtime_of(ctx, env)
    conf = odoo_conf.OdooConf(
        series_major=env.stack.major,
        db_host=cluster.host,
        db_port=cluster.port,
        db_user=env.role,
        db_password=db_password,
        db_name=env.database,
        dbfilter=odoo_conf.dbfilter_exact(env.database),
        data_dir=str(layout.env_data(slug)),
        addons_path=rt.addons_path,
        http_port=http_port,
        evented_port=evented_port,
        admin_passwd_hash=admin_hash,
        logfile=str(layout.odoo_log(slug)),
        workers=env.workers,
        max_cron_threads=env.max_cron_threads,
        limit_memory_soft_mib=env.limits.memory_soft_mib,
        limit_memory_hard_mib=env.limits.memory_hard_mib,
        limit_time_cpu=env.limits.time_cpu_s,
        limit_time_real=env.limits.time_real_s,
        limit_request=env.limits.request,
        server_wide_modules=tuple(env.stack.server_wide_modules),
        extra=dict(env.options),
    )
    conf_path = layout.env_conf(slug)
    name = program_name(slug)
    process = ProcessSpec(
        name=name,
        kind="odoo",
        argv=tuple(odoo.server_argv(rt, conf_path)),
        cwd=layout.env_dir(slug),
        log_file=layout.process_log(name),
        env={"ODOOPLANE_TARGET": str(env.ref)},
        stop_signal="TERM",
        stop_wait_s=30,
        start_s=1,
    )
    route = EnvRoute(
        name=slug,
        hostnames=env.hostnames,
        http_port=http_port,
        evented_port=evented_port if env.workers > 0 else None,
        series_major=env.stack.major,
    )
    return EnvArtifacts(
        env=env,
        runtime=rt,
        cluster=cluster,
        db_password=db_password,
        http_port=http_port,
        evented_port=evented_port,
        conf_path=conf_path,
        conf_text=odoo_conf.render(conf),
        process=process,
        route=route,
    )
