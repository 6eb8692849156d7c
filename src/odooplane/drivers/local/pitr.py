"""Point-in-time recovery of the local driver's managed clusters with pgBackRest: the stanza and
its repository beside the cluster (drivers/local/pgbackrest.py), restores into clusters of this host."""

from __future__ import annotations

import datetime as dt
import shutil
import signal
import socket
from pathlib import Path
from typing import Literal

from odooplane import execute
from odooplane.clock import wait_until
from odooplane.drivers.base import PitrBackup, PitrSpec, ScratchCluster, Step
from odooplane.drivers.local import clusters, managed_pg, pgbackrest
from odooplane.drivers.local.pgbackrest import PgBackRestConfig
from odooplane.errors import UsageError
from odooplane.layout import Layout
from odooplane.services import pg_binaries

STANZA_OK = ".stanza-ok"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalPointInTime:
    def __init__(self, layout: Layout, estate_id: str) -> None:
        self.layout = layout
        self.estate_id = estate_id

    def base_dir(self, name: str) -> Path:
        return pgbackrest.pitr_dir(self.layout.root, estate_id=self.estate_id, name=name)

    def config(self, spec: PitrSpec) -> PgBackRestConfig:
        return pgbackrest.config_for_cluster(
            clusters.root(self.layout, estate_id=self.estate_id, name=spec.name), base_dir=self.base_dir(spec.name),
            stanza=spec.stanza, port=spec.port, binaries=pg_binaries.find(spec.bin_dir), password=spec.password,
            os_user=managed_pg.service_user(), retention_full=spec.retention_full,
            archive_timeout=spec.archive_timeout_s,
        )

    def archiving(self, spec: PitrSpec) -> dict[str, str | int | bool]:
        return dict(pgbackrest.archiving_settings(self.config(spec)))

    def ensure_stanza(self, spec: PitrSpec, *, step: Step) -> None:
        cfg = self.config(spec)
        if (cfg.base_dir / STANZA_OK).exists():
            return

        def create() -> None:
            pgbackrest.prepare(cfg)
            pgbackrest.stanza_create(cfg)
            pgbackrest.check(cfg)
            (cfg.base_dir / STANZA_OK).write_text("ok\n")

        step("pitr-stanza", create)

    def backups(self, spec: PitrSpec) -> list[PitrBackup]:
        return pgbackrest.info(self.config(spec))

    def backup(self, spec: PitrSpec, kind: Literal["full", "diff", "incr"]) -> PitrBackup:
        return pgbackrest.backup(self.config(spec), kind)

    def newest_restorable(self, spec: PitrSpec) -> dt.datetime | None:
        return pgbackrest.latest_restorable(self.config(spec))

    def scratch_dir(self, spec: PitrSpec, name: str) -> Path:
        # Beside the cluster's PITR data: the PostgreSQL service user can reach it there.
        return self.base_dir(spec.name) / "scratch" / name

    def _restore(self, spec: PitrSpec, *, at: dt.datetime | None, into: Path) -> ScratchCluster:
        cfg = self.config(spec)
        if into.exists():
            shutil.rmtree(into)
        return pgbackrest.restore_to_time(cfg, target_time=at, target_dir=into, port=_free_port())

    def scratch(self, spec: PitrSpec, *, at: dt.datetime | None, name: str) -> ScratchCluster:
        return self._restore(spec, at=at, into=self.scratch_dir(spec, name))

    def restore_cluster(self, spec: PitrSpec, *, at: dt.datetime | None, target: str) -> ScratchCluster:
        layout = clusters.root(self.layout, estate_id=self.estate_id, name=target)
        if layout.initialised:
            raise UsageError(f"cluster {target} already exists: restore into a new cluster")
        return self._restore(spec, at=at, into=layout.root)

    def adopt(self, copy: ScratchCluster, target: str) -> None:
        copy.stop()
        layout = clusters.root(self.layout, estate_id=self.estate_id, name=target)
        (layout.root / managed_pg.INITIALISED_MARK).write_text("restored\n")

    def remove(self, name: str) -> None:
        """The stanza's repository and scratch copies, then ``pitr/`` if left empty. A file that
        cannot be removed fails: a purge that says it is done has removed it."""
        root = self.base_dir(name)
        try:
            shutil.rmtree(root)
        except FileNotFoundError:
            pass
        try:
            root.parent.rmdir()
        except OSError:
            pass

    def discard(self, scratch_dir: Path) -> bool:
        """Immediate shutdown of the postmaster of a scratch copy under ``scratch_dir`` (the pid its
        postmaster.pid names, if that process still is it); the directory is the caller's to remove."""
        for pid_file in (scratch_dir / "pgdata" / "postmaster.pid", scratch_dir / "postmaster.pid"):
            try:
                pid = int(pid_file.read_text().split()[0])
            except (OSError, ValueError, IndexError):
                continue
            if execute.signal_if(pid, str(pid_file.parent), signal.SIGQUIT, group=False):
                wait_until(lambda: not Path(f"/proc/{pid}").exists(), timeout=30, interval=0.05)  # noqa: B023
                return True
        return False
