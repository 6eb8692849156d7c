"""Restoring a backup somewhere safe: fetch a snapshot from the repository, check every artifact
against the manifest, and load the dump into a database of its own with PostgreSQL stopping at the
first error. Used by verification, restores and drills."""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import shutil
import stat
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from odooplane import faults
from odooplane.drivers.base import Databases, FilestoreCheck, FilestoreRef, OdooWorkload
from odooplane.errors import CommandFailed, PermanentError
from odooplane.estate.resolve import DesiredEnvironment
from odooplane.operations import temporaries
from odooplane.operations.backups import MANIFEST, sha256_file
from odooplane.operations.context import Context
from odooplane.operations.desired import stack_ref
from odooplane.render import odoo_conf
from odooplane.services import odoo, odoo_db, passwords, postgres, restic
from odooplane.services.postgres import ClusterConn


@dataclass
class Restored:
    """A backup fetched to local disk: the stage as it was backed up, and its manifest."""

    root: Path  # the restored stage: dump/, filestore/, manifest.json
    manifest: dict[str, Any]
    snapshot: str
    repository: str


@dataclass
class Checks:
    """Findings of a restore check; ``failures`` empty means everything matched."""

    failures: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failures


def fetch(repo: restic.Repository, snapshot: restic.Snapshot, into: Path) -> Restored:
    """Restore ``snapshot`` under ``into``; raise PermanentError if its manifest is missing."""
    if into.exists():
        shutil.rmtree(into)
    into.mkdir(parents=True)
    restic.restore(repo, snapshot.id, into)
    owner_only(into)  # restic restores the modes the paths had (the stage's parents: /tmp is 1777)
    for path in snapshot.paths:
        candidate = into / path.lstrip("/")
        if (candidate / MANIFEST).is_file():
            return Restored(candidate, json.loads((candidate / MANIFEST).read_text()), snapshot.short_id, repo.name)
    raise PermanentError(f"snapshot {snapshot.short_id} in {repo.name} has no {MANIFEST}: not an Odooplane backup")


def owner_only(root: Path) -> None:
    """Take every group and other permission bit off ``root`` and everything under it."""
    for directory, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            path = Path(directory) / name
            mode = path.lstat().st_mode
            if not stat.S_ISLNK(mode) and mode & 0o077:
                path.chmod(stat.S_IMODE(mode) & 0o700)
    root.chmod(0o700)


ArtifactPart = Literal["all", "database", "filestore"]


def check_artifacts(restored: Restored, part: ArtifactPart = "all") -> Checks:
    """Every artifact the manifest lists (of ``part``: the dump and other files, or the filestore)
    is present with the same SHA-256, hashed on every core (hashlib releases the GIL)."""
    checks = Checks()
    listed = {relative: digest for relative, digest in dict(restored.manifest.get("artifacts", {})).items()
              if part == "all" or (part == "filestore") == relative.startswith("filestore/")}

    def problem(item: tuple[str, str]) -> str | None:
        relative, digest = item
        path = restored.root / relative
        if not path.is_file():
            return f"{relative} missing"
        return None if sha256_file(path) == digest else f"{relative} differs from its checksum"

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        bad = [found for found in pool.map(problem, sorted(listed.items())) if found]
    if bad:
        checks.failures.append(f"{len(bad)} artifact(s) do not match the manifest: {', '.join(bad[:5])}")
    checks.details["artifacts_checked"] = len(listed)
    return checks


@contextmanager
def filestore_checked_meanwhile(restored: Restored) -> Iterator[Callable[[], Checks]]:
    """Hash the filestore's artifacts in the background for the block; what it yields waits for the
    result (call it before the restored filestore is moved or trusted)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(check_artifacts, restored, "filestore")
        yield future.result


def create_scratch(cluster: ClusterConn, *, database: str, role: str, password: str, comment: str) -> None:
    postgres.ensure_role(cluster, role=role, password=password, comment=comment)
    with postgres.connect(cluster) as conn:
        from psycopg import sql

        conn.execute(sql.SQL("CREATE DATABASE {} OWNER {} ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' "
                             "TEMPLATE template0").format(sql.Identifier(database), sql.Identifier(role)))
        conn.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(database), sql.Literal(comment)))


def load_dump(databases: Databases, cluster: ClusterConn, restored: Restored, *, database: str, role: str,
              password: str) -> None:
    """pg_restore into ``database`` connected as ``role`` (its owner, an ordinary role: never the
    administrator, so nothing in the archive can act beyond that role), stopping at the first error."""
    as_role = dataclasses.replace(cluster, user=role, password=password)
    try:
        databases.restore(as_role, database, restored.root / "dump")
    except CommandFailed as exc:  # the first error says why; the last is often "a worker process died"
        first = next((ln for ln in exc.stderr_tail.splitlines() if "error:" in ln), None)
        if first is None:
            raise
        raise PermanentError(f"pg_restore as {role}: {first.removeprefix('pg_restore: error: ')}") from exc


class FilestoreChecker(Protocol):
    """What checks a filestore's files against their attachments (a driver's Storage, or a
    directory where a backup was restored)."""

    def check(self, ref: FilestoreRef, attachments: list[tuple[str, str]]) -> FilestoreCheck:
        ...


def check_database(storage: FilestoreChecker, cluster: ClusterConn, database: str, restored: Restored,
                   filestore: FilestoreRef) -> Checks:
    """Row counts equal the manifest's, every stored attachment is in ``filestore`` with its sha1
    (checked where the filestore lives), the installed modules are the manifest's."""
    checks = check_facts(cluster, database, restored)
    files = check_attachments(storage, cluster, database, filestore)
    checks.failures += files.failures
    checks.details.update(files.details)
    return checks


def check_attachments(storage: FilestoreChecker, cluster: ClusterConn, database: str,
                      filestore: FilestoreRef) -> Checks:
    """Every attachment ``database`` keeps in the filestore is in ``filestore`` with its sha1."""
    checks = Checks()
    attachments = odoo_db.stored_attachments(cluster, database)
    found = storage.check(filestore, attachments)
    if found.missing:
        checks.failures.append(f"{len(found.missing)} attachment file(s) missing from the filestore: "
                               f"{', '.join(found.missing[:10])}")
    if found.corrupt:
        checks.failures.append(f"{len(found.corrupt)} attachment file(s) do not match their checksum: "
                               f"{', '.join(found.corrupt[:10])}")
    checks.details["attachments"] = len(attachments)
    return checks


def check_facts(cluster: ClusterConn, database: str, restored: Restored) -> Checks:
    """Row counts and installed modules of ``database`` equal the manifest's."""
    checks = Checks()
    facts = odoo_db.facts(cluster, database)
    expected_counts: dict[str, int] = restored.manifest.get("row_counts", {})
    counts = facts["row_counts"]
    assert isinstance(counts, dict)
    wrong = {t: (n, counts.get(t)) for t, n in expected_counts.items() if counts.get(t) != n}
    if wrong:
        checks.failures.append("row counts differ: " + ", ".join(f"{t} {a} → {b}" for t, (a, b) in wrong.items()))
    modules = facts["modules"]
    assert isinstance(modules, dict)
    if modules != restored.manifest.get("modules"):
        checks.failures.append("installed modules differ from the manifest")
    checks.details.update({"row_counts": counts, "modules": len(modules)})
    return checks


def boot(ctx: Context, env: DesiredEnvironment, cluster: ClusterConn, *, database: str, role: str, password: str,
         name: str, operation_id: int | None = None) -> Checks:
    """Start the environment's Odoo on the restored database and filestore (data_dir ``sandbox-<name>``);
    /web/health and the login page must answer 200."""
    checks = Checks()
    workload = OdooWorkload(
        name=name, role="sandbox", target=str(env.ref), stack=stack_ref(ctx, env.stack),
        settings=odoo_conf.OdooSettings(
            series_major=env.stack.major, db_user=role, db_password=password, db_name=database, dbfilter="",
            admin_passwd_hash=passwords.hash_password(secrets.token_urlsafe(24), rounds=1000), workers=0,
            max_cron_threads=0, server_wide_modules=tuple(env.stack.server_wide_modules)),
        cluster=env.cluster_name, cluster_address=(cluster.host, cluster.port), storage=f"sandbox-{name}",
        http_port=free_port(), evented_port=free_port(), evented=False)
    ctx.driver.storage.ensure_storage(workload.storage)
    handles: list[int] = []

    def started(pid: int, mark: str) -> None:
        # Registered, so that a kill of this command does not leave a sandbox Odoo running.
        handles.append(temporaries.register_process(ctx, pid, mark=mark, target=str(env.ref), purpose="verify",
                                                    operation_id=operation_id))
        faults.point("verify:booting")

    try:
        with ctx.driver.scratch_odoo(workload, started=started) as base:
            login = odoo.probe(f"{base}/web/login", timeout=60)
            if not login.ok:
                checks.failures.append(f"Odoo's login page answered {login.status or login.error} on the restored "
                                       "database")
            checks.details["boot"] = {"health": True, "login": login.status}
    except PermanentError as exc:
        checks.failures.append(f"{exc.message} on the restored database")
    finally:
        for handle in handles:
            temporaries.release(ctx, handle)
    return checks


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def drop_scratch(cluster: ClusterConn, *, database: str, role: str) -> None:
    postgres.drop_database(cluster, database)
    postgres.drop_role(cluster, role)
