"""pg_dump, pg_restore and psql command lines (pure) and the choice of client binaries: the
newest major version found, since a client can dump any older server but no newer one.

SQL from a dump never goes through psql, which would honour its backslash meta-commands (a
shell, files): plain SQL is loaded by :mod:`odooplane.services.sql_load`."""

from __future__ import annotations

import re
from pathlib import Path

from odooplane.services.pg_binaries import candidates
from odooplane.services.postgres import ClusterConn

_SNAPSHOT = re.compile(r"[0-9A-F]{8}-[0-9A-F]{8}-[0-9]{1,10}")  # pg_export_snapshot(): e.g. 00000003-0000001B-1


def client(name: str) -> str:
    """The newest ``name`` (pg_dump, pg_restore, psql) among the known PostgreSQL installations."""
    import shutil
    import subprocess

    from odooplane.errors import PermanentError

    best: tuple[int, str] | None = None
    seen = {str(d / name) for d, _ in candidates() if (d / name).is_file()}
    on_path = shutil.which(name)
    if on_path:
        seen.add(on_path)
    for path in seen:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, check=False).stdout
        digits = [t for t in out.split() if t[:1].isdigit()]
        major = int(digits[0].split(".")[0]) if digits else 0
        if best is None or major > best[0]:
            best = (major, path)
    if best is None:
        raise PermanentError(f"{name} not found (install postgresql-client or `pip install pgserver`)")
    return best[1]


def _conn_args(conn: ClusterConn) -> list[str]:
    return ["-h", conn.host, "-p", str(conn.port), "-U", conn.user]


def env(conn: ClusterConn) -> dict[str, str]:
    return {"PGPASSWORD": conn.password} if conn.password else {}


def dump_argv(tool: str, conn: ClusterConn, *, database: str, out_dir: Path, jobs: int = 2,
              snapshot: str | None = None) -> list[str]:
    """Directory format, uncompressed: unchanged tables give identical files that the backup
    repository deduplicates (a compressed dump would defeat it). ``snapshot``: an exported
    snapshot (``pg_export_snapshot()``) the dump reads, so it sees what that transaction sees."""
    if snapshot is not None and not _SNAPSHOT.fullmatch(snapshot):
        raise ValueError(f"not an exported snapshot id: {snapshot!r}")
    return [
        tool,
        *_conn_args(conn),
        "--format=directory",
        "--compress=0",
        f"--jobs={jobs}",
        *([f"--snapshot={snapshot}"] if snapshot else []),
        "--no-password",
        f"--file={out_dir}",
        database,
    ]


def restore_argv(tool: str, role_conn: ClusterConn, *, database: str, dump_dir: Path, jobs: int = 2) -> list[str]:
    """Stop at the first error (Odoo's own restore ignores them and reports success), and give every
    object to the role connecting, whatever the dump says.

    ``role_conn`` is the database's own (ordinary) role, never an administrator with ``--role``: an
    archive's SQL could ``RESET ROLE`` back to the administrator, but not out of a login role."""
    return [
        tool,
        *_conn_args(role_conn),
        f"--dbname={database}",
        "--exit-on-error",
        "--no-owner",
        "--no-privileges",
        f"--jobs={jobs}",
        "--no-password",
        str(dump_dir),
    ]


def plain_dump_argv(tool: str, conn: ClusterConn, *, database: str, out_file: Path) -> list[str]:
    """A plain SQL dump without owners, as Odoo's database manager writes ``dump.sql``."""
    return [
        tool,
        *_conn_args(conn),
        "--format=plain",
        "--no-owner",
        "--no-privileges",
        "--no-password",
        f"--file={out_file}",
        database,
    ]


def psql_argv(tool: str, conn: ClusterConn, *, database: str, extra: list[str] | tuple[str, ...] = ()) -> list[str]:
    """An interactive (or ``-c``/``-f``) psql session as ``conn``'s user; the password goes in the
    child's environment (:func:`env`), never on the command line."""
    return [tool, *_conn_args(conn), f"--dbname={database}", *extra]
