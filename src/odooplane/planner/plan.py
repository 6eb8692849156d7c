"""The planner: a pure diff of the desired estate against what was observed.

``plan`` is the dry run of ``apply``: every change it lists is a step apply would take, in the
same order, with the reason.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from odooplane.estate.models import ManagedCluster
from odooplane.estate.resolve import DesiredEnvironment
from odooplane.estate.validate import ValidEstate
from odooplane.planner.observed import EnvObservation, Observed

Action = Literal["create", "update", "start", "restart", "install", "remove", "retain", "recreate", "check"]


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
        return not [c for c in self.changes if c.action != "retain"]

    def for_target(self, target: str) -> list[Change]:
        return [c for c in self.changes if c.target == target]

    def as_dict(self) -> dict[str, Any]:
        return {"changes": [c.as_dict() for c in self.changes], "notes": self.notes, "empty": self.empty}


def env_changes(env: DesiredEnvironment, obs: EnvObservation) -> list[Change]:
    """Return the changes one environment needs, in apply's step order."""
    t = str(env.ref)
    out: list[Change] = []
    if obs.role_exists is None or (not obs.provisioned and not obs.database_exists and not obs.role_exists):
        mods = ",".join(["base", *env.modules])
        why = f"new: role, database, odoo.conf, init ({mods}), process, route {', '.join(env.hostnames)}"
        if obs.role_exists is None:
            why += f" (once cluster {env.cluster_name} is up)"
        return [Change(t, "environment", "create", why)]
    if not obs.role_exists:
        out.append(Change(t, "role", "create", f"role {env.role} does not exist"))
    if not obs.database_exists:
        out.append(Change(t, "database", "create", f"database {env.database} does not exist"))
    elif not obs.base_installed:
        out.append(Change(t, "database", "recreate", "database exists but was never fully initialised"))
    if not obs.config_exists:
        out.append(Change(t, "config", "create", "odoo.conf missing"))
    elif not obs.config_current:
        out.append(Change(t, "config", "update", "odoo.conf differs from the estate"))
    if not obs.database_exists or not obs.base_installed:
        mods = ", ".join(["base", *env.modules])
        out.append(Change(t, "init", "install", f"initialise with {mods}"))
    else:
        installed = {m for m, s in (obs.modules or {}).items() if s == "installed"}
        missing = [m for m in env.modules if m not in installed]
        if missing:
            out.append(Change(t, "modules", "install", f"install {', '.join(missing)}"))
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


def plan(valid: ValidEstate, observed: Observed, *, prune: bool = False) -> Plan:
    """Return the changes that make what runs match ``valid`` (pure: no I/O)."""
    result = Plan()
    for name, cluster in sorted(valid.estate.clusters.items()):
        obs = observed.clusters.get(name)
        if obs is None:
            continue
        if isinstance(cluster, ManagedCluster):
            if not obs.initialised:
                result.changes.append(Change(f"cluster {name}", "cluster", "create", "initdb a new cluster"))
            elif obs.process is None or not obs.process.running:
                result.changes.append(Change(f"cluster {name}", "cluster", "start", "PostgreSQL is not running"))
        elif not obs.reachable:
            result.changes.append(Change(f"cluster {name}", "cluster", "check", obs.error or "unreachable"))
    if not observed.edge_running:
        result.changes.append(Change("edge", "edge", "start", "Traefik is not running"))
    for env in valid.environments:
        env_obs = observed.envs.get(env.ref)
        if env_obs is not None:
            result.changes.extend(env_changes(env, env_obs))
    for orphan in observed.orphans:
        label = f"{orphan.kind} {orphan.name}"
        if orphan.kind in ("process", "route"):
            result.changes.append(
                Change(
                    orphan.target or orphan.name,
                    orphan.kind,
                    "remove",
                    f"{label} belongs to no environment of the estate",
                )
            )
        elif prune:
            result.changes.append(Change(orphan.target or orphan.name, orphan.kind, "remove", f"{label} (--prune)"))
        else:
            result.changes.append(
                Change(
                    orphan.target or orphan.name,
                    orphan.kind,
                    "retain",
                    f"{label} is kept: data is removed only with --prune or down --purge",
                )
            )
    return result
