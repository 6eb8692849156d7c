"""What was observed: plain data the planner diffs against the estate (no I/O here)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from odooplane.drivers.base import ProcessState
from odooplane.estate.resolve import EnvRef
from odooplane.services.odoo import Probe
from odooplane.services.postgres import DatabaseStats, OwnedDatabase


@dataclass(frozen=True)
class ClusterObservation:
    name: str
    kind: str
    initialised: bool
    running: bool  # a managed cluster's server runs (an external one: always True)
    reachable: bool
    error: str | None
    databases: dict[str, OwnedDatabase] = field(default_factory=dict)  # ours, by name
    roles: dict[str, str] = field(default_factory=dict)  # ours: role -> marker target
    max_connections: int | None = None  # the server's max_connections (None: not read)


@dataclass(frozen=True)
class ProcessObservation:
    name: str
    process: ProcessState | None
    current: bool  # its definition and odoo.conf match the estate
    healthy: bool | None


@dataclass(frozen=True)
class PoolObservation:
    name: str
    provisioned: bool
    role_exists: bool | None
    processes: tuple[ProcessObservation, ...]
    route_current: bool
    sessions_missing: bool = False  # its Redis ACL user is not on the server (a restart without an ACL file)

    @property
    def running(self) -> bool:
        return bool(self.processes) and all(p.process is not None and p.process.running for p in self.processes)


@dataclass(frozen=True)
class TemplateObservation:
    key: str
    database: str
    cluster: str
    ready: bool  # built, sealed (a template nobody can connect to)
    exists: bool


@dataclass(frozen=True)
class FailedUpgrade:
    """The newest attempt to put an environment on its declared release failed and was rolled back."""

    release: str
    at: dt.datetime
    error: str | None
    from_release: str | None  # what it still runs
    content_changed: bool  # what the upgrade would run differs from the failed attempt's

    def describe(self) -> str:
        return f"{self.release} failed at {self.at:%Y-%m-%d %H:%M:%S} UTC, rolled back"


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
    owner: str | None = None  # the role owning the database now
    limits_current: bool = True
    release: str | None = None  # the release last installed or upgraded successfully (release history)
    failed_upgrade: FailedUpgrade | None = None  # the newest attempt at its declared release was rolled back
    moving_from: str | None = None  # an interrupted move: the role owning ``<db>__moving`` (the data's copy)
    health_at: dt.datetime | None = None  # when ``health`` was taken by a sweep (None: probed now, or none)
    asleep: bool = False  # put to sleep by its schedule: its Odoo is stopped on purpose (docs/cost.md)
    sessions_missing: bool = False  # its Redis ACL user is not on the server (a restart without an ACL file)

    @property
    def base_installed(self) -> bool:
        return bool(self.modules) and self.modules.get("base") == "installed"  # type: ignore[union-attr]


@dataclass(frozen=True)
class Orphan:
    kind: str  # process | route | database | role | directory | template
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
    pools: dict[str, PoolObservation] = field(default_factory=dict)
    templates: dict[str, TemplateObservation] = field(default_factory=dict)  # by template database name
    worker: ProcessState | None = None
    service: ProcessState | None = None  # odooplane serve (platform.service)
    leftovers: list[Leftover] = field(default_factory=list)


@dataclass(frozen=True)
class Leftover:
    """A temporary artifact (or an unfinished swap) a killed operation left: the next apply, or
    the next operation on the same environment, removes it (or finishes the swap)."""

    target: str
    kind: str
    name: str
    description: str
