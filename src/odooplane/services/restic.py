"""restic, the backup repository: argv built by pure functions, run through ``execute`` with the
repository password (and S3 keys) in the environment, never on the command line."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from odooplane import execute
from odooplane.errors import CommandFailed, PermanentError, TemporaryError

HOST = "odooplane"  # the snapshot host: snapshots are found by tags, not by the machine's name


@dataclass(frozen=True)
class Repository:
    """How to reach one restic repository (secrets already resolved)."""

    name: str
    url: str
    password: str
    env: dict[str, str] = field(default_factory=dict)  # e.g. AWS_ACCESS_KEY_ID for S3

    @property
    def is_s3(self) -> bool:
        return self.url.startswith("s3:")

    def environment(self) -> dict[str, str]:
        # TZ=UTC: restic reads and prints --time in the local zone.
        return {"RESTIC_REPOSITORY": self.url, "RESTIC_PASSWORD": self.password, "TZ": "UTC", **self.env}

    def secrets(self) -> list[str]:
        return [self.password, *self.env.values()]


@dataclass(frozen=True)
class Snapshot:
    id: str
    short_id: str
    time: dt.datetime
    tags: tuple[str, ...]
    paths: tuple[str, ...]

    def tag(self, key: str) -> str | None:
        prefix = f"{key}="
        return next((t[len(prefix):] for t in self.tags if t.startswith(prefix)), None)


def binary() -> str:
    found = shutil.which("restic")
    if not found:
        raise PermanentError("restic not found: install it (Debian: apt-get install restic)")
    return found


def _run(repo: Repository, args: Sequence[str], *, what: str, timeout: float = 3600,
         stdin: str | None = None) -> execute.Result:
    try:
        return execute.run([binary(), *args], env=repo.environment(), secrets=repo.secrets(), timeout=timeout,
                           what=f"restic {what} ({repo.name})", stdin=stdin)
    except CommandFailed as exc:
        tail = exc.stderr_tail
        telling = [ln for ln in tail.splitlines() if ln.startswith(("Fatal:", "panic:", "fatal error:", "error:"))]
        if telling and not exc.message.endswith(telling[-1]):
            exc = CommandFailed(f"restic {what} ({repo.name}) exited with {exc.returncode}: {telling[-1]}",
                                returncode=exc.returncode, stderr_tail=tail)
        unreachable = ("connection refused", "no such host", "dial tcp", "timeout", "i/o timeout",
                       "503", "502", "Service Unavailable")
        if any(marker in tail for marker in unreachable):
            raise TemporaryError(f"repository {repo.name} is unreachable: {tail.splitlines()[-1]}", delay=2) from exc
        if "unable to open config file" in tail or "Is there a repository at" in tail:
            raise RepositoryMissing(f"restic {what} ({repo.name}): the repository has not been created",
                                    returncode=exc.returncode, stderr_tail=tail) from None
        raise exc from None


_MISSING = ("does not exist", "Is there a repository at the following location", "unable to open config file")
_known: set[str] = set()  # repositories seen initialised by this process


class RepositoryMissing(CommandFailed):
    """The repository has not been created (``restic init``) yet."""


def is_initialised(repo: Repository) -> bool:
    if repo.url in _known:
        return True
    try:
        _run(repo, ["cat", "config", "--no-lock"], what="cat config", timeout=120)
    except CommandFailed as exc:
        if any(marker in exc.stderr_tail for marker in _MISSING):
            return False
        raise
    _known.add(repo.url)
    return True


def init(repo: Repository) -> bool:
    """Create the repository if it does not exist yet; return True if it was created."""
    if is_initialised(repo):
        return False
    if not repo.is_s3:
        Path(repo.url.removeprefix("local:")).mkdir(parents=True, exist_ok=True)
    _run(repo, ["init"], what="init", timeout=300)
    return True


def backup(repo: Repository, paths: Iterable[Path], *, tags: Iterable[str], when: dt.datetime | None = None,
           timeout: float = 6 * 3600) -> str:
    """Back up ``paths``; return the snapshot id restic reports. Unchanged files (same size, mtime)
    are not read again; inode and ctime changes are ignored so a hard-linked staging tree is cheap."""
    args = ["backup", "--json", "--host", HOST, "--ignore-inode", "--ignore-ctime"]
    if when is not None:  # the platform's clock, so schedules and retention agree in tests too
        args += ["--time", when.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")]
    for tag in tags:
        args += ["--tag", tag]
    result = _run(repo, [*args, *(str(p) for p in paths)], what="backup", timeout=timeout)
    _known.add(repo.url)
    for line in reversed(result.stdout.splitlines()):
        try:
            message = json.loads(line)
        except json.JSONDecodeError:
            continue
        if message.get("message_type") == "summary" and message.get("snapshot_id"):
            return str(message["snapshot_id"])
    raise PermanentError(f"restic backup ({repo.name}) reported no snapshot id")


_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$")


def parse_time(text: str) -> dt.datetime:
    """restic prints nanoseconds (``2026-11-23T09:38:03.814197718Z``); Python takes microseconds."""
    match = _TIME.match(text.strip())
    if not match:
        raise ValueError(f"unexpected restic time {text!r}")
    base, fraction, zone = match.groups()
    micro = ((fraction or "") + "000000")[:6]
    return dt.datetime.fromisoformat(f"{base}.{micro}{'+00:00' if zone == 'Z' else zone}").astimezone(dt.UTC)


def snapshots(repo: Repository, *, tags: Iterable[str] = ()) -> list[Snapshot]:
    """Snapshots carrying every tag in ``tags``, oldest first."""
    args = ["snapshots", "--json", "--no-lock"]  # read-only: no lock, nothing to clean after a kill
    tag_list = list(tags)
    if tag_list:
        args += ["--tag", ",".join(tag_list)]
    result = _run(repo, args, what="snapshots", timeout=300)
    items = json.loads(result.stdout or "[]") or []
    out = [Snapshot(str(i["id"]), str(i.get("short_id", i["id"][:8])), parse_time(str(i["time"])),
                    tuple(i.get("tags") or ()), tuple(i.get("paths") or ())) for i in items]
    return sorted(out, key=lambda s: s.time)


def dump(repo: Repository, snapshot: str, path: str) -> bytes:
    """Return the content of one file of a snapshot (read back from the repository)."""
    result = _run(repo, ["dump", "--no-lock", snapshot, path], what="dump", timeout=600)
    return result.stdout.encode("utf-8", errors="surrogateescape")


def restore(repo: Repository, snapshot: str, target: Path, *, include: str | None = None) -> None:
    """Restore ``snapshot`` under ``target`` (files land at ``target/<absolute path in snapshot>``)."""
    args = ["restore", snapshot, "--target", str(target)]
    if include:
        args += ["--include", include]
    _run(repo, args, what="restore", timeout=6 * 3600)


def forget(repo: Repository, snapshot_ids: Sequence[str], *, prune: bool = True) -> None:
    """Remove exactly these snapshots (never a rule-based forget: see operations/retention)."""
    if not snapshot_ids:
        return
    args = ["forget", *snapshot_ids]
    if prune:
        args.append("--prune")
    _run(repo, args, what="forget", timeout=6 * 3600)


def prune(repo: Repository) -> None:
    _run(repo, ["prune"], what="prune", timeout=6 * 3600)


def check(repo: Repository, *, read_data_subset: str | None = None) -> str:
    """``restic check`` (with a share of the data re-read and verified); raise CommandFailed with
    restic's own words when the repository is damaged."""
    args = ["check"]
    if read_data_subset:
        args.append(f"--read-data-subset={read_data_subset}")
    return _run(repo, args, what="check", timeout=6 * 3600).stdout


def stats(repo: Repository) -> dict[str, int]:
    """Repository size as stored (``raw-data`` mode): total_size, total_blob_count."""
    result = _run(repo, ["stats", "--json", "--mode", "raw-data"], what="stats", timeout=600)
    data = json.loads(result.stdout)
    return {"total_size": int(data.get("total_size", 0)), "total_blob_count": int(data.get("total_blob_count", 0))}


def unlock(repo: Repository) -> None:
    """Remove stale locks left by a killed restic (restic keeps them for 30 minutes otherwise)."""
    _run(repo, ["unlock"], what="unlock", timeout=300)
