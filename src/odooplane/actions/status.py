"""``status``: every environment — runtime, placement, URL, process, health, ports, database."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from odooplane.actions import estate_file
from odooplane.operations import observe
from odooplane.store.evidence import Evidence


@dataclass(frozen=True)
class EnvStatus:
    target: str
    tenant: str
    environment: str
    stage: str
    placement: str  # "dedicated" or "shared:<pool>"
    pool: str | None
    runtime: str  # "simulator 18.0" or "odoo 18.0"
    state: str  # running | stopped | asleep | not provisioned | …
    health: str  # ok | failing | unknown | asleep
    health_checked_at: str | None  # when the health sweep it comes from ran (ISO, UTC); None: probed now
    url: str
    hostnames: list[str]
    pid: int | None
    http_port: int | None
    evented_port: int | None
    database: str
    cluster: str
    db_size_mib: float | None
    connections: int | None
    route: str  # served | not served | missing
    last_backup: str | None = None  # newest confirmed backup (UTC)
    last_verified: str | None = None  # newest restore verification that passed (UTC)
    verification_failed: bool = False  # the newest restore verification failed
    backup_failing: str | None = None  # why the newest backup attempt failed (None: it succeeded, or none yet)
    backup_policy: str | None = None  # None: not backed up (backup: false)
    backup_attempted_at: str | None = None  # newest backup attempt, successful or not (ISO, UTC)
    release: str | None = None  # the release it runs (newest successful install or upgrade)
    release_failed: str | None = None  # "<release> failed at <time> UTC, rolled back: <cause>", while held

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class EstateStatus:
    estate: str
    edge: str
    edge_url: str
    clusters: dict[str, str]
    pools: list[dict[str, Any]]
    environments: list[EnvStatus]
    orphans: list[dict[str, str]]
    leftovers: list[dict[str, str]] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return all(e.health in ("ok", "asleep") and e.route == "served" for e in self.environments)

    def as_dict(self) -> dict[str, Any]:
        return {
            "estate": self.estate,
            "edge": self.edge,
            "edge_url": self.edge_url,
            "clusters": self.clusters,
            "pools": self.pools,
            "healthy": self.healthy,
            "environments": [e.as_dict() for e in self.environments],
            "orphans": self.orphans,
            "leftovers": self.leftovers,
        }


def failure_reason(record: Evidence) -> str:
    """Why a failed backup (evidence) failed, in the words of what failed (restic, pg_dump, …)."""
    return str(record.data.get("error") or record.summary)


def run(path: Path | None, *, tenant: str | None = None, probe: bool = False) -> EstateStatus:
    """Every environment's state. Health comes from the last health sweep where it is recent (and
    younger than the process), else from a probe now; ``probe``: every process is asked now."""
    ctx = estate_file.context(path)
    try:
        from odooplane.store import evidence

        records = evidence.query(ctx.store, limit=5000)
        backups: dict[str, str] = {}
        verified: dict[str, str] = {}
        newest_verification: dict[str, bool] = {}
        failing: dict[str, str | None] = {}  # target -> why its newest backup attempt failed
        attempted: dict[str, str] = {}
        for record in records:  # newest first
            stamp = f"{record.ts:%Y-%m-%d %H:%M}"
            if record.kind == "backup":
                failing.setdefault(record.target, None if record.ok else failure_reason(record))
                attempted.setdefault(record.target, record.ts.isoformat())
            if record.kind == "backup" and record.ok:
                backups.setdefault(record.target, stamp)
            elif record.kind == "restore-verification":
                newest_verification.setdefault(record.target, record.ok)
                if record.ok:
                    verified.setdefault(record.target, stamp)
        observed, arts = observe.observe(ctx, health="probe" if probe else "recorded", stats=True)
        edge = ctx.estate.platform.edge
        rows = []
        for env in ctx.valid.environments:
            if tenant and env.ref.tenant != tenant:
                continue
            obs = observed.envs[env.ref]
            art = arts.get(env.ref)
            if not obs.provisioned:
                state = "not provisioned"
            elif obs.asleep:
                state = "asleep"
            elif obs.process is None:
                state = "stopped"
            else:
                state = obs.process.state.lower()
            health = "unknown" if obs.health is None else ("ok" if obs.health.ok else "failing")
            if obs.asleep:
                health = "asleep"  # stopped on purpose by its schedule: not a failure
            route = "served" if obs.route_served else ("not served" if obs.route_exists else "missing")
            port_suffix = "" if edge.http_port == 80 else f":{edge.http_port}"
            rows.append(
                EnvStatus(
                    target=str(env.ref),
                    tenant=env.ref.tenant,
                    environment=env.ref.env,
                    stage=env.stage,
                    placement=env.placement,
                    pool=env.pool,
                    runtime=f"{'simulator' if env.stack.simulator else 'odoo'} {env.stack.series}",
                    state=state,
                    health=health,
                    health_checked_at=obs.health_at.isoformat() if obs.health_at else None,
                    url=f"http://{env.hostnames[0]}{port_suffix}/",
                    hostnames=list(env.hostnames),
                    pid=obs.process.pid if obs.process and obs.process.running else None,
                    http_port=art.http_port if art else None,
                    evented_port=art.evented_port if art else None,
                    database=env.database,
                    cluster=env.cluster_name,
                    db_size_mib=round(obs.stats.size_bytes / 1048576, 1) if obs.stats else None,
                    connections=obs.stats.connections if obs.stats else None,
                    route=route,
                    last_backup=backups.get(str(env.ref)),
                    last_verified=verified.get(str(env.ref)),
                    verification_failed=newest_verification.get(str(env.ref)) is False,
                    backup_failing=failing.get(str(env.ref)),
                    backup_policy=env.backup_policy,
                    backup_attempted_at=attempted.get(str(env.ref)),
                    release=obs.release,
                    release_failed=(f"{obs.failed_upgrade.describe()}: {obs.failed_upgrade.error}"
                                    if obs.failed_upgrade is not None else None),
                )
            )
        clusters = {
            name: ("reachable" if c.reachable else f"down ({c.error})") for name, c in observed.clusters.items()
        }
        pools = []
        for pool in ctx.valid.pools:
            obs_pool = observed.pools.get(pool.name)
            procs = obs_pool.processes if obs_pool else ()
            pools.append(
                {
                    "name": pool.name,
                    "stack": pool.stack_name,
                    "cluster": pool.cluster_name,
                    "processes": [
                        {
                            "name": p.name,
                            "state": p.process.state.lower() if p.process else "stopped",
                            "pid": p.process.pid if p.process and p.process.running else None,
                            "healthy": p.healthy,
                        }
                        for p in procs
                    ],
                    "workers": pool.workers,
                    "tenants": [str(e.ref) for e in ctx.valid.pool_members(pool.name)],
                }
            )
        return EstateStatus(
            estate=str(ctx.valid.path),
            edge="running" if observed.edge_running else "stopped",
            edge_url=f"http://{edge.bind}:{edge.http_port}/",
            clusters=clusters,
            pools=pools,
            environments=rows,
            orphans=[{"kind": o.kind, "name": o.name, "target": o.target} for o in observed.orphans],
            leftovers=[{"kind": t.kind, "name": t.name, "target": t.target, "description": t.description}
                       for t in observed.leftovers],
        )
    finally:
        ctx.close()
