"""The planner: a pure diff of the desired estate against what was observed.

``plan`` is the dry run of ``apply``: every change it lists is a step apply would take, in the
same order, with the reason.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from odooplane.estate import sizing
from odooplane.estate.models import ManagedCluster
from odooplane.estate.resolve import DesiredEnvironment, DesiredPool
from odooplane.estate.validate import ValidEstate
from odooplane.planner.observed import EnvObservation, Observed, PoolObservation

Action = Literal["create", "update", "start", "restart", "install", "remove", "retain", "recreate", "check", "move",
                 "upgrade", "recover", "hold"]
# Listed for the record, nothing is done: data kept, a failed release not tried again.
NO_OP: tuple[Action, ...] = ("retain", "hold")


@dataclass(frozen=True)
class Change:
    target: str
    resource: str
    action: Action
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Plan:
    changes: list[Change] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not actionable(self.changes)

    def for_target(self, target: str) -> list[Change]:
        return [c for c in self.changes if c.target == target]

    def as_dict(self) -> dict[str, Any]:
        return {"changes": [c.as_dict() for c in self.changes], "notes": self.notes, "empty": self.empty}


def actionable(changes: list[Change]) -> list[Change]:
    """The changes apply acts on (not the ones only listed: kept data, held releases)."""
    return [c for c in changes if c.action not in NO_OP]


def pool_changes(pool: DesiredPool, obs: PoolObservation | None) -> list[Change]:
    t = f"pool {pool.name}"
    if obs is None or not obs.provisioned or not obs.processes:
        return [Change(t, "pool", "create", f"new: role {pool.role}, {pool.processes} process(es) of "
                                             f"{pool.workers or 'threaded'} worker(s), edge service")]
    out: list[Change] = []
    if not obs.role_exists:
        out.append(Change(t, "role", "create", f"role {pool.role} does not exist"))
    if obs.sessions_missing:
        out.append(Change(t, "sessions", "create", "its Redis ACL user is missing (Redis restarted without an ACL "
                                                    "file?): sessions cannot be read"))
    for proc in obs.processes:
        if proc.process is None:
            out.append(Change(t, "process", "start", f"{proc.name} is not running"))
        elif not proc.current:
            out.append(Change(t, "process", "restart", f"{proc.name}: its definition or odoo.conf changed"))
        elif not proc.process.running:
            out.append(Change(t, "process", "start", f"{proc.name} is {proc.process.state}"))
        elif proc.healthy is False:
            out.append(Change(t, "process", "restart", f"{proc.name}: /web/health failed"))
    if not obs.route_current:
        out.append(Change(t, "route", "update", "the pool's edge service differs from the estate"))
    return out


def env_changes(env: DesiredEnvironment, obs: EnvObservation, *, template: str | None = None,
                retry_failed: bool = False) -> list[Change]:
    """Return the changes one environment needs, in apply's step order. A release whose upgrade
    failed (rolled back) with the same content is held, not tried again, unless ``retry_failed``."""
    t = str(env.ref)
    out: list[Change] = []
    how = f"copy of template {template}" if template else f"init ({','.join(['base', *env.modules])})"
    if obs.role_exists is None or (not obs.provisioned and not obs.database_exists):
        where = f"in pool {env.pool}" if env.pool else "dedicated"
        why = f"new, {where}: database ({how}), route {', '.join(env.hostnames)}"
        if obs.role_exists is None:
            why += f" (once cluster {env.cluster_name} is up)"
        return [Change(t, "environment", "create", why)]
    if obs.moving_from is not None:
        # A move was interrupted: <db>__moving holds the data. Finish the move from it; never
        # recreate or drop anything of this environment meanwhile.
        out.append(Change(t, "placement", "move", f"resume the interrupted move to {env.placement} "
                                                  f"(the data is in {env.database}__moving)"))
        return out
    if obs.database_exists and obs.base_installed and obs.owner and obs.owner != env.role:
        out.append(Change(t, "placement", "move", f"database owned by {obs.owner}: move it to {env.placement}"))
        return out
    if env.release is not None and obs.database_exists and obs.base_installed and obs.release != env.release:
        failed = obs.failed_upgrade
        if failed is not None and failed.release == env.release and not failed.content_changed and not retry_failed:
            # It would fail the same way, with a downtime each time: left as the rollback left it
            # (the previous release's code and configuration) until the release changes.
            return [Change(t, "release", "hold", f"{failed.describe()} (runs {obs.release or 'its previous code'}): "
                                                 f"{failed.error or 'no reason recorded'}; tried again when the "
                                                 f"release's content changes, with apply --retry-failed, or by "
                                                 f"promote {env.release}")]
        # New code on existing data: an upgrade (snapshot, -u of changed modules, health, rollback on failure).
        why = f"{obs.release or 'unrecorded release'} → {env.release}"
        if failed is not None and failed.release == env.release:
            why += " (again: " + ("its content changed" if failed.content_changed else "retry requested") + ")"
        out.append(Change(t, "release", "upgrade", why))
        # Modules declared with the release are installed by the upgrade, on the new code, under
        # the same snapshot: one downtime, one rollback.
        missing = _missing_modules(env, obs)
        if missing:
            out.append(Change(t, "modules", "install", f"install {', '.join(missing)} with the upgrade"))
        return out
    if env.pool is None and not obs.role_exists:
        out.append(Change(t, "role", "create", f"role {env.role} does not exist"))
    if not obs.database_exists:
        out.append(Change(t, "database", "create", f"database {env.database} does not exist ({how})"))
    elif not obs.base_installed:
        out.append(Change(t, "database", "recreate", f"database exists but was never fully initialised ({how})"))
    if env.pool is None and not obs.asleep:  # a sleeping one gets its definition when it wakes
        if obs.sessions_missing:
            out.append(Change(t, "sessions", "create", "its Redis ACL user is missing (Redis restarted without "
                                                        "an ACL file?): sessions cannot be read"))
        if not obs.config_exists:
            out.append(Change(t, "config", "create", "odoo.conf missing"))
        elif not obs.config_current:
            out.append(Change(t, "config", "update", "odoo.conf differs from the estate"))
    if obs.database_exists and obs.base_installed:
        missing = _missing_modules(env, obs)
        if missing:
            out.append(Change(t, "modules", "install", f"install {', '.join(missing)}"))
    if not obs.limits_current:
        out.append(Change(t, "limits", "update", "connection limit or statement timeout differs from the estate"))
    if env.pool is None and not obs.asleep:
        if obs.process is None:
            out.append(Change(t, "process", "start", "Odoo is not running"))
        elif not obs.process_current or not obs.config_current:
            out.append(Change(t, "process", "restart", "its definition or odoo.conf changed"))
        elif not obs.process.running:
            out.append(Change(t, "process", "start", f"Odoo is {obs.process.state}"))
        elif obs.health is not None and not obs.health.ok:
            out.append(Change(t, "process", "restart", f"/web/health failed ({obs.health.status or obs.health.error})"))
    if not obs.route_exists:
        out.append(Change(t, "route", "create", f"route for {', '.join(env.hostnames)} missing"))
    elif not obs.route_current:
        out.append(Change(t, "route", "update", "route differs from the estate"))
    elif not obs.route_served:
        out.append(Change(t, "route", "check", "route present but not served by the edge yet"))
    return out


def _missing_modules(env: DesiredEnvironment, obs: EnvObservation) -> list[str]:
    installed = {m for m, s in (obs.modules or {}).items() if s == "installed"}
    return [m for m in env.modules if m not in installed]


CONTROL_PLANE_CONNECTIONS = 10  # kept free for Odooplane itself, backups and a person's psql


def connection_budget(valid: ValidEstate, observed: Observed) -> list[str]:
    """A note per cluster whose pools could hold more connections than the server accepts: Odoo
    would then fail to connect ("too many clients") for new tenants, backups and one-shot commands."""
    out = []
    for name, cluster in sorted(observed.clusters.items()):
        if cluster.max_connections is None:
            continue
        wants = {pool.name: sizing.pool_connections(pool, len(valid.pool_members(pool.name)))
                 for pool in valid.pools if pool.cluster_name == name}
        available = cluster.max_connections - CONTROL_PLANE_CONNECTIONS
        if sum(wants.values()) > available:
            detail = ", ".join(f"pool {p} up to {n}" for p, n in sorted(wants.items()))
            out.append(f"cluster {name}: its pools may hold {sum(wants.values())} connections ({detail}) but it "
                       f"accepts {cluster.max_connections} (less {CONTROL_PLANE_CONNECTIONS} kept for Odooplane): "
                       "lower the pools' db_maxconn, or raise max_connections (see docs/placement.md)")
    return out


def plan(valid: ValidEstate, observed: Observed, *, prune: bool = False,
         templates: dict[str, str] | None = None, retry_failed: bool = False) -> Plan:
    """Return the changes that make what runs match ``valid`` (pure: no I/O).

    ``templates`` maps an environment (``tenant/env``) to the template database it would be
    copied from when it is created; ``retry_failed`` proposes again the upgrades that failed.
    """
    result = Plan()
    for name, cluster in sorted(valid.estate.clusters.items()):
        obs = observed.clusters.get(name)
        if obs is None:
            continue
        if isinstance(cluster, ManagedCluster):
            if not obs.initialised:
                result.changes.append(Change(f"cluster {name}", "cluster", "create", "initdb a new cluster"))
            elif not obs.running:
                result.changes.append(Change(f"cluster {name}", "cluster", "start", "PostgreSQL is not running"))
        elif not obs.reachable:
            result.changes.append(Change(f"cluster {name}", "cluster", "check", obs.error or "unreachable"))
    if not observed.edge_running:
        result.changes.append(Change("edge", "edge", "start", "Traefik is not running"))
    backed_up = valid.scheduled()
    if backed_up and (observed.worker is None or not observed.worker.running):
        result.changes.append(Change("worker", "process", "start", "health sweeps and schedules need the worker"))
    elif not backed_up and observed.worker is not None:
        result.changes.append(Change("worker", "process", "remove", "the estate has no environment"))
    serving = valid.estate.platform.service
    serving = serving if serving is not None and serving.enabled else None
    if serving is not None and (observed.service is None or not observed.service.running):
        result.changes.append(Change("service", "process", "start", f"the API and dashboard on {serving.listen}"))
    elif serving is None and observed.service is not None:
        result.changes.append(Change("service", "process", "remove", "platform.service is not set"))
    for template in sorted(observed.templates.values(), key=lambda t: t.database):
        if not template.ready:
            result.changes.append(Change(f"template {template.database}", "template", "create",
                                         f"initialise, warm and seal it on cluster {template.cluster}"))
    result.notes.extend(connection_budget(valid, observed))
    for pool in valid.pools:
        result.changes.extend(pool_changes(pool, observed.pools.get(pool.name)))
        if pool.workers == 0:
            result.notes.append(f"pool {pool.name} is threaded: Odoo only runs the crons of tenants it has served "
                                "since it started (use workers >= 1 for crons of idle tenants)")
    for env in valid.environments:
        env_obs = observed.envs.get(env.ref)
        if env_obs is not None:
            result.changes.extend(env_changes(env, env_obs, template=templates.get(str(env.ref)) if templates else None,
                                              retry_failed=retry_failed))
    for leftover in observed.leftovers:
        action: Action = "recover" if leftover.kind == "swap" else "remove"
        what = "finish or undo it" if action == "recover" else "remove it"
        result.changes.append(Change(leftover.target, leftover.kind, action, f"{leftover.description}: {what}"))
    desired = {str(env.ref) for env in valid.environments} if observed.orphans else set()
    for orphan in observed.orphans:
        label = f"{orphan.kind} {orphan.name}"
        if orphan.kind == "database" and orphan.target in desired:
            # Marked as an environment that still exists: it may hold the only good copy of its data
            # (an interrupted swap or move). Never proposed for removal, not even with --prune.
            result.changes.append(Change(orphan.target, orphan.kind, "retain",
                                         f"{label} holds data of {orphan.target} (left by an interrupted "
                                         "operation): kept; `down --purge` removes it with the environment"))
            continue
        if orphan.kind in ("process", "route", "pool-route", "template"):
            result.changes.append(Change(orphan.target or orphan.name, orphan.kind, "remove",
                                         f"{label} belongs to nothing in the estate"))
        elif prune:
            result.changes.append(Change(orphan.target or orphan.name, orphan.kind, "remove", f"{label} (--prune)"))
        else:
            result.changes.append(Change(orphan.target or orphan.name, orphan.kind, "retain",
                                         f"{label} is kept: data is removed only with --prune or down --purge"))
    return result
