"""Point-in-time recovery of the compose driver's managed clusters: pgBackRest in the cluster's own
container, its stanza and repository in the cluster's ``pg-<name>.pitr`` volume.

- **Archiving**: ``archive_command`` runs the container's ``pgbackrest archive-push``; the
  configuration (``pgbackrest.conf``, the same rendering as the local driver's) lives in the volume
  at ``/var/lib/pgbackrest``. pgBackRest reaches the server over the container's unix socket as
  ``postgres`` (local connections are trusted there): no password travels.
- **Stanza, backups, info**: ``docker exec --user postgres`` in the cluster's running container.
- **Restores to a time**: a new volume, filled by ``pgbackrest restore`` in a one-off container of
  the same image (no network), then a server container on that volume (the repository mounted for
  ``archive-get``, ``archive_mode=off``) published on an ephemeral 127.0.0.1 port. A scratch copy is
  named after the scratch directory the operations register (``<project>-pitr-<name>``), so a
  restore killed midway is found and removed by the next run (:meth:`discard`). A whole cluster
  restored into a new one fills that cluster's data volume, labelled as compose labels its own:
  the next apply's ``docker compose up`` runs the cluster on it.

The image must have pgBackRest (``postgres_image: build`` does: Debian's ``pgbackrest``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import psycopg

from odooplane import execute
from odooplane.clock import wait_until
from odooplane.drivers.base import PitrBackup, PitrSpec, ScratchCluster, Step
from odooplane.drivers.compose import engine
from odooplane.drivers.compose.artifacts import PITR_DIR
from odooplane.drivers.compose.databases import POSTGRES_USER, SOCKET_DIR
from odooplane.drivers.local import pgbackrest
from odooplane.drivers.local.pgbackrest import PgBackRestConfig, RepoSettings
from odooplane.errors import PermanentError, TemporaryError, UsageError
from odooplane.render import compose as render
from odooplane.services import postgres
from odooplane.services.pg_binaries import PgBinaries
from odooplane.services.postgres import ClusterConn

PGBACKREST = "/usr/bin/pgbackrest"  # Debian's, in the image
STANZA_OK = f"{PITR_DIR}/.stanza-ok"
LABEL_SCRATCH = "odooplane.pitr-scratch"  # on scratch containers and volumes: the compose project
LABEL_CLUSTER = "odooplane.pitr-cluster"  # the cluster they were restored from
RESTORED = "restored:"  # a scratch copy's connections are named "restored:<its container>"
RESTORE_TIMEOUT_S = 1800.0
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,100}")  # what docker accepts for containers and volumes

# The running container of managed cluster ``name`` (PermanentError when it is not running).
FindCluster = Callable[[str], str]


def config(spec: PitrSpec, container: str | None = None) -> PgBackRestConfig:
    """pgBackRest's view of the cluster, with the container's paths; with ``container`` its
    commands run there (``docker exec`` as the postgres user). Pure."""
    base = Path(PITR_DIR)
    return PgBackRestConfig(
        stanza=spec.stanza, base_dir=base, repo=RepoSettings(path=base / "repo", retention_full=spec.retention_full),
        log_path=base / "log", lock_path=base / "lock", spool_path=base / "spool",
        pg_path=Path(render.POSTGRES_DATA), pg_port=render.POSTGRES_PORT, pg_socket_path=Path(SOCKET_DIR),
        binaries=PgBinaries(Path("/usr/lib/postgresql/bin"), "image"), pg_user="postgres", pg_password=None,
        os_user=None, archive_timeout=spec.archive_timeout_s, pgbackrest_bin=PGBACKREST,
        exec_prefix=("docker", "exec", "--user", POSTGRES_USER, container) if container else (),
    )


class ComposeScratch:
    """A restored copy running in container ``container`` on volume ``volume``."""

    def __init__(self, *, container: str, volume: str, password: str | None, backup_label: str) -> None:
        self.container = container
        self.volume = volume
        self.password = password
        self._label = backup_label
        self.port = 0
        self.reached_archive_end = False

    @property
    def backup_label(self) -> str:
        return self._label

    def conn(self, dbname: str = "postgres") -> ClusterConn:
        return ClusterConn(name=f"{RESTORED}{self.container}", host="127.0.0.1", port=self.port, user="postgres",
                           password=self.password, dbname=dbname)

    def running(self) -> bool:
        found = engine.docker("inspect", "--format", "{{.State.Running}}", self.container, check=False)
        return found.returncode == 0 and found.stdout.strip() == "true"

    def published_port(self) -> int:
        """The 127.0.0.1 port the engine published it on (0: none, e.g. it has stopped)."""
        found = engine.docker("port", self.container, f"{render.POSTGRES_PORT}/tcp", check=False)
        for line in found.stdout.splitlines():
            host, _, port = line.strip().rpartition(":")
            if host == "127.0.0.1" and port.isdigit():
                return int(port)
        return 0

    def log_tail(self, lines: int = 15) -> str:
        found = engine.docker("logs", "--tail", str(lines), self.container, check=False)
        return (found.stdout + found.stderr).strip() or "(no server log)"

    def remove_container(self) -> None:
        engine.docker("rm", "--force", self.container, check=False, timeout=120)

    def stop(self, *, remove: bool = False) -> None:
        """Stop the copy (fast shutdown); with ``remove``, its container and volume too. Idempotent."""
        if self.running():
            engine.docker("stop", "--time", "60", self.container, timeout=120)
        if remove:
            self.remove_container()
            engine.docker("volume", "rm", "--force", self.volume, check=False)


class ComposePointInTime:
    """:class:`~odooplane.drivers.base.PointInTime` of the compose driver."""

    def __init__(self, *, project: str, estate_id: str, root: Path, find: FindCluster,
                 image: Callable[[], str]) -> None:
        self.project = project
        self.estate_id = estate_id
        self.root = root
        self._find = find
        self._image = image

    # -- archiving, stanza, backups -----------------------------------------------------------------
    def archiving(self, spec: PitrSpec) -> dict[str, str | int | bool]:
        return dict(pgbackrest.archiving_settings(config(spec)))

    def _cfg(self, spec: PitrSpec) -> PgBackRestConfig:
        return config(spec, self._find(spec.name))

    @staticmethod
    def _exec(cfg: PgBackRestConfig, *argv: str, user: str = POSTGRES_USER, stdin: str | None = None,
              check: bool = True) -> execute.Result:
        container = cfg.exec_prefix[-1]
        flags = ["--interactive"] if stdin is not None else []
        return execute.run(["docker", "exec", *flags, "--user", user, container, *argv], stdin=stdin, check=check,
                           timeout=120, what=f"{argv[0]} in the container of {container}")

    def _prepare(self, spec: PitrSpec, cfg: PgBackRestConfig) -> None:
        """The repository's directories (the postgres user's) and ``pgbackrest.conf`` in the volume."""
        if self._exec(cfg, PGBACKREST, "version", check=False).returncode != 0:
            raise PermanentError(f"cluster {spec.name}: its image has no pgBackRest ({PGBACKREST}); use "
                                 "platform.compose.postgres_image: build, or an image with Debian's pgbackrest")
        dirs = [str(p) for p in (cfg.base_dir, cfg.repo.path, cfg.log_path, cfg.lock_path, cfg.spool_path)]
        self._exec(cfg, "mkdir", "-p", "-m", "0750", *dirs, user="0")
        self._exec(cfg, "chown", f"{POSTGRES_USER}:{POSTGRES_USER}", *dirs, user="0")
        target = str(cfg.config_file)
        self._exec(cfg, "sh", "-c", 'cat > "$1.tmp" && chmod 0640 "$1.tmp" && mv "$1.tmp" "$1"', "sh", target,
                   stdin=pgbackrest.render_config(cfg))

    def ensure_stanza(self, spec: PitrSpec, *, step: Step) -> None:
        cfg = self._cfg(spec)
        self._prepare(spec, cfg)
        if self._exec(cfg, "test", "-e", STANZA_OK, check=False).returncode == 0:
            return

        def create() -> None:
            pgbackrest.stanza_create(cfg)
            pgbackrest.check(cfg)
            self._exec(cfg, "touch", STANZA_OK)

        step("pitr-stanza", create)

    def backups(self, spec: PitrSpec) -> list[PitrBackup]:
        return pgbackrest.info(self._cfg(spec))

    def backup(self, spec: PitrSpec, kind: Literal["full", "diff", "incr"]) -> PitrBackup:
        return pgbackrest.backup(self._cfg(spec), kind)

    def newest_restorable(self, spec: PitrSpec) -> dt.datetime | None:
        return pgbackrest.latest_restorable(self._cfg(spec))

    # -- restores -----------------------------------------------------------------------------------
    def scratch_dir(self, spec: PitrSpec, name: str) -> Path:
        # Never made: its name is the scratch copy's (container and volume), found again by discard.
        return self.root / "pitr-scratch" / name

    def container_of(self, conn: ClusterConn) -> str | None:
        """The container of the scratch copy ``conn`` reaches (None: not one of this project's)."""
        container = conn.name.removeprefix(RESTORED)
        return container if conn.name.startswith(RESTORED) and container.startswith(f"{self.project}-pitr-") else None

    def _scratch_name(self, name: str) -> str:
        """The name of scratch copy ``name``'s container and of its volume."""
        if not _NAME_RE.fullmatch(name):
            raise PermanentError(f"{name!r} cannot name a scratch copy (letters, digits, '-', '_', '.')")
        return f"{self.project}-pitr-{name}"

    def _labels(self, spec: PitrSpec) -> list[str]:
        return ["--label", f"{LABEL_SCRATCH}={self.project}", "--label", f"{LABEL_CLUSTER}={spec.name}"]

    @staticmethod
    def _one_off(image: str, volumes: list[str], user: str, entrypoint: str, *argv: str, what: str,
                 timeout: float = 300) -> None:
        """Run ``entrypoint argv`` in a throwaway container of ``image`` (no network) with ``volumes``."""
        mounts = [flag for v in volumes for flag in ("--volume", v)]
        execute.run(["docker", "run", "--rm", "--network", "none", "--user", user, *mounts, "--entrypoint",
                     entrypoint, image, *argv], timeout=timeout, what=what)

    def _restore(self, spec: PitrSpec, *, at: dt.datetime | None, container: str, volume: str,
                 volume_labels: dict[str, str]) -> ComposeScratch:
        """Restore into the new volume ``volume`` (``volume_labels`` on it) and run it as ``container``."""
        source = self._cfg(spec)
        if at is not None:
            pgbackrest.format_target_time(at)  # rejects a naive time
        chosen = pgbackrest.choose_backup(pgbackrest.info(source), at)
        image = self._image()
        copy = ComposeScratch(container=container, volume=volume, password=spec.password, backup_label=chosen.label)
        labels = [flag for key, value in sorted(volume_labels.items()) for flag in ("--label", f"{key}={value}")]
        engine.docker("volume", "create", *labels, volume)
        data = f"{volume}:{render.POSTGRES_DATA}"
        repo = f"{self.project}_{render.pitr_volume(spec.name)}:{PITR_DIR}"
        try:
            self._one_off(image, [data], "0", "sh", "-c", 'chown postgres:postgres "$0" && chmod 0700 "$0"',
                          render.POSTGRES_DATA, what="the restored cluster's data directory")
            argv = pgbackrest.restore_argv(config(spec), pgdata=Path(render.POSTGRES_DATA), target_time=at,
                                           backup_set=chosen.label)
            self._one_off(image, [data, repo], POSTGRES_USER, argv[0], *argv[1:], timeout=RESTORE_TIMEOUT_S,
                          what=f"pgbackrest restore {spec.stanza}")
            # On the project's network: an engine's default bridge may be disabled (dockerd --bridge=none).
            engine.docker("create", "--name", container, *self._labels(spec), "--user", POSTGRES_USER,
                          "--network", f"{self.project}_default",
                          "--volume", data, "--volume", repo, "--publish",
                          f"127.0.0.1::{render.POSTGRES_PORT}", "--stop-signal", "SIGINT", image,
                          "postgres", "-c", "archive_mode=off")
            for attempt in (1, 2):
                engine.docker("start", container)
                if self._wait_promoted(copy) == "promoted":
                    return copy
                log = copy.log_tail(40)
                if attempt == 1 and at is not None and pgbackrest.END_BEFORE_TARGET in log:
                    # Every archived commit is older than the target: the end of the archive IS the
                    # state at the target. Replay to the end and promote.
                    self._one_off(image, [data], POSTGRES_USER, "sed", "-i", "/^[[:space:]]*recovery_target/d",
                                  f"{render.POSTGRES_DATA}/postgresql.auto.conf", what="the recovery target")
                    copy.reached_archive_end = True
                    continue
                raise PermanentError(f"restored cluster {container} stopped during recovery:\n{log}")
            raise PermanentError(f"restored cluster {container} did not finish recovery")  # pragma: no cover
        except BaseException:
            copy.stop(remove=True)
            raise

    @staticmethod
    def _wait_promoted(copy: ComposeScratch, *, timeout: float = RESTORE_TIMEOUT_S) -> Literal["promoted", "dead"]:
        outcome: list[Literal["promoted", "dead"]] = []

        def settled() -> bool:
            if not copy.running():
                outcome.append("dead")
                return True
            if not copy.port:
                copy.port = copy.published_port()
                if not copy.port:
                    return False
            try:
                with postgres.connect(copy.conn()) as conn:
                    row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
            except (TemporaryError, psycopg.OperationalError):
                return False
            if row is not None and row[0] is False:
                outcome.append("promoted")
                return True
            return False

        copy.port = 0  # published anew by each start
        if not wait_until(settled, timeout=timeout, interval=0.2):
            raise PermanentError(f"restored cluster {copy.container} still in recovery after {timeout:.0f} s:\n"
                                 f"{copy.log_tail()}")
        return outcome[-1]

    def scratch(self, spec: PitrSpec, *, at: dt.datetime | None, name: str) -> ScratchCluster:
        container = volume = self._scratch_name(name)
        self.discard(self.scratch_dir(spec, name))  # what a killed attempt of the same name left
        return self._restore(spec, at=at, container=container, volume=volume,
                             volume_labels={LABEL_SCRATCH: self.project, LABEL_CLUSTER: spec.name})

    def restore_cluster(self, spec: PitrSpec, *, at: dt.datetime | None, target: str) -> ScratchCluster:
        service = render.cluster_service(target)
        volume = f"{self.project}_{service}.data"
        if engine.volume_mountpoint(volume) is not None:
            raise UsageError(f"cluster {target} already exists: restore into a new cluster")
        # Labelled as compose labels its own: the project adopts it as the cluster's data volume.
        labels = {"com.docker.compose.project": self.project, "com.docker.compose.volume": f"{service}.data",
                  render.LABEL_ESTATE: self.estate_id or "estate", render.LABEL_TARGET: f"cluster {target}"}
        container = f"{self.project}-pitr-restore-{target}"
        engine.docker("rm", "--force", container, check=False)
        return self._restore(spec, at=at, container=container, volume=volume, volume_labels=labels)

    def adopt(self, copy: ScratchCluster, target: str) -> None:
        if not isinstance(copy, ComposeScratch):
            raise PermanentError(f"cluster {target}: not a copy the compose driver restored")
        copy.stop()
        copy.remove_container()  # its volume is the cluster's data now

    # -- leftovers ----------------------------------------------------------------------------------
    def discard(self, scratch_dir: Path) -> bool:
        container = volume = self._scratch_name(scratch_dir.name)
        found = engine.docker("ps", "--all", "--quiet", "--filter", f"name=^/{container}$", check=False).stdout.strip()
        if found:
            engine.docker("rm", "--force", container, timeout=120)
        engine.docker("volume", "rm", "--force", volume, check=False)
        return bool(found)

    def _remove_labelled(self, *filters: str) -> None:
        args = [flag for f in (f"{LABEL_SCRATCH}={self.project}", *filters) for flag in ("--filter", f"label={f}")]
        containers = engine.docker("ps", "--all", "--quiet", *args).stdout.split()
        if containers:
            engine.docker("rm", "--force", *containers, timeout=120)
        for volume in engine.docker("volume", "ls", "--quiet", *args).stdout.split():
            engine.docker("volume", "rm", "--force", volume, check=False)

    def remove(self, name: str) -> None:
        """The cluster's scratch copies and its repository volume."""
        self._remove_labelled(f"{LABEL_CLUSTER}={name}")
        engine.docker("volume", "rm", "--force", f"{self.project}_{render.pitr_volume(name)}", check=False)

    def remove_all(self) -> None:
        """Every scratch copy of the project (purge)."""
        self._remove_labelled()
