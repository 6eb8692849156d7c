"""Desired artifacts: for every environment and pool, its ports, credentials, odoo.conf, process
definitions and routes — everything needed to compare with what runs and to make it so."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import odooplane
from odooplane.drivers.base import (
    ClusterSpec,
    DatabaseInit,
    DesiredRuntime,
    FilestoreRef,
    MailListener,
    OdooWorkload,
    ProcessSpec,
    StackRef,
)
from odooplane.errors import PermanentError
from odooplane.estate import sizing
from odooplane.estate.models import Limits, ManagedCluster, Resources, Stack
from odooplane.estate.models import Stateless as StatelessSettings
from odooplane.estate.resolve import DesiredEnvironment, DesiredPool, stack_source
from odooplane.operations.context import Context
from odooplane.render import odoo_conf
from odooplane.render.traefik import ACME_RESOLVER, EnvRoute, PoolService
from odooplane.services import odoo, passwords, secret_refs, service_users
from odooplane.services.postgres import ClusterConn
from odooplane.store import ports

DBROUTER = "odooplane_dbrouter"
REQUEST_IDS = "odooplane_requestid"  # real Odoo only: the simulator logs request ids itself
ODOO_ADDONS = Path(odooplane.__file__).parent / "odoo_addons"
POOL_DBFILTER = r"^[a-z][a-z0-9-]*_[a-z0-9-]+$"  # tenant databases only, never templates


SESSIONS_MODULE = "odooplane_sessions"
ATTACHMENTS_MODULE = "odooplane_attachments"


@dataclass(frozen=True)
class SessionUser:
    """The Redis ACL user an environment's (or pool's) sessions are kept with."""

    server: str  # name under monitoring.redis
    host: str
    port: int
    user: str
    password: str
    prefix: str


def session_user(ctx: Context, server: str, *, slug: str, password: str) -> SessionUser:
    """The ACL user ``odooplane-<estate>-<slug>`` of ``monitoring.redis.<server>``, keys under
    ``odooplane:<estate>:sess:<slug>:``."""
    estate = ctx.estate.platform.name
    where = ctx.estate.monitoring.redis[server]
    return SessionUser(server=server, host=where.host, port=where.port, user=f"odooplane-{estate}-{slug}",
                       password=password, prefix=f"odooplane:{estate}:sess:{slug}:")


def redis_admin(ctx: Context, sessions: SessionUser) -> str | None:
    """The password of the Redis server's admin (the control plane's only; never in odoo.conf)."""
    server = ctx.estate.monitoring.redis[sessions.server]
    if not server.password:
        return None
    return secret_refs.resolve(server.password, base_dir=ctx.base_dir,
                               where=f"monitoring.redis.{sessions.server}.password")


@dataclass(frozen=True)
class Stateless:
    """What odoo.conf gets for sessions and attachments out of the process."""

    extra: dict[str, str | int | float | bool]
    modules: tuple[str, ...]
    sessions: SessionUser | None


def stateless_settings(ctx: Context, value: StatelessSettings | None, *, secret_prefix: str, slug: str,
                       create: bool) -> Stateless | None:
    """odoo.conf options and server-wide modules for ``value`` (None: not provisioned yet and not
    ``create``). The ACL user is ``odooplane-<estate>-<slug>``, its keys ``odooplane:<estate>:sess:<slug>:``;
    attachments go under ``<estate>/<slug>/`` in the bucket."""
    if value is None:
        return Stateless({}, (), None)
    extra: dict[str, str | int | float | bool] = {}
    modules: list[str] = []
    sessions = None
    if value.sessions:
        server = ctx.estate.monitoring.redis[value.sessions]
        password = _secret(ctx, f"{secret_prefix}/redis_password", create=create)
        if password is None:
            return None
        sessions = session_user(ctx, value.sessions, slug=slug, password=password)
        extra.update(odooplane_sessions_redis=f"redis://{sessions.user}@{server.host}:{server.port}/0",
                     odooplane_sessions_password=password, odooplane_sessions_prefix=sessions.prefix)
        modules.append(SESSIONS_MODULE)
    if value.attachments:
        store = bucket_of(ctx, value.attachments, slug=slug)
        extra.update(odooplane_s3_endpoint=store.endpoint, odooplane_s3_bucket=store.bucket,
                     odooplane_s3_region=store.region, odooplane_s3_prefix=store.prefix,
                     odooplane_s3_access_key=store.access_key, odooplane_s3_secret_key=store.secret_key)
        modules.append(ATTACHMENTS_MODULE)
    return Stateless(extra, tuple(modules), sessions)


@dataclass(frozen=True)
class AttachmentBucket:
    """Where an environment's (or pool's) attachments are kept: ``<prefix><db>/<store_fname>``."""

    endpoint: str
    bucket: str
    region: str
    access_key: str = field(repr=False)
    secret_key: str = field(repr=False)
    prefix: str = ""  # <estate>/<slug>/

    def key(self, database: str, store_fname: str) -> str:
        return f"{self.prefix}{database}/{store_fname}"


def bucket_of(ctx: Context, storage: str, *, slug: str) -> AttachmentBucket:
    """``object_storage.<storage>`` with its keys resolved, under the prefix of ``slug``."""
    store = ctx.estate.object_storage[storage]
    where = f"object_storage.{storage}"
    if ctx.provisional is not None:
        keys = tuple(ctx.provisional.secret(f"object_storage/{storage}/{k}")
                     for k in ("access_key_id", "secret_access_key"))
    else:
        keys = (secret_refs.resolve(store.access_key_id, base_dir=ctx.base_dir, where=f"{where}.access_key_id"),
                secret_refs.resolve(store.secret_access_key, base_dir=ctx.base_dir,
                                    where=f"{where}.secret_access_key"))
    return AttachmentBucket(store.endpoint_url, store.bucket, store.region, keys[0], keys[1],
                            f"{ctx.estate.platform.name}/{slug}/")


def attachment_bucket(ctx: Context, env: DesiredEnvironment) -> AttachmentBucket | None:
    """The bucket ``env``'s Odoo stores attachments in (a pool tenant's: its pool's prefix), or None."""
    if env.stateless is None or not env.stateless.attachments:
        return None
    return bucket_of(ctx, env.stateless.attachments, slug=f"pool-{env.pool}" if env.pool else env.ref.slug)


@dataclass(frozen=True)
class OdooProcess:
    """One long-running Odoo server: the workload the driver runs."""

    workload: OdooWorkload

    @property
    def name(self) -> str:
        return self.workload.name

    @property
    def http_port(self) -> int:
        return self.workload.http_port

    @property
    def evented_port(self) -> int:
        return self.workload.evented_port


@dataclass(frozen=True)
class PoolArtifacts:
    pool: DesiredPool
    runtime: odoo.Runtime
    cluster: ClusterConn
    db_password: str
    storage: str  # its data_dir, shared by its processes: pool-<name>
    data_dir: Path
    processes: tuple[OdooProcess, ...]
    service: PoolService
    sessions: SessionUser | None = None

    @property
    def runner(self) -> OdooWorkload:
        """The workload whose configuration init/update commands of the pool's databases run with."""
        return self.processes[0].workload


@dataclass(frozen=True)
class EnvArtifacts:
    env: DesiredEnvironment
    runtime: odoo.Runtime
    cluster: ClusterConn
    db_password: str  # of the role owning the database (the pool's for a shared environment)
    storage: str  # its data_dir (the filestore lives in it): env-<slug>, or its pool's pool-<name>
    data_dir: Path  # where the driver keeps that data_dir
    runner: OdooWorkload  # the workload whose configuration init/update/neutralize run with
    process: OdooProcess | None  # None for a shared environment: the pool serves it
    route: EnvRoute
    admin_password: str  # the admin user's login password
    base_url: str
    sessions: SessionUser | None = None  # a dedicated environment's (a pool tenant's are its pool's)

    @property
    def slug(self) -> str:
        return self.env.ref.slug

    @property
    def http_port(self) -> int | None:
        return self.process.http_port if self.process else None

    @property
    def evented_port(self) -> int | None:
        return self.process.evented_port if self.process else None

    @property
    def filestore_ref(self) -> FilestoreRef:
        """The environment's filestore (operations reach it through ``ctx.driver.storage``)."""
        return FilestoreRef(self.storage, self.env.database)


CREATING = "creating"  # the marker state of a database being made: holds no data yet


def modules_state(modules: Iterable[str]) -> str:
    """The marker state of a complete database on which ``modules`` (and base) were read back installed."""
    names = ",".join(sorted({"base", *modules}))
    # "installed|": markers of earlier versions hashed the estate's module list, installed or not;
    # they no longer match, so such a database is looked into once and marked again.
    return "ready:" + hashlib.sha1(f"installed|{names}".encode()).hexdigest()[:10]  # noqa: S324 - a fingerprint


def ready_state(env: DesiredEnvironment) -> str:
    """The marker state of a complete database with every module of ``env`` installed: observing it
    needs no query inside the database."""
    return modules_state(env.modules)


def program_name(slug: str) -> str:
    return f"odoo-{slug}"


def pool_program(name: str, index: int) -> str:
    return f"pool-{name}-{index}"


def owner(env: DesiredEnvironment) -> str:
    return f"env/{env.ref}"


def secret_name(env: DesiredEnvironment, what: str) -> str:
    return f"env/{env.ref}/{what}"


def runtime_of(ctx: Context, stack: Stack) -> odoo.Runtime:
    return odoo.runtime(stack, source=stack_source(stack, ctx.valid.path), estate_dir=ctx.base_dir)


def check_runnable(ctx: Context, rt: odoo.Runtime) -> odoo.Runtime:
    """Return ``rt`` if Odoo's service user can run it (interpreter, odoo-bin, addons directories);
    raise PermanentError naming what it may not reach otherwise (before anything is started)."""
    try:
        service_users.check_runtime(rt.base, rt.addons_path, ctx.odoo_user)
    except ValueError as exc:
        raise PermanentError(str(exc)) from exc
    return rt


def _secret(ctx: Context, name: str, *, create: bool) -> str | None:
    if ctx.provisional is not None:
        return ctx.provisional.secret(name)
    return ctx.secrets.get_or_create(name) if create else ctx.secrets.get(name)


def _master_hash(ctx: Context, prefix: str, ref: str | None, where: str, *, create: bool) -> str | None:
    """Return the pbkdf2 hash of a master password, reusing the stored one while the password is
    unchanged (a new salt on every apply would rewrite odoo.conf and restart Odoo)."""
    if ctx.provisional is not None:
        return ctx.provisional.secret(f"{prefix}/admin_hash")
    password = (secret_refs.resolve(ref, base_dir=ctx.base_dir, where=where) if ref
                else _secret(ctx, f"{prefix}/admin_password", create=create))
    if password is None:
        return None
    fingerprint = ctx.secrets.fingerprint(password)
    cached = ctx.secrets.get(f"{prefix}/admin_hash")
    if cached:
        fp, _, hashed = cached.partition("|")
        if fp == fingerprint:
            return hashed
    if not create:
        return None
    # A password the user chose gets Odoo's full stretching; a generated one does not need it.
    hashed = passwords.hash_password(password, rounds=passwords.ROUNDS if ref else passwords.GENERATED_ROUNDS)
    ctx.secrets.put(f"{prefix}/admin_hash", f"{fingerprint}|{hashed}")
    return hashed


NON_PRODUCTION_SAFE = ("production", "dr")  # stages whose mail is real


def mail_port(ctx: Context, env: DesiredEnvironment, *, create: bool) -> int | None:
    """The mail catcher port of a non-production environment (its outgoing mail goes there);
    None for production and DR, or when not allocated yet and ``create`` is off."""
    if env.stage in NON_PRODUCTION_SAFE:
        return None
    return _port(ctx, owner(env), "smtp", create=create)


def _port(ctx: Context, who: str, purpose: str, *, create: bool, fixed: int | None = None) -> int | None:
    if ctx.provisional is not None:
        return ctx.provisional.port(who, purpose, fixed)
    if fixed:
        if create:
            ports.pin(ctx.store, owner=who, purpose=purpose, port=fixed)
        return fixed
    if not create:
        return ctx.allocated_ports().get((who, purpose))
    rng = ctx.estate.platform.ports
    return ports.allocate(ctx.store, owner=who, purpose=purpose, start=rng.start, end=rng.end,
                          reserved=ctx.reserved_ports())


def _settings(
    *, series_major: int, role: str, password: str, database: str, dbfilter: str, admin_hash: str,
    workers: int, max_cron_threads: int, limits: Limits, server_wide: tuple[str, ...],
    extra: dict[str, str | int | float | bool], db_maxconn: int = 64,
) -> odoo_conf.OdooSettings:
    return odoo_conf.OdooSettings(
        series_major=series_major, db_user=role, db_password=password, db_name=database, dbfilter=dbfilter,
        admin_passwd_hash=admin_hash, workers=workers, max_cron_threads=max_cron_threads,
        limit_memory_soft_mib=limits.memory_soft_mib, limit_memory_hard_mib=limits.memory_hard_mib,
        limit_time_cpu=limits.time_cpu_s, limit_time_real=limits.time_real_s, limit_request=limits.request,
        server_wide_modules=server_wide, db_maxconn=db_maxconn, extra=extra,
    )


WAKER = ("platform", "waker")  # (owner, purpose) of the worker's waker port


def allocate_waker_port(ctx: Context) -> int:
    port = _port(ctx, *WAKER, create=True)
    assert port is not None
    return port


def waker_port(ctx: Context, env: DesiredEnvironment) -> int | None:
    """Where ``env``'s requests go while it sleeps with wake_on_request (the worker's waker, local
    driver); None when it is awake, cannot be woken by a request, or no waker port is allocated."""
    if ctx.provisional is not None or env.schedule is None or str(env.ref) not in ctx.asleep():
        return None
    if not ctx.estate.schedules[env.schedule].wake_on_request or ctx.estate.platform.driver != "local":
        return None
    return ctx.allocated_ports().get(WAKER)


def _resources(resources: Resources | None) -> dict[str, Any]:
    """The workload fields of an environment's or pool's ``resources``."""
    if resources is None:
        return {}
    return {"cpus": resources.cpus, "memory_mib": resources.memory_mib}


def stack_ref(ctx: Context, stack: Stack) -> StackRef:
    """``stack`` as the drivers see it: absolute source and addons directories (Odooplane's own
    server-wide addons first, for real Odoo), or the image a container driver runs."""
    source = stack_source(stack, ctx.valid.path)
    extra = odoo.extra_addons(stack, estate_dir=ctx.base_dir)
    if stack.image:
        return StackRef(series_major=stack.major, simulator=False, image=stack.image, addons=(str(ODOO_ADDONS), *extra))
    if stack.simulator or source is None:
        return StackRef(series_major=stack.major, simulator=True, addons=extra)
    return StackRef(series_major=stack.major, simulator=False, source=str(source), python=stack.python,
                    addons=(str(ODOO_ADDONS), *extra))


def pool_artifacts(ctx: Context, pool: DesiredPool, *, create: bool) -> PoolArtifacts | None:
    """Return the desired artifacts of a pool (None: never provisioned, with ``create`` False)."""
    cluster = ctx.cluster_conn(pool.cluster_name, allocate=create)
    if cluster is None:
        return None
    prefix = f"pool/{pool.name}"
    password = _secret(ctx, f"{prefix}/db_password", create=create)
    admin_hash = _master_hash(ctx, prefix, None, f"pools.{pool.name}", create=create)
    if password is None or admin_hash is None:
        return None
    rt = _with_own_addons(runtime_of(ctx, pool.stack))
    stack = stack_ref(ctx, pool.stack)
    storage = f"pool-{pool.name}"
    stateless = stateless_settings(ctx, pool.stateless, secret_prefix=prefix, slug=pool.slug, create=create)
    if stateless is None:
        return None
    server_wide = _server_wide(rt, (*pool.stack.server_wide_modules, DBROUTER, *stateless.modules))
    settings = _settings(
        series_major=pool.stack.major, role=pool.role, password=password, database="", dbfilter=POOL_DBFILTER,
        admin_hash=admin_hash, workers=pool.workers, max_cron_threads=pool.max_cron_threads, limits=pool.limits,
        server_wide=server_wide, extra={**dict(pool.options), **stateless.extra}, db_maxconn=pool.db_maxconn,
    )
    procs = []
    for index in range(pool.processes):
        http = _port(ctx, prefix, f"http-{index}", create=create)
        evented = _port(ctx, prefix, f"evented-{index}", create=create)
        if http is None or evented is None:
            return None
        procs.append(OdooProcess(OdooWorkload(
            name=pool_program(pool.name, index), role="pool", target=f"pool {pool.name}", stack=stack,
            settings=_cron_partition(settings, index, pool.processes), cluster=pool.cluster_name,
            cluster_address=(cluster.host, cluster.port),
            storage=storage, http_port=http, evented_port=evented, evented=pool.workers > 0,
            **_resources(pool.resources))))
    data_dir = _data_dir(ctx, storage)
    service = PoolService(
        name=pool.slug, http_ports=tuple(p.http_port for p in procs),
        evented_ports=tuple(p.evented_port for p in procs) if pool.workers > 0 else (),
    )
    return PoolArtifacts(pool, rt, cluster, password, storage, data_dir, tuple(procs), service, stateless.sessions)


def _cron_partition(settings: odoo_conf.OdooSettings, index: int, processes: int) -> odoo_conf.OdooSettings:
    """Process ``index`` of a prefork pool of ``processes``: its cron workers visit only its share of the
    tenants (``odooplane_cron_partition``, read by odooplane_dbrouter; estate/sizing.cron_partition)."""
    if processes < 2 or settings.workers == 0 or settings.max_cron_threads == 0:  # sizing.cron_partitioned
        return settings
    return dataclasses.replace(settings, extra={**settings.extra, sizing.CRON_PARTITION: f"{index}/{processes}"})


def _data_dir(ctx: Context, storage: str) -> Path:
    """Where the driver keeps ``storage`` (rendering only names it: a driver may create it when asked)."""
    return Path(storage) if ctx.provisional is not None else ctx.driver.data_dir(storage)


def _with_own_addons(rt: odoo.Runtime) -> odoo.Runtime:
    """A real Odoo runtime with Odooplane's own addons (odoo_addons/) on its addons path."""
    if rt.simulator:
        return rt
    return odoo.Runtime(rt.base, (str(ODOO_ADDONS), *rt.addons_path), rt.simulator, rt.series_major)


def _server_wide(rt: odoo.Runtime, modules: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(modules if rt.simulator else (*modules, REQUEST_IDS)))


def base_url(ctx: Context, env: DesiredEnvironment) -> str:
    edge = ctx.estate.platform.edge
    if edge.tls and edge.tls.redirect_http:
        port = edge.tls.https_port
        return f"https://{env.hostnames[0]}" + ("" if port == 443 else f":{port}")
    return f"http://{env.hostnames[0]}" + ("" if edge.http_port == 80 else f":{edge.http_port}")


def _tls_route(ctx: Context) -> dict[str, Any]:
    tls = ctx.estate.platform.edge.tls
    if tls is None:
        return {}
    return {"tls": True, "cert_resolver": ACME_RESOLVER if tls.acme else None}


def artifacts(ctx: Context, env: DesiredEnvironment, *, create: bool,
              pools: Mapping[str, PoolArtifacts | None] | None = None) -> EnvArtifacts | None:
    """Return the desired artifacts of ``env``.

    With ``create`` False (plan, status) nothing is allocated or generated: None means the
    environment has never been provisioned. Raise SecretError if a secret reference is unset.
    ``pools``: the pools' artifacts already computed (observing a whole estate), by pool name.
    """
    admin_password = _secret(ctx, secret_name(env, "admin_user_password"), create=create)
    rate = (env.rate_limit.average, env.rate_limit.burst) if env.rate_limit else None
    if env.pool:
        desired_pool = ctx.valid.pool(env.pool)
        assert desired_pool is not None
        pool = (pools[env.pool] if pools is not None and env.pool in pools
                else pool_artifacts(ctx, desired_pool, create=create))
        if pool is None or admin_password is None:
            return None
        route = EnvRoute(name=env.ref.slug, hostnames=env.hostnames, http_port=None, evented_port=None,
                         series_major=env.stack.major, pool=desired_pool.slug, pool_evented=desired_pool.workers > 0,
                         database=env.database, rate_limit=rate, **_tls_route(ctx))
        return EnvArtifacts(env=env, runtime=pool.runtime, cluster=pool.cluster, db_password=pool.db_password,
                            storage=pool.storage, data_dir=pool.data_dir, runner=pool.runner, process=None,
                            route=route,
                            admin_password=admin_password, base_url=base_url(ctx, env))
    cluster = ctx.cluster_conn(env.cluster_name, allocate=create)
    if cluster is None:
        return None
    db_password = _secret(ctx, secret_name(env, "db_password"), create=create)
    where = f"tenants.{env.ref.tenant}.environments.{env.ref.env}.admin_password"
    admin_hash = _master_hash(ctx, f"env/{env.ref}", env.admin_password, where, create=create)
    http_port = _port(ctx, owner(env), "http", create=create, fixed=env.http_port)
    evented_port = _port(ctx, owner(env), "evented", create=create)
    smtp_port = mail_port(ctx, env, create=create)
    if None in (db_password, admin_hash, http_port, evented_port, admin_password):
        return None
    if smtp_port is None and env.stage not in NON_PRODUCTION_SAFE:
        return None
    stateless = stateless_settings(ctx, env.stateless, secret_prefix=f"env/{env.ref}", slug=env.ref.slug,
                                   create=create)
    if stateless is None:
        return None
    extra = {**dict(env.options), **stateless.extra}
    if smtp_port is not None:  # the platform's guarantee wins over the estate's options
        extra.update(smtp_server=ctx.driver.mail_host(), smtp_port=smtp_port, smtp_ssl=False, smtp_user=False,
                     smtp_password=False)
    assert db_password and admin_hash and http_port and evented_port and admin_password
    slug = env.ref.slug
    rt = _with_own_addons(runtime_of(ctx, env.stack))
    workload = OdooWorkload(
        name=program_name(slug), role="environment", target=str(env.ref), stack=stack_ref(ctx, env.stack),
        settings=_settings(
            series_major=env.stack.major, role=env.role, password=db_password, database=env.database,
            dbfilter=odoo_conf.dbfilter_exact(env.database), admin_hash=admin_hash, workers=env.workers,
            max_cron_threads=env.max_cron_threads, limits=env.limits,
            server_wide=_server_wide(rt, (*env.stack.server_wide_modules, *stateless.modules)), extra=extra),
        cluster=env.cluster_name, cluster_address=(cluster.host, cluster.port), storage=f"env-{slug}",
        http_port=http_port, evented_port=evented_port, evented=env.workers > 0, **_resources(env.resources),
    )
    process = OdooProcess(workload)
    route = EnvRoute(name=slug, hostnames=env.hostnames, http_port=http_port,
                     evented_port=evented_port if env.workers > 0 else None, series_major=env.stack.major,
                     rate_limit=rate, **_tls_route(ctx))
    waker = waker_port(ctx, env)
    if waker is not None:  # asleep: the edge sends its requests to the worker's waker
        route = dataclasses.replace(route, http_port=waker, evented_port=None)
    return EnvArtifacts(env=env, runtime=rt, cluster=cluster, db_password=db_password, storage=workload.storage,
                        data_dir=_data_dir(ctx, workload.storage), runner=workload, process=process, route=route,
                        admin_password=admin_password, base_url=base_url(ctx, env), sessions=stateless.sessions)


WORKER_PROGRAM = "worker"


def worker_spec(ctx: Context, *, rendering: bool = False) -> ProcessSpec:
    """The supervised worker (schedules). It gets the environment variables the estate's secret
    references name (supervisord itself starts with a clean environment). ``rendering``: for
    ``odooplane render``, each value is ``<secret:NAME>`` and nothing is made on disk."""
    import os
    import re

    from odooplane.store.secrets import KEY_ENV

    text = ctx.valid.path.read_text(errors="replace")
    names = set(re.findall(r"env:([A-Za-z_][A-Za-z0-9_]*)", text)) | {KEY_ENV, "ODOOPLANE_FAKE_NOW"}
    env = {name: f"<secret:{name}>" if rendering else os.environ[name]
           for name in sorted(names) if os.environ.get(name)}
    writes, reads = worker_paths(ctx, text, create=not rendering)
    return ProcessSpec(
        name=WORKER_PROGRAM, kind="service",
        argv=(odoo.own_python(), "-m", "odooplane", "--log-level", "info", "worker", "-f", str(ctx.valid.path)),
        cwd=ctx.layout.root, log_file=ctx.layout.process_log(WORKER_PROGRAM), env=env, stop_wait_s=120,
        priority=900, paths=writes, read_paths=reads,
    )


SERVICE_PROGRAM = "service"


def service_spec(ctx: Context) -> ProcessSpec | None:
    """The supervised `odooplane serve` of ``platform.service`` (None when the estate has none). Like
    the worker, it gets the variables the estate's secret references name."""
    settings = ctx.estate.platform.service
    if settings is None or not settings.enabled:
        return None
    worker = worker_spec(ctx)
    argv = [odoo.own_python(), "-m", "odooplane", "--log-level", "info", "serve", "-f", str(ctx.valid.path),
            "--listen", settings.listen, "--executors", str(settings.executors)]
    if settings.secure_cookies:
        argv.append("--secure-cookies")
    return ProcessSpec(name=SERVICE_PROGRAM, kind="service", argv=tuple(argv), cwd=ctx.layout.root,
                       log_file=ctx.layout.process_log(SERVICE_PROGRAM), env=worker.env, stop_wait_s=60,
                       priority=950, paths=worker.paths, read_paths=worker.read_paths)


def worker_paths(ctx: Context, text: str, *, create: bool = True) -> tuple[tuple[Path, ...], tuple[Path, ...]]:
    """The host paths the worker writes (its data directory, local backup repositories: made when
    missing with ``create``) and reads (the estate file's directory and include roots, stacks' and
    releases' code, the wheelhouse, ``file:`` secrets): a driver running it in a container mounts
    them. Without ``create`` every path is listed, made or not."""
    import re

    from odooplane.estate.resolve import estate_path

    estate = ctx.valid.estate
    path = ctx.valid.path

    def at(value: str) -> Path:
        return estate_path(value, path)

    writes = {ctx.layout.root, *([ctx.layout.runtime] if ctx.layout.runtime else [])}
    for repo in estate.backups.repositories.values():
        if repo.url and not repo.url.startswith("s3:"):
            local = at(repo.url.removeprefix("local:"))
            if create:
                local.mkdir(parents=True, exist_ok=True, mode=0o700)  # restic would make it in the container
            writes.add(local)
    reads = {path.parent, *(at(r) for r in estate.platform.includes.roots)}
    for stack in estate.stacks.values():
        reads.update(at(p) for p in [*stack.addons_paths, *([stack.source] if stack.source else [])])
    for release in estate.releases.values():
        reads.update(at(p) for p in release.addons)
    if estate.platform.compose.wheelhouse:
        reads.add(at(estate.platform.compose.wheelhouse))
    reads.update(at(ref) for ref in re.findall(r"file:([^\s'\"#,}\]]+)", text))
    if not create:
        return tuple(sorted(writes)), tuple(sorted(reads - writes))
    existing = sorted(p for p in writes if p.exists())
    return tuple(existing), tuple(sorted(p for p in reads - writes if p.exists()))


def desired_runtime(ctx: Context) -> DesiredRuntime:
    """Everything the driver runs for the estate, as one value (what ``odooplane render`` renders):
    every pool's processes and service, every dedicated environment's workload, every route, every
    managed cluster, every mail catcher listener. Environments or pools not provisioned yet are
    left out unless ``ctx.provisional`` supplies their ports and secrets."""
    workloads: list[OdooWorkload] = []
    pools: list[PoolService] = []
    for pool in ctx.valid.pools:
        pool_art = pool_artifacts(ctx, pool, create=False)
        if pool_art is not None:
            workloads += [p.workload for p in pool_art.processes]
            pools.append(pool_art.service)
    routes: list[EnvRoute] = []
    inits: list[DatabaseInit] = []
    listeners: list[MailListener] = []
    for env in ctx.valid.environments:
        art = artifacts(ctx, env, create=False)
        if art is None:
            continue
        if art.process is not None:
            workloads.append(art.process.workload)
        routes.append(art.route)
        inits.append(DatabaseInit(target=str(env.ref), database=env.database,
                                  modules=tuple(dict.fromkeys(("base", *env.modules))), workload=art.runner.name,
                                  base_url=art.base_url))
        port = mail_port(ctx, env, create=False)
        if port is not None:
            listeners.append(MailListener(str(env.ref), port, ctx.layout.mail_dir(env.ref.slug)))
    clusters = []
    for name, cluster in ctx.estate.clusters.items():
        if isinstance(cluster, ManagedCluster):
            conn = ctx.cluster_conn(name, allocate=False)
            if conn is not None:
                clusters.append(ClusterSpec(name=name, port=conn.port, superuser_password=conn.password or "",
                                            settings=tuple(sorted(cluster.settings.items())),
                                            bin_dir=cluster.bin_dir, pitr=cluster.pitr is not None,
                                            pitr_schedule=cluster.pitr.full_schedule if cluster.pitr else None))
    processes = (worker_spec(ctx, rendering=True),) if ctx.valid.scheduled() else ()
    return DesiredRuntime(workloads=tuple(workloads), routes=tuple(routes), pool_services=tuple(pools),
                          clusters=tuple(clusters), mail_listeners=tuple(listeners), processes=processes,
                          ha=critical(ctx), inits=tuple(inits), cost_labels=cost_labels(ctx))


def cost_labels(ctx: Context) -> dict[str, dict[str, str]]:
    """The labels of each dedicated environment's workload that cost tools group by."""
    out = {}
    for env in ctx.valid.environments:
        if env.pool is None:
            labels = {k: str(v) for k, v in env.labels.model_dump().items() if v is not None}
            out[program_name(env.ref.slug)] = {**labels, "stage": env.stage}
    return out


CRITICAL_TIER = "mission-critical"


def critical(ctx: Context) -> frozenset[str]:
    """The workloads and managed clusters that serve a mission-critical tenant (DesiredRuntime.ha)."""
    found: set[str] = set()
    for env in ctx.valid.environments:
        if env.labels.tier != CRITICAL_TIER:
            continue
        found.add(env.cluster_name)
        if env.pool is None:
            found.add(program_name(env.ref.slug))
        else:
            pool = next(p for p in ctx.valid.pools if p.name == env.pool)
            found.update(pool_program(pool.name, i) for i in range(pool.processes))
    return frozenset(found)
