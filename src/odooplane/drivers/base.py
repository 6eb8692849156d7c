"""The Driver protocol: a runtime target renders desired state into its own artifacts, applies
them, and observes what runs. ``local`` runs processes on this host; ``compose`` and
``kubernetes`` implement the same protocol."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from odooplane.render.traefik import EnvRoute

ProcessKind = Literal["odoo", "cluster", "edge", "service"]


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


class Driver(Protocol):
    name: str

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
