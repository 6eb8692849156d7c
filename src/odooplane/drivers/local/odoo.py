"""Odoo on this host: where a workload's odoo.conf, data_dir and log live, how its process is
started (supervisord), how one-shot runs and scratch servers are run — all as Odoo's service user
when Odooplane runs as root (services/service_users.py)."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from odooplane.agent import names as agent_names
from odooplane.agent.errors import AgentError
from odooplane.clock import wait_until
from odooplane.drivers.base import OdooCommand, OdooWorkload, ProcessSpec, StackRef
from odooplane.errors import PermanentError
from odooplane.files import atomic_write
from odooplane.layout import Layout
from odooplane.render import odoo_conf
from odooplane.services import odoo, odoo_commands, service_users
from odooplane.services.service_users import ServiceUser

REVISION_ENV = "ODOOPLANE_REVISION"  # in the supervised program: the revision it runs


@dataclass(frozen=True)
class Paths:
    """Where one workload keeps its things on this host."""

    home: Path  # its directory (the process's working directory)
    conf: Path
    data_dir: Path
    log_dir: Path
    logfile: Path


def runtime(stack: StackRef) -> odoo.Runtime:
    """How to run ``stack`` as a process of this host."""
    if stack.image and not stack.source:
        raise PermanentError(f"the stack runs image {stack.image}: the local driver runs Odoo from a source tree "
                             "(stacks.<name>.source) or the simulator; an image needs platform.driver: compose")
    if stack.simulator or stack.source is None:
        return odoo.Runtime((odoo.own_python(), "-m", "odooplane.sim"), stack.addons, True, stack.series_major)
    source = Path(stack.source)
    own = [source / "odoo" / "addons"]
    if (source / "addons").is_dir():
        own.append(source / "addons")
    return odoo.Runtime((stack.python or odoo.own_python(), str(source / "odoo-bin")),
                        stack.addons + tuple(str(p) for p in own), False, stack.series_major)


def storage_dir(layout: Layout, storage: str) -> Path:
    """The data_dir a storage name stands for: ``env-<slug>``, ``pool-<name>``, ``tpl-<key>``,
    ``sandbox-<name>`` (the agent's ``local`` layout under the runtime directory)."""
    try:
        return layout.run_root / agent_names.data_dir("local", storage)
    except AgentError as exc:
        raise ValueError(str(exc)) from None


def paths(layout: Layout, w: OdooWorkload) -> Paths:
    data_dir = storage_dir(layout, w.storage)
    if w.role == "environment":
        slug = w.storage.removeprefix("env-")
        return Paths(layout.env_dir(slug), layout.env_conf(slug), data_dir, layout.env_logs(slug),
                     layout.odoo_log(slug))
    if w.role == "pool":
        pool, _, index = w.name.removeprefix("pool-").rpartition("-")
        return Paths(layout.pool_dir(pool), layout.pool_conf(pool, int(index)), data_dir, layout.pool_logs(pool),
                     layout.pool_odoo_log(pool, int(index)))
    home = data_dir.parent
    return Paths(home, home / "odoo.conf", data_dir, home, home / "odoo.log")


def render_conf(layout: Layout, w: OdooWorkload) -> str:
    """odoo.conf of ``w`` on this host: listening on loopback, its data_dir and log here."""
    rt = runtime(w.stack)
    where = paths(layout, w)
    host, port = w.cluster_address
    return odoo_conf.render_placed(w.settings, odoo_conf.Placement(
        db_host=host, db_port=port, data_dir=str(where.data_dir), addons_path=rt.addons_path,
        http_port=w.http_port, evented_port=w.evented_port, logfile=str(where.logfile)))


class LocalOdoo:
    """The Odoo part of the local driver."""

    def __init__(self, layout: Layout, user: ServiceUser | None) -> None:
        self.layout = layout
        self.user = user

    def check(self, w: OdooWorkload) -> odoo.Runtime:
        rt = runtime(w.stack)
        try:
            service_users.check_runtime(rt.base, rt.addons_path, self.user)
        except ValueError as exc:
            raise PermanentError(str(exc)) from exc
        return rt

    def _make_dir(self, path: Path) -> None:
        made = [p for p in (path, *path.parents) if not p.exists()]
        path.mkdir(parents=True, exist_ok=True)
        for created in made:
            if created.is_relative_to(self.layout.run_root):
                service_users.give(created, self.user)

    def configure(self, w: OdooWorkload) -> bool:
        """Write ``w``'s odoo.conf (0600, Odoo's service user's) and make its directories; raise
        PermanentError first if Odoo's service user could not run it."""
        self.check(w)
        where = paths(self.layout, w)
        for directory in (where.home, where.data_dir, where.log_dir):
            self._make_dir(directory)
        changed = atomic_write(where.conf, render_conf(self.layout, w), mode=0o600)
        service_users.give(where.conf, self.user)
        return changed

    def configured(self, w: OdooWorkload) -> bool:
        try:
            return paths(self.layout, w).conf.read_text() == render_conf(self.layout, w)
        except FileNotFoundError:
            return False

    def spec(self, w: OdooWorkload) -> ProcessSpec:
        """The supervised program of a long-running workload."""
        rt = runtime(w.stack)
        where = paths(self.layout, w)
        return ProcessSpec(
            name=w.name, kind="odoo", argv=tuple(odoo.server_argv(rt, where.conf)), cwd=where.home,
            log_file=self.layout.process_log(w.name),
            env={"ODOOPLANE_TARGET": w.target, REVISION_ENV: w.revision, **dict(w.env)},
            stop_signal="TERM", stop_wait_s=w.stop_grace_s, start_s=1, user=self.user.name if self.user else None)

    def run(self, command: OdooCommand) -> None:
        """Run a one-shot odoo-bin command with ``command.workload``'s configuration."""
        w = command.workload
        rt = runtime(w.stack)
        self.configure(w)
        where = paths(self.layout, w)
        log_dir = self.layout.env_logs(command.log_scope) if command.log_scope else where.log_dir
        self._make_dir(log_dir)
        argv = [*rt.base, *([command.subcommand] if command.subcommand else []), "-c", str(where.conf),
                *command.args]
        odoo_commands.run(argv, what=command.what, log_file=log_dir / f"{command.log_name}.log",
                          secrets=command.secrets, user=self.user)

    @contextmanager
    def scratch(self, w: OdooWorkload, *, timeout: float = 180,
                started: Callable[[int, str], None] | None = None) -> Iterator[str]:
        """Serve ``w`` for the duration of the block (not supervised); yield its base URL. The
        process is stopped (its whole group) afterwards; raise PermanentError if it never answers.
        ``started(pid, mark)`` is told the process as soon as it exists (a crash-safe caller
        registers it: ``mark`` is in its command line)."""
        rt = runtime(w.stack)
        self.configure(w)
        where = paths(self.layout, w)
        base = f"http://127.0.0.1:{w.http_port}"
        user = self.user.name if self.user else None
        with open(where.home / "boot.log", "wb") as out:
            proc = subprocess.Popen([*odoo.server_argv(rt, where.conf), f"--http-port={w.http_port}"], stdout=out,
                                    stderr=subprocess.STDOUT, cwd=where.home, start_new_session=True, user=user,
                                    extra_groups=[] if user else None)
        if started is not None:
            started(proc.pid, str(where.conf))
        try:
            if not wait_until(lambda: odoo.probe(f"{base}/web/health", timeout=2).ok or proc.poll() is not None,
                              timeout=timeout, interval=0.1) or proc.poll() is not None:
                raise PermanentError(f"Odoo did not start (log: {where.logfile})")
            yield base
        finally:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=30)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
