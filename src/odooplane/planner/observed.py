"""What was observed: plain data the planner diffs against the estate (no I/O here)."""

from __future__ import annotations

from dataclasses import dataclass, field

from odooplane.drivers.base import ProcessState
from odooplane.estate.resolve import EnvRef
from odooplane.services.odoo import Probe
from odooplane.services.postgres import DatabaseStats


@dataclass(frozen=True)
class ClusterObservation:
    name: str
    kind: str
    initialised: bool
    process: ProcessState | None
    reachable: bool
    error: str | None
    databases: dict[str, str] = field(default_factory=dict)  # name -> "tenant/env"
    roles: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class EnvObservation:
    ref: EnvRef
    provisioned: bool
    role_exists: bool | None
    database_exists: bool | None
    modules: dict[str, str] | None
    config_exists: bool
    config_current: bool
    process: ProcessState | None
    process_current: bool
    route_exists: bool
    route_current: bool
    route_served: bool
    health: Probe | None
    stats: DatabaseStats | None = None
    error: str | None = None

    @property
    def base_installed(self) -> bool:
        return bool(self.modules) and self.modules.get("base") == "installed"  # type: ignore[union-attr]


@dataclass(frozen=True)
class Orphan:
    kind: str  # process | route | database | role | directory
    name: str
    where: str = ""
    target: str = ""


@dataclass(frozen=True)
class Observed:
    supervisor_running: bool
    edge_running: bool
    clusters: dict[str, ClusterObservation]
    envs: dict[EnvRef, EnvObservation]
    orphans: list[Orphan]
