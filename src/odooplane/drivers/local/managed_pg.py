"""Managed PostgreSQL clusters: ``initdb`` into a directory of our own, a postgresql.conf
fragment, and the supervised ``postgres`` program. PostgreSQL refuses to run as root, so as root
the cluster runs as the ``postgres`` system user (or a dedicated ``odooplane`` user)."""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from odooplane import execute
from odooplane.errors import PermanentError
from odooplane.services import service_users
from odooplane.services.pg_binaries import PgBinaries

INITIALISED_MARK = service_users.CLUSTER_INITIALISED_MARK
legacy_clusters = service_users.legacy_clusters
SYSTEM_USER_FALLBACK = "odooplane"


def service_user() -> str | None:
    """Return the system user that runs managed clusters (None: ourselves, not root)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", SYSTEM_USER_FALLBACK):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    service_users.ensure_system_user(SYSTEM_USER_FALLBACK, [], what="the odooplane system user")
    return SYSTEM_USER_FALLBACK


def _traversable_by_others(path: Path) -> bool:
    for parent in [path, *path.parents]:
        if not parent.exists():
            continue
        if not parent.stat().st_mode & stat.S_IXOTH:
            return False
    return True


def cluster_dir(data_dir: Path, *, estate_id: str, name: str) -> Path:
    """Where a managed cluster lives: under the data directory, unless (as root) the service
    user could not reach it there — then under /var/lib/odooplane."""
    local = data_dir / "clusters" / name
    if os.geteuid() != 0 or (local / INITIALISED_MARK).exists() or _traversable_by_others(data_dir):
        return local  # (one made there by an earlier version stays there)
    return Path("/var/lib/odooplane") / estate_id / name


@dataclass(frozen=True)
class ClusterLayout:
    root: Path

    @property
    def pgdata(self) -> Path:
        return self.root / "pgdata"

    @property
    def run_dir(self) -> Path:
        return self.root / "run"

    @property
    def initialised(self) -> bool:
        return (self.root / INITIALISED_MARK).exists()


def _chown(path: Path, user: str | None) -> None:
    if user is None:
        return
    entry = pwd.getpwnam(user)
    os.chown(path, entry.pw_uid, entry.pw_gid)


def initdb(binaries: PgBinaries, layout: ClusterLayout, *, superuser_password: str, user: str | None) -> None:
    """Create the cluster. A directory left by an interrupted initdb is wiped first (it holds no data)."""
    if layout.initialised:
        return
    if layout.root.exists():
        shutil.rmtree(layout.root)
    if user is not None:
        service_users.open_parents(layout.root)
    layout.root.mkdir(parents=True, mode=0o700)
    layout.run_dir.mkdir(mode=0o700)
    _chown(layout.root, user)
    _chown(layout.run_dir, user)
    fd, pwfile = tempfile.mkstemp(prefix="pw", dir=layout.root)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(superuser_password + "\n")
        _chown(Path(pwfile), user)
        execute.run(
            [
                binaries.tool("initdb"),
                "-D",
                str(layout.pgdata),
                "-U",
                "postgres",
                f"--pwfile={pwfile}",
                "--auth-host=scram-sha-256",
                "--auth-local=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C",
            ],
            user=user,
            what="initdb",
            timeout=300,
        )
    finally:
        Path(pwfile).unlink(missing_ok=True)
    conf = layout.pgdata / "postgresql.conf"
    with open(conf, "a", encoding="utf-8") as out:
        out.write("\n# Odooplane manages the settings in this file:\ninclude_if_exists = 'odooplane.conf'\n")
    (layout.root / INITIALISED_MARK).write_text("ok\n")


def render_settings(*, port: int, run_dir: Path, extra: dict[str, str | int | bool]) -> str:
    """Return the odooplane.conf fragment (pure)."""
    settings: dict[str, str | int | bool] = {
        "listen_addresses": "127.0.0.1",
        "port": port,
        "unix_socket_directories": str(run_dir),
        "max_connections": 200,
        "logging_collector": False,
        "log_line_prefix": "%m [%p] %q%u@%d ",
        "wal_level": "replica",
        **extra,
    }
    lines = ["# Rendered by Odooplane: edits are overwritten by the next apply."]
    for key, value in sorted(settings.items()):
        if isinstance(value, bool):
            rendered = "on" if value else "off"
        elif isinstance(value, int):
            rendered = str(value)
        else:
            rendered = "'" + str(value).replace("'", "''") + "'"
        lines.append(f"{key} = {rendered}")
    return "\n".join(lines) + "\n"


def write_settings(layout: ClusterLayout, text: str, *, user: str | None) -> bool:
    path = layout.pgdata / "odooplane.conf"
    try:
        if path.read_text() == text:
            return False
    except FileNotFoundError:
        pass
    path.write_text(text)
    _chown(path, user)
    return True


def server_argv(binaries: PgBinaries, layout: ClusterLayout, *, user: str | None) -> tuple[str, ...]:
    """Return the ``postgres -D`` command line of the cluster (run in the foreground, supervised)."""
    if user is None and os.geteuid() == 0:
        raise PermanentError("PostgreSQL cannot run as root and no service user is available")
    return (binaries.tool("postgres"), "-D", str(layout.pgdata))
