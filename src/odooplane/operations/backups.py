"""Backing up an environment: the database dump first (consistent, uncompressed directory format
so unchanged tables deduplicate), then the filestore, then a manifest written last with a SHA-256
of every artifact; uploaded to each target repository and recorded as a success only after the
snapshot is listed by restic and the manifest read back from it matches."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from odooplane.errors import PermanentError, TemporaryError
from odooplane.estate.resolve import DesiredEnvironment
from odooplane.operations import locks, repositories
from odooplane.operations.context import Context
from odooplane.operations.desired import AttachmentBucket, EnvArtifacts, artifacts, attachment_bucket
from odooplane.operations.runner import Operation
from odooplane.services import object_store, odoo_db, restic
from odooplane.store import evidence

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"
FORMAT = 1


@dataclass
class BackupResult:
    target: str
    kind: str
    manifest_sha256: str
    snapshots: dict[str, str] = field(default_factory=dict)  # repository -> snapshot id
    duration_s: float = 0.0
    bytes: int = 0


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


HASH_CACHE = ".hashes.json"


def artifact_hashes(stage: Path) -> dict[str, str]:
    """SHA-256 of every file under ``stage`` but the manifest, by relative path. Filestore files
    never change in place (their name is their sha1), so a hash is reused while the file's inode,
    size and mtime are unchanged; new ones are hashed in parallel (hashlib releases the GIL)."""
    cache_file = stage / HASH_CACHE
    try:
        cache: dict[str, list[Any]] = json.loads(cache_file.read_text())
    except (OSError, ValueError):
        cache = {}
    todo: list[tuple[str, Path, list[Any]]] = []
    out: dict[str, str] = {}
    for directory, _dirs, files in os.walk(stage):
        for name in files:
            path = Path(directory) / name
            relative = str(path.relative_to(stage))
            if relative in (MANIFEST, HASH_CACHE):
                continue
            st = path.stat()
            key = [st.st_ino, st.st_size, st.st_mtime_ns]
            cached = cache.get(relative)
            if relative.startswith("filestore/") and cached and cached[:3] == key:
                out[relative] = str(cached[3])
            else:
                todo.append((relative, path, key))
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for (relative, _path, key), digest in zip(todo, pool.map(lambda item: sha256_file(item[1]), todo),
                                                  strict=True):
            out[relative] = digest
            cache[relative] = [*key, digest]
    cache_file.write_text(json.dumps({k: v for k, v in cache.items() if k in out}))
    return dict(sorted(out.items()))


def dump(ctx: Context, art: EnvArtifacts, out_dir: Path) -> dict[str, object]:
    """Dump the environment's database into ``out_dir`` (replaced), where its cluster lives; return
    its facts (modules, row counts, attachments) as the dump saw them: both read one exported
    snapshot, so a database written to meanwhile still gives a manifest its dump matches."""
    with odoo_db.exported_snapshot(art.cluster, art.env.database) as (snapshot, facts):
        ctx.driver.databases.dump(art.cluster, art.env.database, out_dir, snapshot=snapshot)
    return facts


def export_filestore(ctx: Context, op: Operation | None, art: EnvArtifacts, into: Path) -> None:
    """Make the control plane's directory ``into`` a copy of the environment's filestore — with, for
    stateless attachments, the objects of its bucket (a backup, a clone, an export holds every
    attachment wherever Odoo keeps it). Steps of ``op`` when given."""
    t = str(art.env.ref)

    def export() -> int:
        return ctx.driver.storage.export(art.filestore_ref, into)

    if op is None:
        export()
    else:
        op.step("filestore", t, export)
    bucket = attachment_bucket(ctx, art.env)
    if bucket is None:
        return
    if op is None:
        fetch_attachments(ctx, art, bucket, into)
    else:
        op.step("bucket", t, lambda: fetch_attachments(ctx, art, bucket, into))


def fetch_attachments(ctx: Context, art: EnvArtifacts, bucket: AttachmentBucket, filestore: Path) -> dict[str, int]:
    """Bring the environment's attachments kept in its bucket into ``filestore`` (a copy of its
    filestore, outside it): downloaded once into the environment's bucket cache (outside every
    backup stage), hard-linked from there. An object missing from the bucket is left missing (a
    restore proof says so)."""
    attachments = odoo_db.stored_attachments(art.cluster, art.env.database)
    cache_dir = ctx.layout.bucket_cache(art.env.ref.slug)
    try:
        got = object_store.fetch_into(bucket, art.env.database, attachments, filestore, cache_dir)
    except ValueError as exc:  # the endpoint itself
        raise PermanentError(f"{art.env.ref}: attachment bucket {bucket.bucket}: {exc}") from exc
    except (OSError, object_store.s3_error()) as exc:
        raise TemporaryError(f"{art.env.ref}: the attachment bucket {bucket.bucket} cannot be read: {exc}") from exc
    if got.refused:
        logger.warning("%s: %d attachment name(s) are no content address and were not fetched: %s", art.env.ref,
                       len(got.refused), ", ".join(got.refused[:5]))
    if got.corrupt:
        raise PermanentError(f"{art.env.ref}: {len(got.corrupt)} object(s) of bucket {bucket.bucket} do not hold "
                             f"the content their name says: {', '.join(got.corrupt[:5])}")
    if got.missing:
        logger.warning("%s: %d attachment(s) are neither in the filestore nor in bucket %s: %s", art.env.ref,
                       len(got.missing), bucket.bucket, ", ".join(got.missing[:5]))
    return {"fetched": got.fetched, "cached": got.cached, "missing": len(got.missing)}


def write_manifest(ctx: Context, art: EnvArtifacts, stage: Path, *, kind: str, dumped_at: dt.datetime,
                   facts: dict[str, object]) -> str:
    """Write the manifest last (``facts``: what ``dump`` returned); return its SHA-256."""
    return write_manifest_file(stage, target=str(art.env.ref), database=art.env.database, kind=kind,
                               estate=ctx.estate_id, dumped_at=dumped_at, series=art.env.stack.series,
                               runtime=art.runtime.label, facts=facts)


def write_manifest_file(stage: Path, *, target: str, database: str, kind: str, estate: str, dumped_at: dt.datetime,
                        series: str, runtime: str, facts: dict[str, object]) -> str:
    """The manifest of the dump and filestore under ``stage`` (a SHA-256 of each), written last
    (wherever the backup is made: this host, or a Job in a cluster); return its own SHA-256."""
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "target": target,
        "database": database,
        "kind": kind,
        "estate": estate,
        "dumped_at": dumped_at.isoformat(),
        "stack": {"series": series, "runtime": runtime},
        **facts,
        "artifacts": artifact_hashes(stage),
    }
    text = json.dumps(manifest, indent=2, sort_keys=True)
    (stage / MANIFEST).write_text(text)
    return hashlib.sha256(text.encode()).hexdigest()


def upload(ctx: Context, env: DesiredEnvironment, repo: restic.Repository, stage: Path, *, kind: str,
           manifest_sha: str) -> tuple[str, list[restic.Snapshot]]:
    """Back ``stage`` up to ``repo`` (created on first use); confirm the snapshot and its manifest;
    return the snapshot id and every snapshot of ``env`` listed in ``repo`` afterwards."""
    tags = [*repositories.tags(ctx, env, kind=kind), f"manifest={manifest_sha[:16]}"]
    try:
        snapshot = restic.backup(repo, [stage], tags=tags, when=ctx.clock.now())
    except restic.RepositoryMissing:
        restic.init(repo)
        snapshot = restic.backup(repo, [stage], tags=tags, when=ctx.clock.now())
    return snapshot, confirm(ctx, env, repo, snapshot, manifest=str(stage / MANIFEST), manifest_sha=manifest_sha)


def confirm(ctx: Context, env: DesiredEnvironment, repo: restic.Repository, snapshot: str, *, manifest: str,
            manifest_sha: str) -> list[restic.Snapshot]:
    """Check, from this host, that ``snapshot`` is listed in ``repo`` and that its manifest (the
    file ``manifest`` in it) reads back with the SHA-256 written; return every snapshot of ``env``
    listed. PermanentError otherwise (nothing is recorded for it)."""
    # Both read the repository's index after deriving its key (about 0.5 s each): side by side.
    with ThreadPoolExecutor(max_workers=2) as pool:
        listing = pool.submit(restic.snapshots, repo, tags=repositories.env_tags(ctx, env))
        reading = pool.submit(restic.dump, repo, snapshot, manifest)
        found, read_back = listing.result(), reading.result()
    listed = {s.short_id for s in found} | {s.id for s in found}
    if snapshot not in listed:
        raise PermanentError(f"repository {repo.name}: snapshot {snapshot} is not listed after the backup")
    if hashlib.sha256(read_back).hexdigest() != manifest_sha:
        raise PermanentError(f"repository {repo.name}: the manifest read back from snapshot {snapshot} "
                             "does not match what was written")
    return found


def confirmed_snapshots(ctx: Context, env: DesiredEnvironment, repository: str) -> set[str]:
    """Ids of the snapshots of ``env`` in ``repository`` whose backup was confirmed (listed by
    restic and its manifest read back identical): the only ones listed and restored by default."""
    return {str(e.data.get("snapshot")) for e in evidence.query(ctx.store, kind="backup", target=str(env.ref),
                                                                limit=100000)
            if e.ok and e.data.get("repository") == repository}


def dump_times(ctx: Context, env: DesiredEnvironment, repository: str) -> dict[str, dt.datetime]:
    """When the data of each confirmed snapshot of ``env`` in ``repository`` was dumped (restic's own
    snapshot time is when the upload started, to the second)."""
    out: dict[str, dt.datetime] = {}
    for e in evidence.query(ctx.store, kind="backup", target=str(env.ref), limit=100000):
        if e.ok and e.data.get("repository") == repository and e.data.get("dumped_at"):
            out[str(e.data.get("snapshot"))] = dt.datetime.fromisoformat(str(e.data["dumped_at"]))
    return out


def is_confirmed(snapshot: restic.Snapshot, confirmed: set[str]) -> bool:
    return snapshot.short_id in confirmed or snapshot.id in confirmed


def forget_unconfirmed(ctx: Context, env: DesiredEnvironment, repo: restic.Repository,
                       found: list[restic.Snapshot]) -> list[str]:
    """Forget, among ``found`` (``env``'s snapshots listed in ``repo`` once the new backup was
    confirmed), those this estate made but never confirmed (a backup killed after restic wrote the
    snapshot, before the manifest was read back): they must never be taken for good backups.
    Snapshots without this estate's tags are never listed, so never touched."""
    confirmed = confirmed_snapshots(ctx, env, repo.name)
    stale = [s.short_id for s in found if not is_confirmed(s, confirmed)]
    if stale:
        restic.unlock(repo)  # what killed that backup left its lock behind
        restic.forget(repo, stale, prune=True)
    return stale


def record(ctx: Context, op: Operation, env: DesiredEnvironment, repository: str, snapshot: str, *,
           manifest_sha: str, kind: str, size: int, dumped_at: dt.datetime) -> None:
    """The evidence of a confirmed backup (only ever written after :func:`confirm`)."""
    t = str(env.ref)
    evidence.add(ctx.store, kind="backup", target=t, ok=True, operation_id=op.op_id, data={
        "repository": repository, "snapshot": snapshot, "manifest_sha256": manifest_sha, "kind": kind,
        "bytes": size, "dumped_at": dumped_at.isoformat(),
        "offsite": ctx.estate.backups.repositories[repository].offsite,
    }, summary=f"{t}: backup {snapshot} in {repository} ({size / 1048576:.1f} MiB), manifest confirmed")


def backup_env(ctx: Context, op: Operation, env: DesiredEnvironment, *, kind: str = "manual",
               repos: list[str] | None = None) -> BackupResult:
    """Back ``env`` up to its policy's repositories (or ``repos``). Success is recorded per
    repository as evidence only once confirmed; a failure raises StepFailed and records nothing
    successful."""
    t = str(env.ref)
    names = repos if repos is not None else repositories.targets(ctx, env)
    if not names:
        raise PermanentError(f"{t} has no backup policy (backup: false) and no repository was named")
    started = ctx.clock.monotonic()
    # One lock for the whole backup: another backup of this environment must not rewrite the
    # stage while restic reads it.
    with locks.hold(ctx.store, f"env-{env.ref.slug}", wait=600, what=t, op=op):
        art = artifacts(ctx, env, create=False)
        if art is None:
            raise PermanentError(f"{t} is not provisioned (run apply first)")
        stage = ctx.layout.backup_stage(env.ref.slug)
        stage.mkdir(parents=True, exist_ok=True)
        (stage / MANIFEST).unlink(missing_ok=True)  # a stage without a manifest is never uploaded
        dumped_at = ctx.clock.now()
        facts = op.step("dump", t, lambda: dump(ctx, art, stage / "dump"))
        # Exported where the filestore lives into this host's stage (restic reads it here).
        export_filestore(ctx, op, art, stage / "filestore")
        manifest_sha = op.step("manifest", t, lambda: write_manifest(ctx, art, stage, kind=kind,
                                                                      dumped_at=dumped_at, facts=facts))
        result = BackupResult(target=t, kind=kind, manifest_sha256=manifest_sha)
        result.bytes = sum(p.stat().st_size for p in stage.rglob("*") if p.is_file())
        for name in names:
            repo = repositories.repository(ctx, name, tenant=env.ref.tenant)
            snapshot, found = op.step(f"upload-{name}", t, partial(upload, ctx, env, repo, stage, kind=kind,
                                                                   manifest_sha=manifest_sha))
            result.snapshots[name] = snapshot
            record(ctx, op, env, name, snapshot, manifest_sha=manifest_sha, kind=kind, size=result.bytes,
                   dumped_at=dumped_at)
            # Once this one is confirmed: what a killed backup left unconfirmed goes (its listing is the one above).
            op.step(f"reconcile-{name}", t, partial(forget_unconfirmed, ctx, env, repo, found))
        shutil.rmtree(stage / "dump", ignore_errors=True)  # the filestore links cost nothing: they stay
    result.duration_s = round(ctx.clock.monotonic() - started, 3)
    return result
