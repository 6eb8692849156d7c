"""The unprivileged system user Odoo runs as when Odooplane runs as root.

Odoo itself warns when started as root, and a process that serves the internet and executes
customer modules must not hold root's rights. PostgreSQL already runs as its own service user
(drivers/local/managed_pg.py); Odoo gets a separate one, so an Odoo process cannot read PostgreSQL's
data files either. Everything Odoo writes (its data_dir — filestore and sessions —, its log) lives
in directories owned by this user, mode 0700.
"""

from __future__ import annotations

import os
import pwd
import time
from dataclasses import dataclass
from pathlib import Path

from odooplane import execute
from odooplane.agent import tree
from odooplane.errors import CommandFailed

ODOO_USER = "odooplane-odoo"
RUNTIME_BASE = Path("/var/lib/odooplane")


@dataclass(frozen=True)
class ServiceUser:
    name: str
    uid: int
    gid: int


def odoo_user(*, create: bool = True) -> ServiceUser | None:
    """Return the user Odoo runs as: None when we are not root (Odoo runs as ourselves). Create the
    system user (no home, no login shell) if it does not exist and ``create`` is set."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(ODOO_USER)
    except KeyError:
        if not create:
            return None
        ensure_system_user(ODOO_USER, ["--user-group", "--home-dir", "/nonexistent"], what="the Odoo service user")
        entry = pwd.getpwnam(ODOO_USER)
    return ServiceUser(entry.pw_name, entry.pw_uid, entry.pw_gid)


def ensure_system_user(name: str, options: list[str], *, what: str, timeout: float = 30.0) -> None:
    """Create the system user ``name`` (no home, no login shell) unless it exists. Two processes
    doing it at once (two commands on a fresh host) both succeed: useradd refuses while the other
    holds /etc/passwd's lock or once it made the user, so a failure is retried until the user
    exists or ``timeout`` ends (then the last failure is raised)."""
    deadline = time.monotonic() + timeout
    while not _exists(name):
        try:
            execute.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", *options, name],
                        what=f"create {what}")
            return
        except CommandFailed as failed:
            if _exists(name):
                return
            if time.monotonic() > deadline:
                raise failed from None
            time.sleep(0.2)  # retry: another useradd holds the lock of /etc/passwd


def _exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def give(path: Path, user: ServiceUser | None, *, recursive: bool = False) -> None:
    """Make ``user`` own ``path`` (and, with ``recursive``, everything under it; symlinks are not
    followed). No-op when ``user`` is None or the path is gone."""
    tree.give(path, (user.uid, user.gid) if user else None, recursive=recursive)


def runtime_dir(data_dir: Path, *, estate_id: str) -> Path:
    """Where Odoo's own directories (environments, pools, templates, their logs) live.

    Not root: in the data directory. Root: the data directory is its owner's only (0700), so they
    live under /var/lib/odooplane/<estate id>/runtime, owned by the Odoo service user — unless an
    earlier version already put environments in the data directory (they stay there)."""
    if os.geteuid() != 0 or any((data_dir / name).is_dir() for name in ("envs", "pools")):
        return data_dir
    return RUNTIME_BASE / estate_id / "runtime"


def prepare_runtime(path: Path, user: ServiceUser | None) -> None:
    """Create the runtime directory for ``user``: its parents root-owned and traverse-only (0711),
    itself owned by the user, 0700."""
    if user is None:
        path.mkdir(parents=True, exist_ok=True)
        return
    for parent in reversed(path.parents):
        if str(parent).startswith(str(RUNTIME_BASE)) and not parent.exists():
            parent.mkdir(mode=0o711)
            parent.chmod(0o711)
    path.mkdir(mode=0o700, exist_ok=True)
    give(path, user)


def _allows(info: os.stat_result, user: ServiceUser, want: int) -> bool:
    """Whether ``user`` has the permission bits ``want`` (4 read, 2 write, 1 execute/traverse)."""
    if info.st_uid == user.uid:
        return bool((info.st_mode >> 6) & want == want)
    if info.st_gid == user.gid:
        return bool((info.st_mode >> 3) & want == want)
    return bool(info.st_mode & want == want)


def blocked(path: Path, user: ServiceUser | None, *, execute: bool = False) -> str | None:
    """Why ``user`` cannot read (with ``execute``: run) ``path``, following symlinks: the first
    directory it may not enter, or the file itself; None if it can (or there is no service user)."""
    if user is None:
        return None
    current = Path(path).absolute()
    seen = 0
    while True:
        for parent in reversed(current.parents):
            if not _allows(parent.stat(), user, 1):
                return f"{parent} is closed to it"
        if current.is_symlink() and seen < 40:
            seen += 1
            current = (current.parent / os.readlink(current)).absolute()
            continue
        break
    try:
        info = current.stat()
    except FileNotFoundError:
        return f"{current} does not exist"
    if not _allows(info, user, 5 if execute else 4):
        return f"it may not {'run' if execute else 'read'} {current}"
    return None


def check_runtime(base: tuple[str, ...], addons_path: tuple[str, ...], user: ServiceUser | None) -> None:
    """Raise ValueError naming what stops ``user`` from running an Odoo stack: its interpreter, its
    odoo-bin, or an addons directory it may not read (a directory under /root, a 0700 temp dir)."""
    check_can_run(base, user)
    for directory in addons_path:
        problem = blocked(Path(directory), user, execute=True)  # a directory: list and enter it
        if problem:
            raise ValueError(f"Odoo's service user {user.name if user else ''} cannot read the addons directory "
                             f"{directory}: {problem} (give it to that user, or make it readable by every user)")


def check_can_run(argv: list[str] | tuple[str, ...], user: ServiceUser | None) -> None:
    """Raise ValueError naming what stops ``user`` from running ``argv`` (the interpreter, and the
    script it is given, e.g. odoo-bin)."""
    if user is None or not argv:
        return
    problem = blocked(Path(argv[0]), user, execute=True)
    if problem is None and len(argv) > 1 and argv[1].endswith("odoo-bin"):
        problem = blocked(Path(argv[1]), user)
    if problem:
        raise ValueError(f"Odoo's service user {user.name} cannot run {argv[0]}: {problem} (install the stack's "
                         f"Python where every user may run it, e.g. a virtualenv made with /usr/bin/python3)")


def open_parents(path: Path) -> None:
    """Make every directory between /var/lib/odooplane and ``path`` (exclusive) exist and be
    traversable by the service users (0711: entered, never listed), whatever the umask."""
    for parent in reversed(path.parents):
        if parent != RUNTIME_BASE and not parent.is_relative_to(RUNTIME_BASE):
            continue
        if not parent.exists():
            parent.mkdir(mode=0o711)
        if parent.stat().st_uid == 0 and parent.stat().st_mode & 0o011 != 0o011:
            parent.chmod((parent.stat().st_mode & 0o7777) | 0o011)


# A managed cluster is initialised once this file is in its directory (drivers/local/managed_pg.py).
CLUSTER_INITIALISED_MARK = ".odooplane-initialised"


def legacy_clusters(data_dir: Path) -> list[Path]:
    """Managed clusters living inside the data directory (made by an earlier version as root, or
    by a non-root Odooplane)."""
    base = data_dir / "clusters"
    if os.geteuid() != 0 or not base.is_dir():
        return []
    return [p for p in base.iterdir() if (p / CLUSTER_INITIALISED_MARK).exists()]
