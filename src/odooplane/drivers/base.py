"""The Driver protocol: a runtime target renders desired state into its own artifacts, applies
them, and observes what runs. ``local`` runs processes on this host; ``compose`` and
``kubernetes`` implement the same protocol."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NoReturn, Protocol

from odooplane.errors import PermanentError
from odooplane.render.odoo_conf import OdooSettings
from odooplane.render.traefik import EnvRoute, PoolService
from odooplane.services.postgres import ClusterConn

ProcessKind = Literal["odoo", "cluster", "edge", "service"]


@dataclass(frozen=True)
class StackRef:
    """An Odoo stack as declared — a driver decides how to run it (a process of this host, a
    container of an image built from it or named by it)."""

    series_major: int
    simulator: bool
    source: str | None = None  # directory with odoo-bin
    python: str | None = None  # the interpreter with Odoo's requirements (a process of this host)
    addons: tuple[str, ...] = ()  # addons directories searched before the source's own
    image: str | None = None  # an image to run as is (the official odoo:<series> conventions)


WorkloadRole = Literal["environment", "pool", "template", "sandbox"]


@dataclass(frozen=True)
class OdooWorkload:
    """One long-running Odoo server (a dedicated environment's, or one process of a pool), in Odoo
    terms: what it runs, with which settings, against which cluster, keeping its files where. Its
    ``revision`` changes whenever anything that would change the running process does; a driver
    reports the revision it runs, so "current" means the same thing on every target."""

    name: str  # odoo-<tenant>__<env> | pool-<pool>-<i> | tpl-<key> | vfy-… (a sandbox)
    role: WorkloadRole
    target: str  # tenant/env | pool <name> | template <db> | the environment a sandbox verifies
    stack: StackRef
    settings: OdooSettings  # odoo.conf without the keys the driver places (render/odoo_conf.PLACEMENT_KEYS)
    cluster: str  # the cluster its database(s) live on
    cluster_address: tuple[str, int]  # how the control plane reaches that cluster (the driver maps it)
    storage: str  # its data_dir (filestore, sessions): env-<slug> | pool-<name>, shared by a pool's processes
    http_port: int  # the port the control plane probes it on (allocated by the estate's port range)
    evented_port: int
    evented: bool  # prefork: the evented path is served on its own port
    env: tuple[tuple[str, str], ...] = ()
    stop_grace_s: int = 30
    cpus: float | None = None  # what the engine grants it (container drivers; the local driver does not limit)
    memory_mib: int | None = None

    @property
    def revision(self) -> str:
        import hashlib

        parts: tuple[object, ...] = (
            self.name, self.role, self.target, repr(self.stack), self.settings.fingerprint(), self.cluster,
            repr(self.cluster_address), self.storage, self.http_port, self.evented_port, self.evented,
            repr(self.env), self.stop_grace_s)
        if self.cpus is not None or self.memory_mib is not None:  # unchanged revisions for unlimited workloads
            parts = (*parts, self.cpus, self.memory_mib)
        return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class OdooCommand:
    """A one-shot Odoo run that stops by itself (init, install, update, neutralize) with the
    settings, stack and storage of ``workload``; its failure reason comes from Odoo's own log."""

    workload: OdooWorkload
    args: tuple[str, ...]  # after the configuration: -d DB -i … --stop-after-init
    what: str  # for messages: "Odoo init"
    log_name: str  # init | install | update | neutralize
    subcommand: str | None = None  # before the configuration: neutralize
    log_scope: str | None = None  # the environment whose logs it goes to (a pool's tenant); default the workload's
    secrets: tuple[str, ...] = ()


@dataclass(frozen=True)
class FilestoreRef:
    """One database's filestore inside a data_dir: ``filestore/<database><suffix>`` of the data_dir
    ``storage`` (``env-<slug>``, ``pool-<name>``, ``tpl-<key>``, ``sandbox-<name>``). ``suffix`` names
    a sibling the operations keep beside the live one: ``.restore`` (staged), ``.old`` (swapped
    out), ``.preupgrade`` (an upgrade's snapshot)."""

    storage: str
    database: str
    suffix: str = ""

    def sibling(self, suffix: str) -> FilestoreRef:
        return FilestoreRef(self.storage, self.database, suffix)

    def __str__(self) -> str:
        return f"{self.storage}:filestore/{self.database}{self.suffix}"


@dataclass(frozen=True)
class FilestoreCheck:
    """What a filestore lacks against a list of (store_fname, sha1) of ``ir_attachment``."""

    checked: int
    missing: tuple[str, ...] = ()
    corrupt: tuple[str, ...] = ()


class Storage(Protocol):
    """Filestores where they live (a directory of this host, a volume of an engine, a PVC). Every
    method is idempotent; none follows a symlink out of the filestore."""

    def exists(self, ref: FilestoreRef) -> bool: ...

    def copy(self, source: FilestoreRef, target: FilestoreRef) -> int:
        """Make ``target`` a copy of ``source`` (hard links where possible: stored files are never
        rewritten); return the number of files."""
        ...

    def move(self, source: FilestoreRef, target: FilestoreRef) -> None:
        """Rename ``source`` to ``target`` (which must not exist)."""
        ...

    def remove(self, ref: FilestoreRef) -> None: ...

    def export(self, source: FilestoreRef, into: Path) -> int:
        """Make the control plane's directory ``into`` a mirror of ``source`` (a backup stage)."""
        ...

    def load(self, source: Path, target: FilestoreRef) -> int:
        """Make ``target`` a copy of the control plane's directory ``source`` (a restored backup)."""
        ...

    def check(self, ref: FilestoreRef, attachments: list[tuple[str, str]]) -> FilestoreCheck:
        """Every ``(store_fname, sha1)`` is a file of ``ref`` with that sha1 (an empty sha1: present)."""
        ...

    def size(self, ref: FilestoreRef) -> int: ...

    def ensure_storage(self, storage: str) -> None:
        """Make ``storage`` (an Odoo data_dir: ``env-<slug>``, ``pool-<name>``, ``tpl-<key>``,
        ``sandbox-<name>``) exist, writable by the user Odoo runs as."""
        ...

    def remove_storage(self, storage: str) -> None:
        """The whole data_dir ``storage`` (every filestore and session in it)."""
        ...


AgentKind = Literal["exists", "copy", "move", "remove", "check", "size", "ensure-storage", "remove-storage",
                    "export", "load"]


@dataclass(frozen=True)
class AgentTask:
    """One task of the data-plane agent (``odooplane agent``; kinds and arguments in
    odooplane/agent/tasks.py): ``kind`` and its JSON ``arguments``, filestores as
    ``{"storage", "database", "suffix"}`` (:func:`filestore_argument`)."""

    kind: AgentKind
    arguments: Mapping[str, Any] = field(default_factory=dict)

    def storages(self) -> tuple[str, ...]:
        """The data_dirs the task touches (a container mounts their volumes)."""
        found = [str(self.arguments["storage"])] if "storage" in self.arguments else []
        for key in ("ref", "source", "target"):
            value = self.arguments.get(key)
            if isinstance(value, Mapping) and "storage" in value:
                found.append(str(value["storage"]))
        return tuple(dict.fromkeys(found))

    def to_json(self) -> str:
        import json

        return json.dumps({"kind": self.kind, **self.arguments}, sort_keys=True)


def filestore_argument(ref: FilestoreRef) -> dict[str, str]:
    return {"storage": ref.storage, "database": ref.database, "suffix": ref.suffix}


@dataclass(frozen=True)
class ClusterSpec:
    """A managed PostgreSQL cluster as the operations want it: reachable by the control plane on
    127.0.0.1:``port`` with ``superuser_password``, with these server settings."""

    name: str
    port: int
    superuser_password: str
    settings: tuple[tuple[str, str | int | bool], ...] = ()
    bin_dir: str | None = None  # a PostgreSQL installation to run (a process of this host)
    image: str | None = None  # an image to run (a container)
    pitr: bool = False  # it archives its WAL for point-in-time recovery (the driver's ``pitr``)
    pitr_schedule: str | None = None  # cron of its full base backups (drivers that schedule them themselves)


@dataclass(frozen=True)
class ClusterState:
    name: str
    initialised: bool  # its data exists
    running: bool
    detail: str = ""


Step = Callable[..., Any]  # op.step-like: step(name, action, detail=…, attempts=…) journals one step

@dataclass(frozen=True)
class PitrBackup:
    """One base backup of a cluster (with pgBackRest: one set as ``pgbackrest info`` reports it).
    Times are UTC, to the second. ``size`` is the database size, ``repo_size`` what the set occupies
    in the repository (compressed); ``delta``/``repo_delta`` the part copied by this set (an
    incremental copies less)."""

    label: str
    kind: str
    started_at: dt.datetime
    stopped_at: dt.datetime
    wal_start: str | None
    wal_stop: str | None
    lsn_start: str | None
    lsn_stop: str | None
    size: int
    delta: int
    repo_size: int
    repo_delta: int
    prior: str | None
    error: bool


@dataclass(frozen=True)
class PitrSpec:
    """Point-in-time recovery of managed cluster ``name`` as the operations want it: its WAL
    archived into a stanza, base backups kept ``retention_full`` deep."""

    name: str
    stanza: str
    port: int  # where the control plane reaches the cluster
    password: str | None = field(repr=False)
    bin_dir: str | None
    retention_full: int
    archive_timeout_s: int


class ScratchCluster(Protocol):
    """A running copy of a cluster restored to a time (never archiving)."""

    @property
    def backup_label(self) -> str: ...

    def conn(self, dbname: str = "postgres") -> ClusterConn: ...

    def stop(self, *, remove: bool = False) -> None: ...


class Databases(Protocol):
    """Dumps and loads of a cluster's databases, done where the cluster lives: the server's own
    ``pg_dump``/``pg_restore`` beside it when the driver runs the cluster (a container of its
    own), a client of this host otherwise. Either way the files land on (come from) this host."""

    def dump(self, conn: ClusterConn, database: str, into: Path, *, jobs: int = 2,
             snapshot: str | None = None) -> None:
        """Dump ``database`` in directory format, uncompressed, into ``into`` (a new directory);
        with ``snapshot`` (``pg_export_snapshot()`` of a transaction kept open meanwhile), as that
        transaction sees it."""
        ...

    def dump_sql(self, conn: ClusterConn, database: str, out_file: Path) -> None:
        """A plain SQL dump without owners or privileges (Odoo's ``dump.sql``) into ``out_file``."""
        ...

    def restore(self, role_conn: ClusterConn, database: str, dump_dir: Path, *, jobs: int = 2) -> None:
        """pg_restore ``dump_dir`` into ``database`` connected as ``role_conn`` (the database's own
        ordinary role), stopping at the first error; raise CommandFailed with pg_restore's output."""
        ...


class PointInTime(Protocol):
    """WAL archiving, base backups and restores to a time of a driver's managed clusters."""

    def archiving(self, spec: PitrSpec) -> dict[str, str | int | bool]:
        """The server settings that make the cluster archive its WAL into its stanza."""
        ...

    def ensure_stanza(self, spec: PitrSpec, *, step: Step) -> None:
        """Create and check the stanza once (each change one journaled ``step``)."""
        ...

    def backups(self, spec: PitrSpec) -> list[PitrBackup]: ...

    def backup(self, spec: PitrSpec, kind: Literal["full", "diff", "incr"]) -> PitrBackup: ...

    def newest_restorable(self, spec: PitrSpec) -> dt.datetime | None: ...

    def scratch_dir(self, spec: PitrSpec, name: str) -> Path:
        """Where a scratch copy called ``name`` lives (registered before it is made)."""
        ...

    def scratch(self, spec: PitrSpec, *, at: dt.datetime | None, name: str) -> ScratchCluster:
        """A running copy of the cluster at ``at`` (the newest restorable when None)."""
        ...

    def restore_cluster(self, spec: PitrSpec, *, at: dt.datetime | None, target: str) -> ScratchCluster:
        """The cluster at ``at``, restored where managed cluster ``target`` (never created) lives."""
        ...

    def adopt(self, copy: ScratchCluster, target: str) -> None:
        """Stop the restored ``copy`` and make it managed cluster ``target``'s data."""
        ...

    def remove(self, name: str) -> None:
        """Everything point-in-time recovery keeps of cluster ``name`` (purge)."""
        ...

    def discard(self, scratch_dir: Path) -> bool:
        """Stop and remove the scratch copy registered at ``scratch_dir`` that a killed restore
        left behind; return whether one was still running."""
        ...


class NoPointInTime:
    """A driver whose clusters have no point-in-time recovery: every use is refused, clearly."""

    def __init__(self, driver: str) -> None:
        self.reason = (f"point-in-time recovery runs on the local driver's clusters; the {driver} driver does "
                       "not do it yet (remove clusters.<name>.pitr, or use platform.driver: local)")

    def _refuse(self) -> NoReturn:
        raise PermanentError(self.reason)

    def archiving(self, spec: PitrSpec) -> dict[str, str | int | bool]:
        self._refuse()

    def ensure_stanza(self, spec: PitrSpec, *, step: Step) -> None:
        self._refuse()

    def backups(self, spec: PitrSpec) -> list[PitrBackup]:
        self._refuse()

    def backup(self, spec: PitrSpec, kind: Literal["full", "diff", "incr"]) -> PitrBackup:
        self._refuse()

    def newest_restorable(self, spec: PitrSpec) -> dt.datetime | None:
        self._refuse()

    def scratch_dir(self, spec: PitrSpec, name: str) -> Path:
        self._refuse()

    def scratch(self, spec: PitrSpec, *, at: dt.datetime | None, name: str) -> ScratchCluster:
        self._refuse()

    def restore_cluster(self, spec: PitrSpec, *, at: dt.datetime | None, target: str) -> ScratchCluster:
        self._refuse()

    def adopt(self, copy: ScratchCluster, target: str) -> None:
        self._refuse()

    def remove(self, name: str) -> None:
        """Nothing was ever kept."""

    def discard(self, scratch_dir: Path) -> bool:
        return False


@dataclass(frozen=True)
class ResourceUsage:
    """What one workload uses now: CPU as a counter of seconds since it started (where the target
    keeps one) or as cores over the last moment, and memory resident."""

    cpu_seconds: float | None  # cumulative (a process tree's user + system time)
    cpu_cores: float | None  # instantaneous (what the engine samples)
    memory_bytes: int


@dataclass(frozen=True)
class WorkloadState:
    """What a driver observes of one workload (one listing for all of them)."""

    name: str
    state: str  # RUNNING | STARTING | STOPPED | BACKOFF | FATAL | EXITED | …
    revision: str | None  # the revision it runs (None: unknown)
    detail: str = ""
    pid: int = 0  # local driver: the process; compose: 0
    container: str = ""  # compose: the container id
    started_at: int = 0

    @property
    def running(self) -> bool:
        return self.state == "RUNNING"

    @property
    def alive(self) -> bool:
        return self.state in ("RUNNING", "STARTING")


@dataclass(frozen=True)
class ProcessSpec:
    """A long-running process the driver keeps alive (restarted with back-off when it dies)."""

    name: str
    kind: ProcessKind
    argv: tuple[str, ...]
    cwd: Path
    log_file: Path
    env: Mapping[str, str] = field(default_factory=dict)
    user: str | None = None
    stop_signal: str = "TERM"
    stop_wait_s: int = 20
    start_s: int = 1
    priority: int = 500
    # Host paths the process reads (``read_paths``) or writes (``paths``) besides ``cwd``: a driver
    # that runs it in a container mounts each at the same path.
    paths: tuple[Path, ...] = ()
    read_paths: tuple[Path, ...] = ()


@dataclass(frozen=True)
class EdgeSpec:
    http_address: str
    api_port: int
    trusted_proxies: tuple[str, ...]
    access_log: bool
    trace_endpoint: str | None = None
    https_address: str | None = None
    redirect_http: bool = False
    certificates: tuple[tuple[str, str], ...] = ()  # (cert_file, key_file), absolute
    acme_email: str | None = None
    acme_ca: str | None = None


@dataclass(frozen=True)
class ProcessState:
    name: str
    state: str
    pid: int
    started_at: int
    detail: str

    @property
    def running(self) -> bool:
        return self.state == "RUNNING"

    @property
    def alive(self) -> bool:
        """Running, or started and not yet past supervisord's start period."""
        return self.state in ("RUNNING", "STARTING")


@dataclass(frozen=True)
class RouteState:
    name: str
    current: bool  # the artifact matches what we would render
    served: bool  # the proxy reports it enabled
    error: str


@dataclass(frozen=True)
class DatabaseInit:
    """How an environment's database is first made by Odoo itself (``-i`` of its modules), with
    the configuration of ``workload`` (its own, or its pool's): what a target that cannot copy a
    template runs once per new database."""

    target: str  # tenant/env
    database: str
    modules: tuple[str, ...]  # base first
    workload: str  # the OdooWorkload whose configuration, image and storage it runs with
    base_url: str = ""  # its web.base.url (set with its identity once made)


@dataclass(frozen=True)
class MailListener:
    """One non-production environment's mail catcher port and where its caught messages land."""

    target: str  # tenant/env
    port: int
    directory: Path


@dataclass(frozen=True)
class DesiredRuntime:
    """Everything a driver renders into its artifacts for one estate: its Odoo workloads, routes,
    pool services, managed clusters, mail listeners and the control plane's processes, in the
    estate's order."""

    workloads: tuple[OdooWorkload, ...] = ()
    routes: tuple[EnvRoute, ...] = ()
    pool_services: tuple[PoolService, ...] = ()
    clusters: tuple[ClusterSpec, ...] = ()  # managed clusters only
    mail_listeners: tuple[MailListener, ...] = ()
    processes: tuple[ProcessSpec, ...] = ()  # the control plane's own (the worker), when the estate needs them
    # Workload names and managed clusters that serve the critical tier (mission-critical tenants): a driver
    # that can replicate them does (Kubernetes: web replicas, disruption budgets, CloudNativePG instances).
    ha: frozenset[str] = frozenset()
    inits: tuple[DatabaseInit, ...] = ()  # one per environment, in the estate's order
    # By workload name (a dedicated environment's): the labels cost tools join on (OpenCost,
    # Kubecost): business unit, brand, site, cost centre, tier, stage.
    cost_labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


Artifacts = dict[str, str]  # a path relative to the driver's directory -> the file's text


class Driver(Protocol):
    name: str
    storage: Storage  # the filestores (data plane)
    pitr: PointInTime  # point-in-time recovery of its managed clusters
    databases: Databases  # dumps and loads, where the cluster lives

    # -- Odoo workloads (what operations speak) ----------------------------------------------
    def configure_workload(self, workload: OdooWorkload) -> bool:
        """Write ``workload``'s configuration (without starting it); return True if it changed."""
        ...

    def ensure_workload(self, workload: OdooWorkload, *, restart: bool = False) -> bool:
        """Run ``workload`` at its revision (start it, or restart it when its revision changed, or
        when ``restart``); return True if anything changed."""
        ...

    def workload_current(self, workload: OdooWorkload) -> bool:
        """Whether what runs (or is configured) under ``workload.name`` is ``workload.revision``."""
        ...

    def workloads(self) -> dict[str, WorkloadState]:
        """Every Odoo workload the driver manages, in one listing."""
        ...

    def resource_usage(self, states: dict[str, WorkloadState]) -> dict[str, ResourceUsage]:
        """CPU and memory of the running workloads among ``states`` (as ``workloads`` listed them);
        those it cannot measure are left out."""
        ...

    def wait_ready(self, name: str, *, timeout: float) -> WorkloadState:
        """Wait until workload ``name`` has started; raise if it gave up."""
        ...

    def remove_workload(self, name: str) -> bool: ...

    def restart_workload(self, name: str) -> None: ...

    def endpoint(self, workload: OdooWorkload) -> str:
        """The base URL the control plane reaches ``workload`` on (``http://host:port``)."""
        ...

    def run_odoo(self, command: OdooCommand) -> None:
        """Run a one-shot Odoo command; raise PermanentError with Odoo's own reason if it fails."""
        ...

    def scratch_odoo(self, workload: OdooWorkload, *,
                     started: Callable[[int, str], None] | None = None) -> AbstractContextManager[str]:
        """Serve ``workload`` for the duration of a block (not supervised); yield its base URL."""
        ...

    def data_dir(self, storage: str) -> Path:
        """Where the data_dir called ``storage`` is (the filestore lives in ``filestore/<db>``)."""
        ...

    def run_agent(self, task: AgentTask, *, stdin: bytes | Path | None = None,
                  stdout: Path | None = None) -> dict[str, Any]:
        """Run the data-plane agent where the filestores live (a subprocess as Odoo's user; a
        short-lived container with the volumes of ``task.storages()``): ``stdin`` feeds a ``load``
        its tar, ``stdout`` receives an ``export``'s. Return the agent's result; raise
        PermanentError with the agent's own message when it refused or failed."""
        ...

    # -- mail of non-production environments ------------------------------------------------------
    def mail_host(self) -> str:
        """The host Odoo processes send caught mail to (the mail sink, as they reach it)."""
        ...

    def ensure_mail_sink(self, listeners: Mapping[int, Path]) -> bool:
        """Catch mail on each port into its directory (``{port: directory}``); return True if changed.
        A driver whose worker catches mail itself does nothing here."""
        ...

    def purge(self) -> None:
        """Remove what the runtime itself keeps for the estate (after every environment's data went)."""
        ...

    # -- managed PostgreSQL clusters ---------------------------------------------------------------
    def ensure_cluster(self, spec: ClusterSpec, *, step: Step) -> None:
        """Make managed cluster ``spec.name`` exist, configured, running and accepting connections
        on 127.0.0.1:``spec.port``; each change is one journaled ``step``."""
        ...

    def clusters(self, names: list[str]) -> dict[str, ClusterState]:
        """The state of managed clusters ``names``, in one listing."""
        ...

    def remove_cluster(self, name: str) -> None:
        """Stop cluster ``name`` and drop its data (purge)."""
        ...

    def prepare(self) -> None:
        """Make the runtime itself ready (supervisor daemon, namespaces, …)."""
        ...

    def ensure_edge(self) -> bool:
        """Run the edge proxy with the driver's edge configuration; return True if anything changed."""
        ...

    def edge_running(self) -> bool: ...

    def ensure_process(self, spec: ProcessSpec) -> bool:
        """Run ``spec`` (start, or restart if its definition changed); return True if changed."""
        ...

    def process_current(self, spec: ProcessSpec) -> bool:
        """Return whether the running definition of ``spec.name`` equals ``spec``."""
        ...

    def wait_running(self, name: str, *, timeout: float, started: bool = False) -> ProcessState:
        """Wait until the process runs (``started``: has at least been started); raise if it gave up."""
        ...

    def restart_process(self, name: str) -> None: ...

    def remove_process(self, name: str) -> bool: ...

    def processes(self) -> dict[str, ProcessState]:
        """Observe every process this driver manages (by name)."""
        ...

    def process_names(self) -> list[str]:
        """Names of every process definition present (running or not)."""
        ...

    def ensure_route(self, route: EnvRoute) -> bool: ...

    def ensure_pool_service(self, service: PoolService) -> bool:
        """Make the edge balance a pool's processes (``service.name`` is ``pool-<name>``)."""
        ...

    def pool_service_current(self, service: PoolService) -> bool: ...

    def remove_pool_service(self, name: str) -> bool: ...

    def pool_service_names(self) -> list[str]:
        """Every pool service present at the edge (``pool-<name>``)."""
        ...

    def remove_route(self, name: str) -> bool: ...

    def routes(self, desired: Mapping[str, EnvRoute]) -> dict[str, RouteState]:
        """Observe every route present (desired or not) and whether the proxy serves it."""
        ...

    def wait_route_served(self, name: str, *, timeout: float) -> None: ...

    def rotate_logs(self, *, max_bytes: int) -> list[str]:
        """Rotate the logs of the runtime's own components (edge); return those rotated."""
        ...

    def stop_processes(self, *, keep: Collection[str] = (), grace_s: float | None = None,
                       progress: Callable[[str], None] | None = None) -> None:
        """Stop every process but ``keep``, all at once: a stop signal, then after each one's grace
        (its stop timeout, at most ``grace_s``) a kill of what is left; ``progress`` hears what still
        runs. Raise PermanentError naming what could not be stopped."""
        ...

    def shutdown(self, *, grace_s: float | None = None, progress: Callable[[str], None] | None = None) -> None:
        """Stop every process (as :meth:`stop_processes`) and the runtime itself. Raise PermanentError
        naming what could not be stopped."""
        ...
