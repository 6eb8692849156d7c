"""Turn a validated estate into fully resolved desired environments (defaults applied)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

from odooplane.estate import names
from odooplane.estate.models import (
    BusinessHours,
    Cluster,
    Environment,
    Estate,
    Labels,
    Limits,
    Objectives,
    Pool,
    Profile,
    RateLimit,
    Resources,
    SharedPlacement,
    Stack,
    Stage,
    Stateless,
)


@dataclass(frozen=True, order=True)
class EnvRef:
    """``tenant/env``: how an environment is named on the command line and in logs."""

    tenant: str
    env: str

    def __str__(self) -> str:
        return f"{self.tenant}/{self.env}"

    @cached_property
    def database(self) -> str:  # checked once: observing an estate asks it several times per environment
        return names.database_name(self.tenant, self.env)

    @property
    def role(self) -> str:
        return self.database

    @property
    def slug(self) -> str:
        """File- and program-name-safe form (``acme__prod``)."""
        return f"{self.tenant}__{self.env}"

    @classmethod
    def parse(cls, text: str) -> EnvRef:
        """Parse ``tenant/env``; raise ValueError naming the rule if it is malformed."""
        tenant, sep, env = text.partition("/")
        if not sep:
            raise ValueError(f"{text!r} is not 'tenant/env'")
        names.check_label(tenant, max_len=names.TENANT_MAX, what="tenant name")
        names.check_label(env, max_len=names.ENV_MAX, what="environment name")
        return cls(tenant, env)


@dataclass(frozen=True)
class DesiredPool:
    """A shared pool with defaults applied; its databases are owned by ``role``."""

    name: str
    stack_name: str
    stack: Stack
    cluster_name: str
    cluster: Cluster
    processes: int
    workers: int
    max_cron_threads: int
    limits: Limits
    db_maxconn: int
    options: tuple[tuple[str, str | int | float | bool], ...]
    resources: Resources | None = None
    stateless: Stateless | None = None

    @property
    def role(self) -> str:
        return names.pool_role(self.name)

    @property
    def slug(self) -> str:
        return f"pool-{self.name}"


@dataclass(frozen=True)
class DesiredEnvironment:
    ref: EnvRef
    stage: Stage
    stack_name: str
    stack: Stack
    cluster_name: str
    cluster: Cluster
    hostnames: tuple[str, ...]
    modules: tuple[str, ...]
    workers: int
    max_cron_threads: int
    limits: Limits
    http_port: int | None
    admin_password: str | None
    options: tuple[tuple[str, str | int | float | bool], ...]
    labels: Labels
    profile: Profile = field(default_factory=Profile)
    pool: str | None = None  # None: dedicated
    connection_limit: int | None = None
    statement_timeout_s: int | None = None
    rate_limit: RateLimit | None = None
    backup_policy: str | None = None  # resolved; None: not backed up
    objectives: Objectives | None = None
    business_hours: BusinessHours | None = None
    redis: str | None = None  # name under monitoring.redis
    stateless: Stateless | None = None  # sessions and attachments out of the process (a pool tenant: its pool's)
    resources: Resources | None = None  # a pool tenant: its pool's
    release: str | None = None  # under releases: the code it runs (its stack has the release's addons)
    schedule: str | None = None  # under schedules: when it sleeps (a dedicated environment only)

    @property
    def database(self) -> str:
        return self.ref.database

    @property
    def role(self) -> str:
        """The role owning the database: the environment's own, or the pool's."""
        return names.pool_role(self.pool) if self.pool else self.ref.role

    @property
    def placement(self) -> str:
        return f"shared:{self.pool}" if self.pool else "dedicated"


def backup_policy_of(estate: Estate, env: Environment, tier: str) -> str | None:
    """The policy an environment is backed up with: its own, its tier's, the default; or None."""
    if env.backup is False:
        return None
    if env.backup:
        return env.backup
    return estate.backups.tier_policies.get(tier) or estate.backups.default_policy  # type: ignore[call-overload]


def pool_of(estate: Estate, env: Environment) -> Pool | None:
    if isinstance(env.placement, SharedPlacement):
        return estate.pools.get(env.placement.shared)
    return None


def stack_name_of(estate: Estate, env: Environment | Pool) -> str | None:
    """The stack an environment (or pool) runs: its pool's, its release's, its own, the default."""
    if isinstance(env, Environment):
        pool = pool_of(estate, env)
        if pool is not None:
            return stack_name_of(estate, pool)
        if env.release is not None and env.release in estate.releases:
            return env.stack or estate.releases[env.release].stack
    return env.stack or estate.platform.default_stack


def cluster_name_of(estate: Estate, env: Environment | Pool) -> str | None:
    if isinstance(env, Environment):
        pool = pool_of(estate, env)
        if pool is not None:
            return cluster_name_of(estate, pool)
    if env.cluster:
        return env.cluster
    if estate.platform.default_cluster:
        return estate.platform.default_cluster
    if len(estate.clusters) == 1:
        return next(iter(estate.clusters))
    return None


def hostnames_of(estate: Estate, tenant: str, env_name: str, env: Environment) -> tuple[str, ...]:
    if env.hostnames:
        return tuple(env.hostnames)
    return (names.default_hostname(tenant, env_name, estate.platform.edge.base_domain),)


def environments(estate: Estate) -> list[DesiredEnvironment]:
    """Return every environment of ``estate`` with defaults applied, sorted by tenant/env.

    The estate must have passed cross-checks (stack and cluster references resolve).
    """
    out: list[DesiredEnvironment] = []
    for tenant_name, tenant in sorted(estate.tenants.items()):
        for env_name, env in sorted(tenant.environments.items()):
            release = estate.releases.get(env.release) if env.release else None
            stack_name = release.stack if release else stack_name_of(estate, env)
            cluster_name = cluster_name_of(estate, env)
            if stack_name is None or cluster_name is None:
                raise ValueError(f"{tenant_name}/{env_name}: unresolved stack or cluster")
            stack = estate.stacks[stack_name]
            if release is not None:  # the release's addons come first, like Odoo's own precedence
                stack = stack.model_copy(update={"addons_paths": [*release.addons, *stack.addons_paths]})
            pool = pool_of(estate, env)
            out.append(
                DesiredEnvironment(
                    ref=EnvRef(tenant_name, env_name),
                    stage=env.resolved_stage(env_name),
                    stack_name=stack_name,
                    stack=stack,
                    cluster_name=cluster_name,
                    cluster=estate.clusters[cluster_name],
                    hostnames=hostnames_of(estate, tenant_name, env_name, env),
                    modules=tuple(dict.fromkeys(env.modules)),
                    workers=pool.workers if pool else env.workers,
                    max_cron_threads=pool.max_cron_threads if pool else env.max_cron_threads,
                    limits=pool.limits if pool else env.limits,
                    resources=pool.resources if pool else env.resources,
                    http_port=None if pool else env.http_port,
                    admin_password=env.admin_password,
                    options=tuple(sorted(env.options.items())),
                    labels=tenant.labels,
                    profile=tenant.profile,
                    pool=env.placement.shared if isinstance(env.placement, SharedPlacement) else None,
                    connection_limit=env.connection_limit,
                    statement_timeout_s=env.statement_timeout_s,
                    rate_limit=env.rate_limit,
                    backup_policy=backup_policy_of(estate, env, tenant.labels.tier),
                    objectives=env.objectives,
                    business_hours=tenant.business_hours,
                    redis=tenant.redis,
                    release=env.release,
                    stateless=(pool.stateless if pool else env.stateless) or stack.stateless,
                )
            )
            if env.schedule is not False and not isinstance(env.placement, SharedPlacement):
                out[-1] = replace(out[-1], schedule=schedule_of(estate, env.schedule, out[-1]))
    return out


def schedule_of(estate: Estate, named: str | None, env: DesiredEnvironment) -> str | None:
    """The schedule an environment sleeps by: the one it names, else the first whose applies_to matches."""
    if named:
        return named
    from odooplane.estate.policies import matches

    return next((name for name, s in sorted(estate.schedules.items())
                 if s.applies_to is not None and matches(s.applies_to, env)), None)


def pools(estate: Estate) -> list[DesiredPool]:
    """Return every pool with defaults applied (the estate passed cross-checks)."""
    out = []
    for name, pool in sorted(estate.pools.items()):
        stack_name = stack_name_of(estate, pool)
        cluster_name = cluster_name_of(estate, pool)
        if stack_name is None or cluster_name is None:
            raise ValueError(f"pool {name}: unresolved stack or cluster")
        out.append(DesiredPool(
            name=name, stack_name=stack_name, stack=estate.stacks[stack_name], cluster_name=cluster_name,
            cluster=estate.clusters[cluster_name], processes=pool.processes, workers=pool.workers,
            max_cron_threads=pool.max_cron_threads, limits=pool.limits, db_maxconn=pool.db_maxconn,
            resources=pool.resources, stateless=pool.stateless or estate.stacks[stack_name].stateless,
            options=tuple(sorted(pool.options.items())),
        ))
    return out


def data_dir(estate: Estate, estate_file: Path) -> Path:
    """Return the absolute data directory of ``estate`` (relative paths: next to the file)."""
    configured = Path(estate.platform.data_dir).expanduser()
    if configured.is_absolute():
        return configured
    return (estate_file.parent / configured).resolve()


def estate_path(value: str, estate_file: Path) -> Path:
    """A path written in the estate: absolute, ~-relative, or relative to the estate file."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else (estate_file.parent / path).resolve()


def stack_source(stack: Stack, estate_file: Path) -> Path | None:
    if stack.source is None:
        return None
    return estate_path(stack.source, estate_file)
