"""The fake driver: every runtime verb of the :class:`~odooplane.drivers.base.Driver` protocol in
memory, for the unit tests of operations and as the first leg of the driver contract suite
(tests/contract/). Nothing runs: workloads are records with a state and the revision they run,
routes and pool services are records with a "served" flag, filestores are dictionaries of
relative path → bytes. Two things are real, because operations reach them over HTTP: a loopback
server answers for every running workload under its :meth:`FakeDriver.endpoint`, and, once
:meth:`FakeDriver.ensure_edge` ran, the edge's address routes by Host header to the workload a
served route names.

Tests steer it with fault hooks: :meth:`FakeDriver.fail_to_start` (a workload gives up, as a
process that exits at once or a container that dies), :meth:`FakeDriver.fail_next_odoo` (the next
one-shot Odoo command fails with Odoo's reason, raised as the real drivers raise it),
:meth:`FakeDriver.crash` (a running workload dies), :meth:`FakeDriver.refuse_route` (the edge
never serves a route), and :attr:`FakeDriver.on_odoo` (what a one-shot command does to the data,
e.g. the tables an init makes). What was asked of it is recorded (``commands``,
``mail_listeners``, ``storage.copies``, ``events``).

Not offered to users: the estate's ``platform.driver`` is ``local`` or ``compose``; tests create
it directly or through ``registry.create("fake", …)``.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import shutil
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from odooplane.drivers.base import (
    AgentTask,
    ClusterSpec,
    ClusterState,
    Databases,
    Driver,
    EdgeSpec,
    FilestoreCheck,
    FilestoreRef,
    NoPointInTime,
    OdooCommand,
    OdooWorkload,
    PointInTime,
    ProcessSpec,
    ProcessState,
    ResourceUsage,
    RouteState,
    Step,
    Storage,
    WorkloadState,
)
from odooplane.drivers.pg_client import ClientDatabases
from odooplane.errors import PermanentError
from odooplane.render.traefik import DATABASE_HEADER, EnvRoute, PoolService

EDGE = "edge"
GAVE_UP = ("FATAL", "EXITED", "BACKOFF")

Files = dict[str, bytes]  # relative path inside a filestore → content


class FakeStorage:
    """Filestores in memory: ``storages[storage][database + suffix]`` is a filestore's files."""

    def __init__(self) -> None:
        self.storages: dict[str, dict[str, Files]] = {}
        self.copies: list[tuple[FilestoreRef, FilestoreRef]] = []  # every copy asked, in order
        self._lock = threading.RLock()

    # -- what tests use -----------------------------------------------------------------------------
    def put(self, ref: FilestoreRef, path: str, content: bytes) -> None:
        """Write one file of a filestore (as Odoo would when storing an attachment)."""
        with self._lock:
            self.storages.setdefault(ref.storage, {}).setdefault(_key(ref), {})[path] = content

    def files(self, ref: FilestoreRef) -> Files:
        """A copy of the files of ``ref`` (empty when it does not exist)."""
        with self._lock:
            return dict(self.storages.get(ref.storage, {}).get(_key(ref), {}))

    # -- Storage ------------------------------------------------------------------------------------
    def _get(self, ref: FilestoreRef) -> Files | None:
        return self.storages.get(ref.storage, {}).get(_key(ref))

    def _set(self, ref: FilestoreRef, files: Files) -> None:
        self.storages.setdefault(ref.storage, {})[_key(ref)] = files

    def exists(self, ref: FilestoreRef) -> bool:
        with self._lock:
            return self._get(ref) is not None

    def copy(self, source: FilestoreRef, target: FilestoreRef) -> int:
        with self._lock:
            self.copies.append((source, target))
            files = dict(self._get(source) or {})
            self._set(target, files)
            return len(files)

    def move(self, source: FilestoreRef, target: FilestoreRef) -> None:
        with self._lock:
            src, dst = self._get(source), self._get(target)
            if dst is not None:
                if src is None:
                    return  # done already
                raise PermanentError(f"{target} exists: not moving {source} onto it")
            if src is None:
                raise PermanentError(f"{source} does not exist: nothing to move to {target}")
            del self.storages[source.storage][_key(source)]
            self._set(target, src)

    def remove(self, ref: FilestoreRef) -> None:
        with self._lock:
            self.storages.get(ref.storage, {}).pop(_key(ref), None)

    def export(self, source: FilestoreRef, into: Path) -> int:
        files = self.files(source)
        if into.exists():
            shutil.rmtree(into)
        into.mkdir(parents=True)
        for relative, content in files.items():
            path = into / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        return len(files)

    def load(self, source: Path, target: FilestoreRef) -> int:
        files: Files = {}
        if source.is_dir():
            files = {p.relative_to(source).as_posix(): p.read_bytes() for p in source.rglob("*") if p.is_file()}
            shutil.rmtree(source)  # moved into the storage, as the local driver does
        with self._lock:
            self._set(target, files)
        return len(files)

    def check(self, ref: FilestoreRef, attachments: list[tuple[str, str]]) -> FilestoreCheck:
        files = self.files(ref)
        missing, corrupt = [], []
        for store_fname, checksum in attachments:
            content = files.get(store_fname)
            if content is None:
                missing.append(store_fname)
            elif checksum and hashlib.sha1(content).hexdigest() != checksum:  # noqa: S324 - Odoo's checksum
                corrupt.append(store_fname)
        return FilestoreCheck(len(attachments), tuple(missing), tuple(corrupt))

    def size(self, ref: FilestoreRef) -> int:
        return sum(len(content) for content in self.files(ref).values())

    def ensure_storage(self, storage: str) -> None:
        with self._lock:
            self.storages.setdefault(storage, {})

    def remove_storage(self, storage: str) -> None:
        with self._lock:
            self.storages.pop(storage, None)


def _key(ref: FilestoreRef) -> str:
    return f"{ref.database}{ref.suffix}"


@dataclass
class _Running:
    """A workload as the fake runs it."""

    workload: OdooWorkload
    state: str
    detail: str = ""
    started_at: int = 0
    starts: int = 0


@dataclass
class _Process:
    spec: ProcessSpec
    state: str = "RUNNING"
    started_at: int = field(default_factory=lambda: int(time.time()))


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeDriver
    edge: bool


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        status, body = self.server.fake._answer(self.path, dict(self.headers.items()), edge=self.server.edge)
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        return None


class FakeDriver:
    """The whole Driver protocol in memory (see the module's docstring)."""

    name = "fake"

    def __init__(self, root: Path, edge: EdgeSpec | None = None) -> None:
        self.root = root  # where the data_dirs it names are (the control plane makes directories there)
        self.edge = edge
        self.fake_storage = FakeStorage()  # the same object as ``storage``, with its test helpers
        self.storage: Storage = self.fake_storage
        self.pitr: PointInTime = NoPointInTime("fake")
        self.databases: Databases = ClientDatabases()  # tests give it a real PostgreSQL
        self.agent_tasks: list[AgentTask] = []  # every agent task, in order
        self.configured: dict[str, OdooWorkload] = {}
        self.running: dict[str, _Running] = {}
        self.process_specs: dict[str, _Process] = {}
        self.route_table: dict[str, EnvRoute] = {}
        self.pool_services: dict[str, PoolService] = {}
        self.cluster_specs: dict[str, ClusterSpec] = {}
        self.cluster_running: dict[str, bool] = {}
        self.mail_listeners: dict[int, Path] = {}
        self.commands: list[OdooCommand] = []  # every one-shot Odoo command, in order
        self.events: list[str] = []  # "start odoo-x", "restart odoo-x", "stop odoo-x", … in order
        self.on_odoo: Callable[[OdooCommand], None] | None = None  # what a command does to the data
        self.prepared = False
        self._edge_up = False
        self._fail_start: dict[str, str] = {}
        self._fail_odoo: list[str] = []
        self._unserved: set[str] = set()
        self._lock = threading.RLock()
        self._servers: list[_Server] = []
        self._backend: _Server | None = None

    # -- the data-plane agent ---------------------------------------------------------------------
    def run_agent(self, task: AgentTask, *, stdin: bytes | Path | None = None,
                  stdout: Path | None = None) -> dict[str, Any]:
        """The real agent's task code, in this process, on the directories under ``root/agent``
        (the fake's own data plane: its in-memory filestores are ``storage``'s)."""
        import io

        from odooplane.agent import errors as agent_errors
        from odooplane.agent import tasks
        from odooplane.agent.filestores import Filestores

        self.agent_tasks.append(task)
        root = self.root / "agent"
        root.mkdir(parents=True, exist_ok=True)
        feed = None if stdin is None else io.BytesIO(stdin if isinstance(stdin, bytes) else stdin.read_bytes())
        try:
            with (stdout.open("wb") if stdout is not None else contextlib.nullcontext()) as out:
                return tasks.run({"kind": task.kind, **task.arguments}, Filestores(root), stdin=feed, stdout=out)
        except (agent_errors.AgentError, OSError) as exc:
            raise PermanentError(f"agent {task.kind} (fake): {exc}") from None

    # -- fault hooks --------------------------------------------------------------------------------
    def fail_to_start(self, name: str, detail: str = "exited at once") -> None:
        """Workload ``name`` gives up whenever it is started (until :meth:`heal`)."""
        self._fail_start[name] = detail

    def heal(self, name: str) -> None:
        self._fail_start.pop(name, None)

    def fail_next_odoo(self, reason: str) -> None:
        """The next one-shot Odoo command fails, Odoo's log saying ``reason``."""
        self._fail_odoo.append(reason)

    def crash(self, name: str, detail: str = "killed") -> None:
        """A running workload dies (and stays down, as one supervisord gave up on)."""
        with self._lock:
            self.running[name].state, self.running[name].detail = "FATAL", detail

    def refuse_route(self, name: str) -> None:
        """The edge never serves route ``name`` (a route it cannot load)."""
        self._unserved.add(name)

    # -- HTTP: workloads' endpoints and the edge -----------------------------------------------------
    def _serve(self, host: str, port: int, *, edge: bool) -> _Server:
        server = _Server((host, port), _Handler)
        server.fake, server.edge = self, edge
        threading.Thread(target=server.serve_forever, name=f"fake-driver-{'edge' if edge else 'odoo'}",
                         daemon=True).start()
        self._servers.append(server)
        return server

    def _backend_port(self) -> int:
        with self._lock:
            if self._backend is None:
                self._backend = self._serve("127.0.0.1", 0, edge=False)
            return int(self._backend.server_address[1])

    def _answer(self, path: str, headers: Mapping[str, str], *, edge: bool) -> tuple[int, str]:
        lower = {k.lower(): v for k, v in headers.items()}
        if edge:
            host = lower.get("host", "").split(":")[0]
            route = next((r for r in self.route_table.values() if host in r.hostnames and self._served(r.name)), None)
            if route is None:
                return 404, "no route"
            if path.startswith("/web/database"):
                return 403, "database manager"
            name = f"{route.pool}-0" if route.pool else f"odoo-{route.name}"
            database = route.database or ""
        else:
            name, _, rest = path.lstrip("/").partition("/")
            path = "/" + rest
            database = lower.get(DATABASE_HEADER.lower(), "")
        with self._lock:
            found = self.running.get(name)
            alive = found is not None and found.state == "RUNNING"
            revision = found.workload.revision if found else ""
        if not alive:
            return (502 if edge else 503), f"{name} is not running"
        return 200, f"{name} {revision} {database} {path}"

    # -- Odoo workloads -----------------------------------------------------------------------------
    def configure_workload(self, workload: OdooWorkload) -> bool:
        with self._lock:
            changed = self.configured.get(workload.name) != workload
            self.configured[workload.name] = workload
            return changed

    def _start(self, workload: OdooWorkload, event: str) -> None:
        failure = self._fail_start.get(workload.name)
        found = self.running.get(workload.name)
        self.running[workload.name] = _Running(
            workload, "FATAL" if failure else "RUNNING", failure or "", int(time.time()),
            (found.starts if found else 0) + 1)
        self.events.append(f"{event} {workload.name}")

    def ensure_workload(self, workload: OdooWorkload, *, restart: bool = False) -> bool:
        with self._lock:
            changed = self.configure_workload(workload)
            found = self.running.get(workload.name)
            if found is None or found.workload.revision != workload.revision or found.state != "RUNNING":
                self._start(workload, "start")
                return True
            if restart:
                self._start(workload, "restart")
            return changed

    def workload_current(self, workload: OdooWorkload) -> bool:
        with self._lock:
            found = self.running.get(workload.name)
            return found is not None and found.workload.revision == workload.revision

    def _state(self, found: _Running) -> WorkloadState:
        return WorkloadState(found.workload.name, found.state, found.workload.revision, found.detail,
                             started_at=found.started_at)

    def resource_usage(self, states: dict[str, WorkloadState]) -> dict[str, ResourceUsage]:
        return {}  # a fake process uses nothing

    def workloads(self) -> dict[str, WorkloadState]:
        with self._lock:
            return {name: self._state(found) for name, found in self.running.items()}

    def wait_ready(self, name: str, *, timeout: float) -> WorkloadState:
        with self._lock:
            found = self.running.get(name)
            if found is None:
                raise PermanentError(f"workload {name} is not known to the fake driver")
            if found.state != "RUNNING":
                raise PermanentError(f"workload {name} did not stay up ({found.state}: {found.detail})")
            return self._state(found)

    def remove_workload(self, name: str) -> bool:
        with self._lock:
            existed = self.running.pop(name, None) is not None
            existed = self.configured.pop(name, None) is not None or existed
            if existed:
                self.events.append(f"remove {name}")
            return existed

    def restart_workload(self, name: str) -> None:
        with self._lock:
            found = self.running.get(name)
            if found is None:
                raise PermanentError(f"workload {name} is not known to the fake driver")
            self._start(found.workload, "restart")

    def endpoint(self, workload: OdooWorkload) -> str:
        return f"http://127.0.0.1:{self._backend_port()}/{workload.name}"

    def run_odoo(self, command: OdooCommand) -> None:
        with self._lock:
            self.configure_workload(command.workload)
            self.commands.append(command)
            reason = self._fail_odoo.pop(0) if self._fail_odoo else None
        if reason is not None:
            # As the real drivers word it: the command, its exit code, Odoo's reason, where the log is.
            raise PermanentError(f"{command.what} exited with 1: {reason} (log: fake:{command.log_name}.log)")
        if self.on_odoo is not None:
            self.on_odoo(command)

    def scratch_odoo(self, workload: OdooWorkload, *,
                     started: Callable[[int, str], None] | None = None) -> AbstractContextManager[str]:
        return self._scratch(workload, started)

    @contextmanager
    def _scratch(self, workload: OdooWorkload, started: Callable[[int, str], None] | None) -> Iterator[str]:
        with self._lock:
            self._start(workload, "scratch")
            found = self.running[workload.name]
        if started is not None:
            started(0, f"fake:{workload.name}")
        try:
            if found.state != "RUNNING":
                raise PermanentError(f"Odoo did not start ({workload.name}: {found.detail})")
            yield self.endpoint(workload)
        finally:
            with self._lock:
                self.running.pop(workload.name, None)

    def data_dir(self, storage: str) -> Path:
        return self.root / "storage" / storage

    # -- mail -------------------------------------------------------------------------------------------
    def mail_host(self) -> str:
        return "127.0.0.1"

    def ensure_mail_sink(self, listeners: Mapping[int, Path]) -> bool:
        with self._lock:
            changed = dict(listeners) != self.mail_listeners
            self.mail_listeners = dict(listeners)
            return changed

    def purge(self) -> None:
        with self._lock:
            self.fake_storage.storages.clear()
            self.mail_listeners.clear()

    # -- managed clusters -----------------------------------------------------------------------------
    def ensure_cluster(self, spec: ClusterSpec, *, step: Step) -> None:
        with self._lock:
            changed = self.cluster_specs.get(spec.name) != spec or not self.cluster_running.get(spec.name)
        if changed:
            def run() -> None:
                with self._lock:
                    self.cluster_specs[spec.name] = spec
                    self.cluster_running[spec.name] = True

            step("cluster-process", run)

    def clusters(self, names: list[str]) -> dict[str, ClusterState]:
        with self._lock:
            return {name: ClusterState(name, name in self.cluster_specs, self.cluster_running.get(name, False),
                                       "" if name in self.cluster_specs else "not created") for name in names}

    def remove_cluster(self, name: str) -> None:
        with self._lock:
            self.cluster_specs.pop(name, None)
            self.cluster_running.pop(name, None)

    # -- the runtime and the edge -----------------------------------------------------------------------
    def prepare(self) -> None:
        self.prepared = True

    def ensure_edge(self) -> bool:
        with self._lock:
            if self._edge_up:
                return False
            if self.edge is not None:
                # Its port on loopback, whatever the estate binds: the fake is reached by tests only.
                self._serve("127.0.0.1", int(self.edge.http_address.rpartition(":")[2]), edge=True)
            self._edge_up = True
            return True

    def edge_running(self) -> bool:
        return self._edge_up

    def rotate_logs(self, *, max_bytes: int) -> list[str]:
        return []

    def stop_processes(self, *, keep: Collection[str] = (), grace_s: float | None = None,
                       progress: Callable[[str], None] | None = None) -> None:
        with self._lock:
            for name, found in self.running.items():
                if name not in keep and found.state != "STOPPED":
                    found.state = "STOPPED"
                    self.events.append(f"stop {name}")
            for name, process in self.process_specs.items():
                if name not in keep:
                    process.state = "STOPPED"

    def shutdown(self, *, grace_s: float | None = None, progress: Callable[[str], None] | None = None) -> None:
        self.stop_processes(grace_s=grace_s, progress=progress)
        with self._lock:
            self._edge_up = False
            servers, self._servers, self._backend = self._servers, [], None
        for server in servers:
            server.shutdown()
            server.server_close()

    # -- processes (the control plane's own, and workloads seen as processes) ---------------------------
    def ensure_process(self, spec: ProcessSpec) -> bool:
        with self._lock:
            found = self.process_specs.get(spec.name)
            if found is not None and found.spec == spec and found.state == "RUNNING":
                return False
            self.process_specs[spec.name] = _Process(spec)
            return True

    def process_current(self, spec: ProcessSpec) -> bool:
        with self._lock:
            found = self.process_specs.get(spec.name)
            return found is not None and found.spec == spec

    def wait_running(self, name: str, *, timeout: float, started: bool = False) -> ProcessState:
        state = self.processes().get(name)
        if state is None:
            raise PermanentError(f"process {name} is not known to the fake driver")
        if not (state.alive if started else state.running):
            raise PermanentError(f"process {name} did not stay up ({state.state}: {state.detail})")
        return state

    def restart_process(self, name: str) -> None:
        with self._lock:
            if name in self.running:
                self.restart_workload(name)
            elif name in self.process_specs:
                self.process_specs[name] = _Process(self.process_specs[name].spec)
            else:
                raise PermanentError(f"process {name} is not known to the fake driver")

    def remove_process(self, name: str) -> bool:
        with self._lock:
            if name in self.running or name in self.configured:
                return self.remove_workload(name)
            return self.process_specs.pop(name, None) is not None

    def processes(self) -> dict[str, ProcessState]:
        with self._lock:
            out = {name: ProcessState(name, p.state, 0, p.started_at, "") for name, p in self.process_specs.items()}
            for name, r in self.running.items():
                out[name] = ProcessState(name, r.state, 0, r.started_at, r.detail)
            if self._edge_up:
                out[EDGE] = ProcessState(EDGE, "RUNNING", 0, 0, "")
            return out

    def process_names(self) -> list[str]:
        with self._lock:
            return sorted(set(self.process_specs) | set(self.running) | set(self.configured)
                          | ({EDGE} if self._edge_up else set()))

    # -- routes and pool services ---------------------------------------------------------------------
    def _served(self, name: str) -> bool:
        return self._edge_up and name in self.route_table and name not in self._unserved

    def ensure_route(self, route: EnvRoute) -> bool:
        with self._lock:
            changed = self.route_table.get(route.name) != route
            self.route_table[route.name] = route
            return changed

    def remove_route(self, name: str) -> bool:
        with self._lock:
            return self.route_table.pop(name, None) is not None

    def routes(self, desired: Mapping[str, EnvRoute]) -> dict[str, RouteState]:
        with self._lock:
            out: dict[str, RouteState] = {}
            for name in sorted(set(self.route_table) | set(desired)):
                present = self.route_table.get(name)
                if present is None and name not in desired:
                    continue
                served = self._served(name)
                error = "" if served or present is None else ("edge not running" if not self._edge_up else "refused")
                out[name] = RouteState(name, present is not None and present == desired.get(name), served, error)
            return out

    def wait_route_served(self, name: str, *, timeout: float) -> None:
        if not self._served(name):
            detail = "not loaded" if name not in self.route_table else ("edge not running" if not self._edge_up
                                                                        else "refused")
            raise PermanentError(f"route {name} is not served by the edge after {timeout:.0f} s: {detail}")

    def ensure_pool_service(self, service: PoolService) -> bool:
        with self._lock:
            changed = self.pool_services.get(service.name) != service
            self.pool_services[service.name] = service
            return changed

    def pool_service_current(self, service: PoolService) -> bool:
        with self._lock:
            return self.pool_services.get(service.name) == service

    def remove_pool_service(self, name: str) -> bool:
        with self._lock:
            return self.pool_services.pop(name, None) is not None

    def pool_service_names(self) -> list[str]:
        with self._lock:
            return sorted(self.pool_services)

    # -- helpers for tests --------------------------------------------------------------------------
    def revision_of(self, name: str) -> str | None:
        """The revision workload ``name`` runs (None: it does not run)."""
        with self._lock:
            found = self.running.get(name)
            return found.workload.revision if found else None


_: type[Driver] = FakeDriver  # mypy checks that the fake implements the whole protocol
