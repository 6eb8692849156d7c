"""Point-in-time recovery (PITR) of managed PostgreSQL clusters with pgBackRest.

One stanza per managed cluster; its repository, logs, locks, spool directory and the rendered
``pgbackrest.conf`` all live under one directory we are given (for example
``<data_dir>/pitr/<cluster>``), owned by the service user. pgBackRest is always invoked with
``--config=<that file>``: nothing is read from or written to ``/etc``.

The flow for a cluster::

    cfg = config_for_cluster(layout, base_dir=..., stanza=..., port=..., binaries=..., password=...)
    prepare(cfg)                                      # directories + pgbackrest.conf
    managed_pg.render_settings(..., extra=archiving_settings(cfg))   # then restart the cluster
    stanza_create(cfg); check(cfg); backup(cfg, "full")
    restore_to_time(cfg, target_time=..., target_dir=..., port=...)  # a new, non-archiving copy

Authentication: pgBackRest reaches the cluster over the unix socket in its run directory as the
``postgres`` role; the password travels in ``PGPASSWORD`` (only for the commands that connect,
masked in logs and errors). pg_hba.conf is left exactly as initdb wrote it (scram everywhere).

Every command line is built by a pure function (``*_argv``) and run through
:func:`odooplane.execute.run` as the service user.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import pwd
import re
import shlex
import shutil
import stat
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Literal

import psycopg

from odooplane import execute
from odooplane.clock import wait_until
from odooplane.drivers.base import PitrBackup
from odooplane.drivers.local import managed_pg
from odooplane.errors import CommandFailed, PermanentError, TemporaryError
from odooplane.services import postgres as pg
from odooplane.services import service_users
from odooplane.services.pg_binaries import PgBinaries

logger = logging.getLogger(__name__)

BackupKind = Literal["full", "incr", "diff"]
BACKUP_KINDS: tuple[str, ...] = ("full", "incr", "diff")
MAX_ARCHIVE_TIMEOUT_S = 60
COMPRESS_TYPES = ("none", "gz", "bz2", "lz4", "zst")
RESTORE_LOG = "postgres.log"
_STANZA_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_WAL_SEGMENT_RE = re.compile(r"^[0-9A-F]{24}$")
END_BEFORE_TARGET = "recovery ended before configured recovery target was reached"

Setting = str | int | bool


# --------------------------------------------------------------------------------------------
# Configuration


@dataclass(frozen=True)
class RepoSettings:
    """Where backups and archived WAL go: ``repo1`` of the stanza.

    Only ``type="posix"`` (a directory on local disk) is implemented. An S3 repository would add
    its fields here (bucket, endpoint, region, uri style) and render them in :meth:`options`;
    its keys must then travel as ``PGBACKREST_REPO1_S3_KEY``/``_KEY_SECRET`` environment
    variables, never in the rendered file.
    """

    path: Path
    retention_full: int = 2
    type: Literal["posix"] = "posix"

    def options(self) -> dict[str, str]:
        """Return the ``repo1-*`` options of ``pgbackrest.conf`` (pure)."""
        return {
            "repo1-type": self.type,
            "repo1-path": str(self.path),
            "repo1-retention-full": str(self.retention_full),
        }


@dataclass(frozen=True)
class PgBackRestConfig:
    """Everything pgBackRest needs to know about one managed cluster and its repository.

    ``pg_password`` is the cluster's superuser password; it is never rendered into a file and is
    excluded from ``repr``. ``os_user`` is the system user pgBackRest runs as (the service user,
    None: ourselves). ``pgbackrest_bin`` is an absolute path: ``archive_command`` runs with the
    server's PATH, which may be minimal under a supervisor.
    """

    stanza: str
    base_dir: Path
    repo: RepoSettings
    log_path: Path
    lock_path: Path
    spool_path: Path
    pg_path: Path
    pg_port: int
    pg_socket_path: Path
    binaries: PgBinaries
    pg_user: str = "postgres"
    pg_password: str | None = field(default=None, repr=False, compare=False)
    os_user: str | None = None
    archive_timeout: int = MAX_ARCHIVE_TIMEOUT_S
    compress_type: str = "zst"
    process_max: int = 1
    pgbackrest_bin: str = "pgbackrest"
    # Where pgBackRest runs when not on this host: a command prefix (``docker exec --user postgres
    # <container>`` for a cluster in a container). Its paths are then that place's, not this host's.
    exec_prefix: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not _STANZA_RE.match(self.stanza):
            raise PermanentError(f"invalid pgBackRest stanza name {self.stanza!r} (letters, digits, '_', '.', '-')")
        if not 1 <= self.archive_timeout <= MAX_ARCHIVE_TIMEOUT_S:
            raise PermanentError(f"archive_timeout must be 1..{MAX_ARCHIVE_TIMEOUT_S} s, not {self.archive_timeout}")
        if self.repo.retention_full < 1:
            raise PermanentError("repo retention_full must be at least 1")
        if self.compress_type not in COMPRESS_TYPES:
            raise PermanentError(f"compress_type must be one of {', '.join(COMPRESS_TYPES)}")
        if self.process_max < 1:
            raise PermanentError("process_max must be at least 1")
        for path in (self.base_dir, self.repo.path, self.log_path, self.lock_path, self.spool_path, self.pg_path,
                     self.pg_socket_path):
            text = str(path)
            if not path.is_absolute() or "\n" in text or "%" in text:
                # '%' would be expanded by PostgreSQL inside archive_command.
                raise PermanentError(f"pgBackRest path must be absolute, without '%' or newlines: {text!r}")

    @property
    def config_file(self) -> Path:
        return self.base_dir / "pgbackrest.conf"


def find_pgbackrest() -> str:
    """Return the absolute path of the ``pgbackrest`` program; raise PermanentError if absent."""
    found = shutil.which("pgbackrest")
    if not found:
        raise PermanentError("pgbackrest not found (install the Debian package `pgbackrest`)")
    return str(Path(found).resolve())


def pitr_dir(data_dir: Path, *, estate_id: str, name: str) -> Path:
    """Where a managed cluster's PITR data lives: ``<data_dir>/pitr/<name>``, unless (as root)
    the service user could not reach it there; then ``/var/lib/odooplane/<estate_id>/pitr/<name>``
    (the same rule as :func:`managed_pg.cluster_dir`)."""
    local = data_dir / "pitr" / name
    if os.geteuid() != 0 or (_untraversable_parent(local) is None and _traversable(data_dir)):
        return local
    return Path("/var/lib/odooplane") / estate_id / "pitr" / name


def config_for_cluster(
    layout: managed_pg.ClusterLayout,
    *,
    base_dir: Path,
    stanza: str,
    port: int,
    binaries: PgBinaries,
    password: str | None,
    os_user: str | None,
    retention_full: int = 2,
    archive_timeout: int = MAX_ARCHIVE_TIMEOUT_S,
    compress_type: str = "zst",
    process_max: int = 1,
    pgbackrest_bin: str | None = None,
) -> PgBackRestConfig:
    """Return the configuration of a managed cluster whose PITR data lives under ``base_dir``
    (``repo/``, ``log/``, ``lock/``, ``spool/`` and ``pgbackrest.conf``). Pure, except that it
    looks up the pgbackrest program when ``pgbackrest_bin`` is None."""
    return PgBackRestConfig(
        stanza=stanza,
        base_dir=base_dir,
        repo=RepoSettings(path=base_dir / "repo", retention_full=retention_full),
        log_path=base_dir / "log",
        lock_path=base_dir / "lock",
        spool_path=base_dir / "spool",
        pg_path=layout.pgdata,
        pg_port=port,
        pg_socket_path=layout.run_dir,
        binaries=binaries,
        pg_password=password,
        os_user=os_user,
        archive_timeout=archive_timeout,
        compress_type=compress_type,
        process_max=process_max,
        pgbackrest_bin=pgbackrest_bin or find_pgbackrest(),
    )


def render_config(cfg: PgBackRestConfig) -> str:
    """Return the ``pgbackrest.conf`` (INI) of ``cfg`` (pure). Never contains a secret."""
    global_options: dict[str, str] = {
        **cfg.repo.options(),
        "log-path": str(cfg.log_path),
        "lock-path": str(cfg.lock_path),
        "spool-path": str(cfg.spool_path),
        "log-level-console": "warn",
        "log-level-stderr": "warn",
        "log-level-file": "info",
        "compress-type": cfg.compress_type,
        "process-max": str(cfg.process_max),
        "archive-async": "n",
    }
    stanza_options = {
        "pg1-path": str(cfg.pg_path),
        "pg1-port": str(cfg.pg_port),
        "pg1-socket-path": str(cfg.pg_socket_path),
        "pg1-user": cfg.pg_user,
    }
    lines = ["# Rendered by Odooplane: edits are overwritten by the next apply.", "[global]"]
    lines += [f"{key}={value}" for key, value in global_options.items()]
    lines += ["", f"[{cfg.stanza}]"]
    lines += [f"{key}={value}" for key, value in stanza_options.items()]
    return "\n".join(lines) + "\n"


def archive_command(cfg: PgBackRestConfig) -> str:
    """Return the ``archive_command`` that pushes WAL into the stanza (pure)."""
    return " ".join([
        shlex.quote(cfg.pgbackrest_bin),
        shlex.quote(f"--config={cfg.config_file}"),
        shlex.quote(f"--stanza={cfg.stanza}"),
        "archive-push",
        "%p",
    ])


def archiving_settings(cfg: PgBackRestConfig) -> dict[str, Setting]:
    """Return the postgresql.conf settings that make the cluster archive WAL into the stanza
    (pure). Merge them into ``managed_pg.render_settings(extra=...)``; ``archive_mode`` only
    takes effect after a restart."""
    return {
        "archive_mode": True,
        "archive_command": archive_command(cfg),
        "archive_timeout": cfg.archive_timeout,
        "wal_level": "replica",
        "max_wal_senders": 10,
    }


def _chown(path: Path, user: str | None) -> None:
    if user is None or os.geteuid() != 0:
        return
    entry = pwd.getpwnam(user)
    os.chown(path, entry.pw_uid, entry.pw_gid)


def _traversable(path: Path) -> bool:
    return not path.exists() or bool(path.stat().st_mode & stat.S_IXOTH)


def _untraversable_parent(path: Path) -> Path | None:
    for parent in path.parents:
        if parent.exists() and not parent.stat().st_mode & stat.S_IXOTH:
            return parent
    return None


def prepare(cfg: PgBackRestConfig) -> bool:
    """Create the base, repository, log, lock and spool directories (owned by the service user)
    and write ``pgbackrest.conf``. Idempotent; return True if the file changed. Call it before
    turning archiving on: ``archive_command`` reads that file.

    Raise PermanentError if, as root, the service user could not reach ``base_dir``.
    """
    if cfg.os_user is not None and os.geteuid() == 0:
        service_users.open_parents(cfg.base_dir)
        blocked = _untraversable_parent(cfg.base_dir)
        if blocked is not None:
            raise PermanentError(
                f"{cfg.base_dir}: the service user {cfg.os_user} cannot traverse {blocked}",
                hint="put the PITR directory under a world-traversable path (chmod o+x) such as /var/lib/odooplane",
            )
    for directory in (cfg.base_dir, cfg.repo.path, cfg.log_path, cfg.lock_path, cfg.spool_path):
        directory.mkdir(parents=True, exist_ok=True, mode=0o750)
        _chown(directory, cfg.os_user)
    text = render_config(cfg)
    path = cfg.config_file
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except FileNotFoundError:
        pass
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.chmod(0o640)
    _chown(tmp, cfg.os_user)
    tmp.replace(path)
    return True


# --------------------------------------------------------------------------------------------
# Command lines (pure)


def base_argv(cfg: PgBackRestConfig) -> list[str]:
    """Return ``pgbackrest --config=… --stanza=…`` (pure)."""
    return [cfg.pgbackrest_bin, f"--config={cfg.config_file}", f"--stanza={cfg.stanza}"]


def stanza_create_argv(cfg: PgBackRestConfig) -> list[str]:
    return [*base_argv(cfg), "stanza-create"]


def check_argv(cfg: PgBackRestConfig) -> list[str]:
    return [*base_argv(cfg), "check"]


def backup_argv(cfg: PgBackRestConfig, kind: BackupKind, *, start_fast: bool = True) -> list[str]:
    """Return the backup command line; ``start_fast`` asks for an immediate checkpoint."""
    if kind not in BACKUP_KINDS:
        raise PermanentError(f"backup kind must be one of {', '.join(BACKUP_KINDS)}, not {kind!r}")
    argv = [*base_argv(cfg), f"--type={kind}"]
    if start_fast:
        argv.append("--start-fast")
    return [*argv, "backup"]


def info_argv(cfg: PgBackRestConfig) -> list[str]:
    return [*base_argv(cfg), "--output=json", "info"]


def repo_ls_argv(cfg: PgBackRestConfig, path: str, *, filter_re: str | None = None) -> list[str]:
    """Return ``repo-ls --output=json`` of a path relative to the repository (pure)."""
    argv = [*base_argv(cfg), "--output=json"]
    if filter_re is not None:
        argv.append(f"--filter={filter_re}")
    return [*argv, "repo-ls", path]


def format_target_time(when: dt.datetime) -> str:
    """Return ``when`` as a recovery target both PostgreSQL and pgBackRest parse, in UTC with
    microseconds (``2024-05-01 12:00:00.123456+00``). Raise PermanentError for a naive time."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise PermanentError("a recovery target time must be timezone-aware")
    return when.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f") + "+00"


def restore_argv(
    cfg: PgBackRestConfig, *, pgdata: Path, target_time: dt.datetime | None, backup_set: str | None
) -> list[str]:
    """Return the restore command line into ``pgdata`` (pure).

    With a target time: ``--type=time --target=… --target-action=promote``; without: replay
    the whole archive (``--type=default``) and promote at its end. Always ``--archive-mode=off``.
    """
    argv = [*base_argv(cfg), f"--pg1-path={pgdata}", "--archive-mode=off"]
    if backup_set is not None:
        argv.append(f"--set={backup_set}")
    if target_time is None:
        argv.append("--type=default")
    else:
        argv += ["--type=time", f"--target={format_target_time(target_time)}", "--target-action=promote"]
    return [*argv, "restore"]


def pg_ctl_start_argv(binaries: PgBinaries, pgdata: Path, log_file: Path, *, timeout_s: int) -> list[str]:
    return [binaries.tool("pg_ctl"), "-D", str(pgdata), "-l", str(log_file), "-w", "-t", str(timeout_s), "start"]


def pg_ctl_stop_argv(binaries: PgBinaries, pgdata: Path, *, timeout_s: int = 60) -> list[str]:
    return [binaries.tool("pg_ctl"), "-D", str(pgdata), "-m", "fast", "-w", "-t", str(timeout_s), "stop"]


def pg_ctl_status_argv(binaries: PgBinaries, pgdata: Path) -> list[str]:
    return [binaries.tool("pg_ctl"), "-D", str(pgdata), "status"]


def _run(
    cfg: PgBackRestConfig, argv: Sequence[str], *, what: str, timeout: float | None, needs_db: bool = False,
    check: bool = True,
) -> execute.Result:
    env: dict[str, str] = {}
    if needs_db and cfg.pg_password:
        env["PGPASSWORD"] = cfg.pg_password
    inside = bool(cfg.exec_prefix)
    return execute.run(
        [*cfg.exec_prefix, *argv],
        env=env,
        cwd=None if inside else cfg.base_dir,
        secrets=[cfg.pg_password] if cfg.pg_password else [],
        timeout=timeout,
        user=None if inside else cfg.os_user,
        check=check,
        what=what,
    )


# --------------------------------------------------------------------------------------------
# Stanza, check, backup, info


def stanza_create(cfg: PgBackRestConfig, *, timeout: float = 120) -> None:
    """Write the config (:func:`prepare`; with ``exec_prefix`` the caller has written it where
    pgBackRest runs) and create the stanza from the running cluster. Idempotent (pgBackRest
    accepts an existing stanza of the same cluster). Raise CommandFailed if the cluster is down or
    the repository belongs to another cluster."""
    if not cfg.exec_prefix:
        prepare(cfg)
    _run(cfg, stanza_create_argv(cfg), what=f"pgbackrest stanza-create {cfg.stanza}", timeout=timeout, needs_db=True)


def check(cfg: PgBackRestConfig, *, timeout: float = 180) -> None:
    """Verify that the cluster archives into the stanza: pgBackRest switches WAL and waits for
    the segment to reach the repository. Raise CommandFailed (with pgBackRest's message) if not."""
    _run(cfg, check_argv(cfg), what=f"pgbackrest check {cfg.stanza}", timeout=timeout, needs_db=True)


BackupInfo = PitrBackup


@dataclass(frozen=True)
class StanzaInfo:
    """``pgbackrest info`` of one stanza: its backups (oldest first) and the WAL range of the
    current archive (``archive_id`` such as ``15-1``; None when nothing is archived)."""

    stanza: str
    status_code: int
    status_message: str
    backups: tuple[BackupInfo, ...]
    archive_id: str | None
    wal_min: str | None
    wal_max: str | None


def _epoch(value: object) -> dt.datetime:
    seconds = value if isinstance(value, int | float) else 0
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


def _dict(value: object) -> dict[str, object]:
    return value if isinstance(value, dict) else {}


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: object) -> int:
    return value if isinstance(value, int) else 0


def parse_backup(entry: Mapping[str, object]) -> BackupInfo:
    """Return the BackupInfo of one element of ``info --output=json``'s ``backup`` list (pure)."""
    timestamp = _dict(entry.get("timestamp"))
    archive = _dict(entry.get("archive"))
    lsn = _dict(entry.get("lsn"))
    info_block = _dict(entry.get("info"))
    repository = _dict(info_block.get("repository"))
    return BackupInfo(
        label=str(entry.get("label")),
        kind=str(entry.get("type")),
        started_at=_epoch(timestamp.get("start", 0)),
        stopped_at=_epoch(timestamp.get("stop", 0)),
        wal_start=_opt_str(archive.get("start")),
        wal_stop=_opt_str(archive.get("stop")),
        lsn_start=_opt_str(lsn.get("start")),
        lsn_stop=_opt_str(lsn.get("stop")),
        size=_int(info_block.get("size")),
        delta=_int(info_block.get("delta")),
        repo_size=_int(repository.get("size")),
        repo_delta=_int(repository.get("delta")),
        prior=_opt_str(entry.get("prior")),
        error=bool(entry.get("error", False)),
    )


def parse_info(text: str, stanza: str) -> StanzaInfo:
    """Parse ``pgbackrest info --output=json`` and return the given stanza's part (pure).
    A stanza that does not exist yet comes back with its status and no backups."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PermanentError(f"pgbackrest info returned invalid JSON: {exc}") from exc
    entries = [e for e in data if isinstance(e, dict) and e.get("name") == stanza] if isinstance(data, list) else []
    if not entries:
        return StanzaInfo(stanza, -1, "stanza not reported", (), None, None, None)
    entry = entries[0]
    status = _dict(entry.get("status"))
    backups = tuple(parse_backup(b) for b in entry.get("backup", []) if isinstance(b, dict))
    archives = [a for a in entry.get("archive", []) if isinstance(a, dict)]
    # The last archive entry belongs to the current database (history id); a pg upgrade adds one.
    current = archives[-1] if archives else {}
    return StanzaInfo(
        stanza=stanza,
        status_code=_int(status.get("code")),
        status_message=str(status.get("message", "")),
        backups=tuple(sorted(backups, key=lambda b: (b.started_at, b.label))),
        archive_id=_opt_str(current.get("id")),
        wal_min=_opt_str(current.get("min")),
        wal_max=_opt_str(current.get("max")),
    )


def stanza_info(cfg: PgBackRestConfig, *, timeout: float = 60) -> StanzaInfo:
    """Return what the repository holds for the stanza (no database connection needed)."""
    result = _run(cfg, info_argv(cfg), what=f"pgbackrest info {cfg.stanza}", timeout=timeout)
    return parse_info(result.stdout, cfg.stanza)


def info(cfg: PgBackRestConfig) -> list[BackupInfo]:
    """Return the stanza's backup sets, oldest first (empty before the first backup)."""
    return list(stanza_info(cfg).backups)


def backup(cfg: PgBackRestConfig, kind: BackupKind = "full", *, timeout: float | None = 6 * 3600) -> BackupInfo:
    """Take a backup of ``kind`` (with an immediate checkpoint) and return it.

    pgBackRest turns an ``incr``/``diff`` into a ``full`` when no full backup exists yet, then
    expires sets beyond the repository's ``retention_full`` (with the WAL they alone needed).
    Raise CommandFailed if the backup fails (e.g. its WAL did not reach the archive in time).
    """
    before = {b.label for b in info(cfg)}
    _run(cfg, backup_argv(cfg, kind), what=f"pgbackrest backup {cfg.stanza} ({kind})", timeout=timeout,
         needs_db=True)
    new = [b for b in info(cfg) if b.label not in before]
    if not new:
        raise PermanentError(f"pgbackrest backup {cfg.stanza}: no new backup set in the repository")
    return new[-1]


# --------------------------------------------------------------------------------------------
# Archive contents


def _repo_ls(cfg: PgBackRestConfig, path: str, *, filter_re: str | None = None) -> dict[str, dict[str, object]]:
    result = _run(cfg, repo_ls_argv(cfg, path, filter_re=filter_re), what=f"pgbackrest repo-ls {path}", timeout=60)
    try:
        data = json.loads(result.stdout or "{}")
    except json.JSONDecodeError as exc:
        raise PermanentError(f"pgbackrest repo-ls returned invalid JSON: {exc}") from exc
    if not isinstance(data, dict):
        return {}
    return {str(name): entry for name, entry in data.items() if isinstance(entry, dict)}


def _segment_files(cfg: PgBackRestConfig, archive_id: str, segment: str) -> dict[str, dict[str, object]]:
    if not _WAL_SEGMENT_RE.match(segment):
        raise PermanentError(f"not a WAL segment name: {segment!r}")
    listing = _repo_ls(cfg, f"archive/{cfg.stanza}/{archive_id}/{segment[:16]}", filter_re=f"^{segment}-")
    return {name: entry for name, entry in listing.items() if entry.get("type") == "file"}


def wal_archived(cfg: PgBackRestConfig, segment: str, *, archive_id: str | None = None) -> bool:
    """Return True if WAL ``segment`` (24 hex digits, e.g. from ``pg_walfile_name()``) is in
    the repository. ``archive_id`` defaults to the stanza's current archive."""
    if archive_id is None:
        archive_id = stanza_info(cfg).archive_id
        if archive_id is None:
            return False
    return bool(_segment_files(cfg, archive_id, segment))


def latest_restorable(cfg: PgBackRestConfig) -> dt.datetime | None:
    """Return (approximately, UTC) the newest point the stanza can be restored to, or None
    when it holds no backup.

    pgBackRest does not report a time for archived WAL, so this is the later of the newest
    backup's stop time and the time the newest archived segment (``info``'s archive max) was
    written into the repository (file mtime; whole seconds from ``repo-ls`` for non-posix
    repositories). The segment is written just after PostgreSQL closed it, so the result
    overestimates by the archive-push latency (tens of milliseconds): a commit made
    between the segment switch and that write is not yet restorable. Restoring to a time after
    the last archived commit yields everything archived (see :func:`restore_to_time`).
    """
    si = stanza_info(cfg)
    good = [b for b in si.backups if not b.error]
    if not good:
        return None
    points = [good[-1].stopped_at]
    if si.archive_id and si.wal_max:
        oldest_start = min((b.wal_start for b in good if b.wal_start), default=None)
        if oldest_start is None or si.wal_max[8:] >= oldest_start[8:]:
            for name, entry in _segment_files(cfg, si.archive_id, si.wal_max).items():
                written = _written_at(cfg, f"archive/{cfg.stanza}/{si.archive_id}/{si.wal_max[:16]}/{name}", entry)
                if written is not None:
                    points.append(written)
    return max(points)


def _written_at(cfg: PgBackRestConfig, repo_relative: str, entry: Mapping[str, object]) -> dt.datetime | None:
    """Return when a repository file was written: its mtime to the microsecond for a posix
    repository, else the whole second ``repo-ls`` reports."""
    if cfg.repo.type == "posix" and cfg.exec_prefix:
        found = execute.run([*cfg.exec_prefix, "stat", "--format=%.6Y", str(cfg.repo.path / repo_relative)],
                            check=False, timeout=60, what="stat of an archived WAL segment")
        try:
            return dt.datetime.fromtimestamp(float(found.stdout.strip()), dt.UTC)
        except ValueError:
            pass
    elif cfg.repo.type == "posix":
        try:
            return dt.datetime.fromtimestamp((cfg.repo.path / repo_relative).stat().st_mtime, dt.UTC)
        except OSError:
            pass
    seconds = entry.get("time")
    return dt.datetime.fromtimestamp(seconds, dt.UTC) if isinstance(seconds, int) else None


# --------------------------------------------------------------------------------------------
# Restore


@dataclass
class RestoredCluster:
    """A running copy restored from the stanza: a managed-style layout (``pgdata``, ``run``)
    listening on 127.0.0.1:``port``, never archiving. ``password`` is the source cluster's
    superuser password (the copy keeps it). ``reached_archive_end`` is True when the target
    time lay after the last archived commit, so the copy holds everything archived."""

    layout: managed_pg.ClusterLayout
    port: int
    binaries: PgBinaries
    os_user: str | None
    backup_label: str
    target_time: dt.datetime | None
    reached_archive_end: bool
    host: str = "127.0.0.1"
    user: str = "postgres"
    password: str | None = field(default=None, repr=False)

    @property
    def log_file(self) -> Path:
        return self.layout.root / RESTORE_LOG

    def conn(self, dbname: str = "postgres") -> pg.ClusterConn:
        """Return connection parameters (TCP, password auth) for :func:`postgres.connect`."""
        return pg.ClusterConn(name=f"restored:{self.layout.root.name}", host=self.host, port=self.port,
                              user=self.user, password=self.password, dbname=dbname)

    def running(self) -> bool:
        """Return True if the copy's postmaster is running (``pg_ctl status``)."""
        return _server_running(self.binaries, self.layout.pgdata, self.os_user)

    def stop(self, *, remove: bool = False) -> None:
        """Stop the copy (``pg_ctl stop -m fast``) if it runs; with ``remove``, delete its
        directory too. Idempotent. Raise CommandFailed if the server refuses to stop."""
        if self.layout.pgdata.exists() and self.running():
            execute.run(pg_ctl_stop_argv(self.binaries, self.layout.pgdata), user=self.os_user, cwd=self.layout.root,
                        what=f"stop restored cluster {self.layout.root}", timeout=120)
        if remove:
            shutil.rmtree(self.layout.root, ignore_errors=True)

    def __enter__(self) -> RestoredCluster:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop(remove=True)


def _server_running(binaries: PgBinaries, pgdata: Path, os_user: str | None) -> bool:
    result = execute.run(pg_ctl_status_argv(binaries, pgdata), user=os_user, check=False, timeout=30,
                         cwd=pgdata.parent, what="pg_ctl status")
    return result.returncode == 0


def choose_backup(backups: Sequence[BackupInfo], target_time: dt.datetime | None) -> BackupInfo:
    """Return the backup set to restore for ``target_time`` (pure): the newest set that surely
    ended before it (pgBackRest stop times are whole seconds), else the newest that ended in the
    same second, else raise PermanentError (the target predates every backup). Without a target,
    the newest set."""
    good = [b for b in backups if not b.error]
    if not good:
        raise PermanentError("the stanza has no backup to restore from")
    if target_time is None:
        return good[-1]
    one_second = dt.timedelta(seconds=1)
    for candidate in reversed(good):
        if candidate.stopped_at + one_second <= target_time:
            return candidate
    for candidate in reversed(good):
        if candidate.stopped_at <= target_time:
            return candidate
    raise PermanentError(
        f"cannot restore to {format_target_time(target_time)}: the oldest backup "
        f"({good[0].label}) ended at {good[0].stopped_at.isoformat()}"
    )


def restored_settings(extra: Mapping[str, Setting] | None = None) -> dict[str, Setting]:
    """Return the odooplane.conf extras of a restored copy (pure): ``extra`` (e.g. the source's
    memory settings) with archiving forced off, whatever ``extra`` says."""
    return {**(extra or {}), "archive_mode": False, "archive_command": ""}


def _drop_recovery_target(pgdata: Path) -> None:
    """Remove the ``recovery_target*`` lines pgBackRest wrote to postgresql.auto.conf, so that a
    restart replays to the end of the archive and promotes."""
    auto = pgdata / "postgresql.auto.conf"
    lines = auto.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in lines if not line.lstrip().startswith("recovery_target")]
    auto.write_text("".join(kept), encoding="utf-8")


def _log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"


def _wait_promoted(copy: RestoredCluster, *, timeout: float) -> Literal["promoted", "dead"]:
    """Poll until the copy accepts connections and is out of recovery ("promoted"), or its
    postmaster is gone ("dead"). Raise PermanentError after ``timeout`` s."""
    outcome: list[Literal["promoted", "dead"]] = []

    def settled() -> bool:
        try:
            with pg.connect(copy.conn()) as conn:
                try:
                    row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
                except psycopg.OperationalError as exc:
                    # The server accepted the connection, then went away (recovery ending short
                    # of its target shuts the postmaster down): the same as refusing it.
                    raise TemporaryError(f"restored cluster {copy.layout.root} closed the connection") from exc
            if row is not None and row[0] is False:
                outcome.append("promoted")
                return True
            return False
        except TemporaryError:
            if not copy.running():
                outcome.append("dead")
                return True
            return False

    if not wait_until(settled, timeout=timeout, interval=0.1):
        raise PermanentError(
            f"restored cluster {copy.layout.root} still in recovery after {timeout:.0f} s:\n{_log_tail(copy.log_file)}"
        )
    return outcome[-1]


def restore_to_time(
    cfg: PgBackRestConfig,
    *,
    target_time: dt.datetime | None,
    target_dir: Path,
    port: int,
    settings: Mapping[str, Setting] | None = None,
    timeout: float = 1800,
) -> RestoredCluster:
    """Restore the stanza into a NEW cluster under ``target_dir`` and return it running.

    ``target_dir`` becomes a managed-style layout root (``pgdata/``, ``run/``,
    ``postgres.log``); it must not exist or be empty. With ``target_time`` (timezone-aware) the
    copy holds exactly the transactions committed up to it (``--type=time``, inclusive, then
    promote); without, everything archived (``--type=default``). The copy listens on
    127.0.0.1:``port`` and never archives (``archive_mode=off``): it must not push WAL into the
    source's stanza. ``settings`` are extra postgresql.conf settings for the copy.

    Returns once the copy accepts connections and ``pg_is_in_recovery()`` is false. Raise
    PermanentError if the target predates every backup, the directory is in use, or the copy
    fails to start or recover (the message carries the server log tail); on failure the copy is
    stopped and ``target_dir`` removed.
    """
    if port == cfg.pg_port:
        raise PermanentError(f"restored cluster port {port} is the source cluster's port")
    if target_time is not None:
        format_target_time(target_time)  # rejects a naive time
    if target_dir.exists() and any(target_dir.iterdir()):
        raise PermanentError(f"restore target {target_dir} exists and is not empty")
    chosen = choose_backup(info(cfg), target_time)
    layout = managed_pg.ClusterLayout(target_dir)
    # Directories made here on the way (e.g. ``scratch/``) belong to the service user too: the
    # umask (077) would otherwise leave it unable to enter them.
    made = [p for p in reversed(target_dir.parents) if not p.exists()]
    for directory in (*made, layout.root, layout.pgdata, layout.run_dir):
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        _chown(directory, cfg.os_user)
    copy = RestoredCluster(layout=layout, port=port, binaries=cfg.binaries, os_user=cfg.os_user,
                           backup_label=chosen.label, target_time=target_time, reached_archive_end=False,
                           user=cfg.pg_user, password=cfg.pg_password)
    try:
        t0 = time.monotonic()
        _run(cfg, restore_argv(cfg, pgdata=layout.pgdata, target_time=target_time, backup_set=chosen.label),
             what=f"pgbackrest restore {cfg.stanza} into {layout.pgdata}", timeout=timeout)
        logger.info("restore %s: backup %s copied into %s in %.2f s", cfg.stanza, chosen.label, layout.pgdata,
                    time.monotonic() - t0)
        text = managed_pg.render_settings(port=port, run_dir=layout.run_dir,
                                          extra=restored_settings(settings))
        managed_pg.write_settings(layout, text, user=cfg.os_user)
        started = time.monotonic()
        for attempt in (1, 2):
            remaining = max(timeout - (time.monotonic() - started), 10.0)
            try:
                execute.run(pg_ctl_start_argv(cfg.binaries, layout.pgdata, copy.log_file, timeout_s=int(remaining)),
                            user=cfg.os_user, cwd=layout.root, timeout=remaining + 30,
                            what=f"start restored cluster {layout.root}")
            except CommandFailed as exc:
                if copy.running():
                    raise PermanentError(f"{exc}:\n{_log_tail(copy.log_file)}") from exc
                state: Literal["promoted", "dead"] = "dead"
            else:
                state = _wait_promoted(copy, timeout=remaining)
            if state == "promoted":
                logger.info("restore %s: recovered and promoted on port %d in %.2f s", cfg.stanza, port,
                            time.monotonic() - started)
                return copy
            log = _log_tail(copy.log_file, 40)
            if attempt == 1 and target_time is not None and END_BEFORE_TARGET in log:
                # Every archived commit is older than the target: the end of the archive IS the
                # state at the target. Replay to the end and promote.
                logger.info("restore %s: target after the last archived commit; replaying the whole archive",
                            cfg.stanza)
                _drop_recovery_target(layout.pgdata)
                copy.reached_archive_end = True
                continue
            raise PermanentError(f"restored cluster {layout.root} stopped during recovery:\n{_log_tail(copy.log_file)}")
        raise PermanentError(f"restored cluster {layout.root} did not finish recovery")  # pragma: no cover
    except BaseException:
        try:
            copy.stop(remove=True)
        except PermanentError:
            logger.warning("could not stop the failed restore in %s", layout.root)
        raise
