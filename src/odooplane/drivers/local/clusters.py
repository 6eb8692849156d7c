"""Managed PostgreSQL clusters as processes of this host: initdb, a settings file, postgres under
supervisord as its service user (drivers/local/managed_pg.py)."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

from odooplane.drivers.base import ClusterSpec, ClusterState, ProcessSpec, Step
from odooplane.drivers.local import managed_pg
from odooplane.errors import PermanentError
from odooplane.layout import Layout
from odooplane.services import pg_binaries, postgres
from odooplane.services.postgres import ClusterConn
from odooplane.store import ports

if TYPE_CHECKING:
    from odooplane.drivers.local.driver import LocalDriver

PROGRAM_PREFIX = "pg-"


def program(name: str) -> str:
    return f"{PROGRAM_PREFIX}{name}"


def root(layout: Layout, *, estate_id: str, name: str) -> managed_pg.ClusterLayout:
    return managed_pg.ClusterLayout(managed_pg.cluster_dir(layout.root, estate_id=estate_id, name=name))


def _settings_differ(cluster: managed_pg.ClusterLayout, text: str) -> bool:
    try:
        return (cluster.pgdata / "odooplane.conf").read_text() != text
    except FileNotFoundError:
        return True


class LocalClusters:
    """The part of the local driver that runs managed clusters (the driver supplies supervision)."""

    def __init__(self, layout: Layout, estate_id: str, driver: LocalDriver) -> None:
        self.layout = layout
        self.estate_id = estate_id
        self.driver = driver

    def layout_of(self, name: str) -> managed_pg.ClusterLayout:
        return root(self.layout, estate_id=self.estate_id, name=name)

    def ensure(self, spec: ClusterSpec, *, step: Step) -> None:
        cluster = self.layout_of(spec.name)
        binaries = pg_binaries.find(spec.bin_dir)
        user = managed_pg.service_user()
        if not cluster.initialised:
            step("cluster-init", lambda: managed_pg.initdb(
                binaries, cluster, superuser_password=spec.superuser_password, user=user),
                detail=f"{binaries.bin_dir} ({binaries.origin})")
        settings = managed_pg.render_settings(port=spec.port, run_dir=cluster.run_dir, extra=dict(spec.settings))
        name = program(spec.name)
        process = ProcessSpec(
            name=name, kind="cluster", argv=managed_pg.server_argv(binaries, cluster, user=user), cwd=cluster.root,
            log_file=self.layout.process_log(name), user=user,
            stop_signal="INT",  # fast shutdown
            stop_wait_s=60, start_s=2, priority=100,
        )
        info = self.driver.processes().get(name)
        needs_settings = _settings_differ(cluster, settings)
        if needs_settings:
            step("cluster-config", lambda: managed_pg.write_settings(cluster, settings, user=user))
        if needs_settings and info is not None and info.running:
            step("cluster-restart", lambda: self.driver.restart_process(name))
        if info is None or not info.running or not self.driver.process_current(process):
            if not ports.port_is_free(spec.port) and (info is None or not info.running):
                raise PermanentError(f"port {spec.port} is already in use by another program")

            def start() -> None:
                self.driver.ensure_process(process)
                self.driver.wait_running(name, timeout=30)

            step("cluster-process", start)
        conn = ClusterConn(name=spec.name, host="127.0.0.1", port=spec.port, user="postgres",
                           password=spec.superuser_password)
        step("cluster-ready", lambda: postgres.server_version(conn), attempts=10)

    def states(self, names: list[str]) -> dict[str, ClusterState]:
        processes = self.driver.processes()
        out = {}
        for name in names:
            info = processes.get(program(name))
            out[name] = ClusterState(name, self.layout_of(name).initialised, bool(info and info.running),
                                     info.state if info else "not running")
        return out

    def remove(self, name: str) -> None:
        self.driver.remove_process(program(name))
        where = self.layout_of(name).root
        shutil.rmtree(where, ignore_errors=True)
        try:
            where.parent.rmdir()  # clusters/ or /var/lib/odooplane/<estate>/ once empty
        except OSError:
            pass
