"""Odoo's own backup format — the zip its database manager writes: ``dump.sql`` (plain SQL,
without owners), ``filestore/`` and ``manifest.json``. Exported so that Odoo's manager (or
``odoo-bin db load``) restores it; imported with the SQL stopping at the first error (Odoo's own
restore ignores errors and can report success on a partial restore) and a new identity.

A zip to import comes from somebody else: it is read within limits (zip bombs), its SQL never
reaches psql (meta-commands) and runs as the environment's own role, never the administrator."""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from odooplane.errors import OdooplaneError, PermanentError, UsageError
from odooplane.estate.resolve import DesiredEnvironment
from odooplane.operations import backups, locks, provision, sandbox, temporaries
from odooplane.operations import restore as restoring
from odooplane.operations.context import Context
from odooplane.operations.desired import EnvArtifacts, artifacts
from odooplane.operations.runner import Operation
from odooplane.services import odoo_db, postgres, sql_load, zip_guard
from odooplane.store import evidence


@dataclass(frozen=True)
class ZipResult:
    target: str
    path: str
    database_bytes: int
    files: int
    # Statements of an imported dump that were not run, by reason (privileges, ownership…).
    skipped: dict[str, int] = field(default_factory=dict)


def _odoo_manifest(art: EnvArtifacts, facts: dict[str, object]) -> dict[str, object]:
    series = str(facts.get("series") or art.env.stack.series)
    major = int(series.split(".", maxsplit=1)[0]) if series else art.env.stack.major
    pg = int(str(facts.get("pg_version") or 0))
    return {
        "odoo_dump": "1",
        "db_name": art.env.database,
        "version": series,
        "version_info": [major, int(series.split(".")[1]) if "." in series else 0, 0, "final", 0, ""],
        "major_version": series,
        "pg_version": f"{pg // 10000}.{pg % 10000}" if pg >= 100000 else str(pg),
        "modules": facts.get("modules", {}),
    }


def export(ctx: Context, op: Operation, env: DesiredEnvironment, out: Path) -> ZipResult:
    """Write ``env`` as an Odoo database-manager zip at ``out`` (dump first, then the filestore)."""
    t = str(env.ref)
    art = artifacts(ctx, env, create=False)
    if art is None:
        raise PermanentError(f"{t} is not provisioned")
    work = ctx.layout.sandbox(f"export-{env.ref.slug}-{secrets.token_hex(3)}")
    work.mkdir(parents=True)
    try:
        dump_file = work / "dump.sql"
        op.step("dump", t, lambda: ctx.driver.databases.dump_sql(art.cluster, env.database, dump_file))
        facts = odoo_db.facts(art.cluster, env.database)
        manifest = _odoo_manifest(art, facts)
        # Exported where the filestore lives into this scratch directory, zipped from here.
        files_dir = work / "filestore"
        backups.export_filestore(ctx, op, art, files_dir)
        tmp = out.with_name(f".{out.name}.partial")

        def write() -> int:
            count = 0
            with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
                archive.write(dump_file, "dump.sql")
                for directory, _dirs, files in os.walk(files_dir):
                    for name in sorted(files):
                        path = Path(directory) / name
                        if path.is_symlink():
                            continue  # only the filestore's own files go into the zip
                        archive.write(path, f"filestore/{path.relative_to(files_dir)}")
                        count += 1
                archive.writestr("manifest.json", json.dumps(manifest, indent=4))
            os.replace(tmp, out)  # never a half-written zip under the final name
            return count

        files = op.step("zip", t, write, detail=str(out))
        return ZipResult(t, str(out), dump_file.stat().st_size, files)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def limits(op: Operation) -> zip_guard.ZipLimits:
    settings = op.settings
    return zip_guard.ZipLimits(max_bytes=settings.import_max_bytes, max_ratio=settings.import_max_ratio,
                               max_entries=settings.import_max_files)


def replaces(ctx: Context, env: DesiredEnvironment) -> bool:
    """Whether importing into ``env`` would replace a database it has (what deserves a question)."""
    conn = ctx.cluster_conn(env.cluster_name, allocate=False)
    if conn is None:
        return False
    try:
        return postgres.database_exists(conn, env.database)
    except OdooplaneError:
        return True  # cannot tell: ask


def _members(archive: zipfile.ZipFile, source: Path, work: Path) -> tuple[zipfile.ZipInfo, zipfile.ZipInfo | None]:
    """(dump.sql, manifest.json) of the zip, every entry's path checked to stay inside ``work``."""
    entries = {info.filename: info for info in archive.infolist()}
    for name in entries:
        zip_guard.inside(work, name)
    dump = entries.get("dump.sql")
    if dump is None:
        raise UsageError(f"{source}: no dump.sql (an Odoo backup zip has dump.sql, filestore/, manifest.json)")
    return dump, entries.get("manifest.json")


def _extract_filestore(archive: zipfile.ZipFile, into: Path, budget: zip_guard.Budget) -> int:
    """Stream the ``filestore/`` entries under ``into``; return the bytes used so far."""
    for info in archive.infolist():
        if info.filename.startswith("filestore/"):
            zip_guard.extract(archive, info, into, budget)
    return budget.used


def _load_sql(art: EnvArtifacts, database: str, archive: zipfile.ZipFile, dump: zipfile.ZipInfo,
              budget: zip_guard.Budget) -> sql_load.LoadResult:
    """Stream dump.sql out of the zip into ``database``, connected as the role Odoo uses for it
    (the environment's own, or its pool's): never as the administrator."""
    as_role = dataclasses.replace(art.cluster, user=art.env.role, password=art.db_password)
    with zip_guard.open_entry(archive, dump, budget) as stream:
        return sql_load.load(as_role, database, stream, name="dump.sql")


def import_zip(ctx: Context, op: Operation, env: DesiredEnvironment, source: Path) -> ZipResult:
    """Replace (or create) ``env`` from an Odoo database-manager zip: the SQL, streamed out of the
    zip, loads in one transaction as the environment's own role into a temporary database; checks,
    a new identity, then the swap. The zip is read within ``limits(op)``; a zip over them, with an
    entry outside the extraction directory, or with SQL an import may not run is refused and
    leaves nothing behind."""
    t = str(env.ref)
    zip_limits = limits(op)
    with zip_guard.open_zip(source, zip_limits) as archive:
        work = ctx.layout.sandbox(f"import-{env.ref.slug}-{secrets.token_hex(3)}")
        dump, manifest_info = _members(archive, source, work)
        budget = zip_guard.Budget(zip_limits, str(source))
        manifest: dict[str, object] = {}
        if manifest_info is not None:
            try:
                manifest = json.loads(zip_guard.read_small(archive, manifest_info, budget, limit=16 << 20))
            except ValueError as exc:
                raise UsageError(f"{source}: manifest.json is not JSON ({exc})") from exc
            if not isinstance(manifest, dict):
                raise UsageError(f"{source}: manifest.json is not a JSON object")
        series = str(manifest.get("major_version") or manifest.get("version") or "")
        if series and series.split(".", maxsplit=1)[0] != env.stack.series.split(".")[0]:
            raise UsageError(f"{source}: an Odoo {series} database cannot run on {t}'s stack ({env.stack.series})")
        with locks.hold(ctx.store, temporaries.lock_name(t), wait=60, what=t, op=op):
            temporaries.clean_up(ctx, target=t, held=True)  # what a killed import/restore of it left
            art = op.step("prepare", t, lambda: artifacts(ctx, env, create=True))
            assert art is not None
            in_place = postgres.database_exists(art.cluster, env.database)
            temp = restoring.temp_database(env)
            staged = restoring.staged_filestore(art)
            with temporaries.directory(ctx, work, target=t, purpose="import", operation_id=op.op_id):
                ids = [temporaries.register_database(ctx, art.cluster, temp, target=t, purpose="import",
                                                     operation_id=op.op_id),
                       temporaries.register_filestore(ctx, staged, target=t, purpose="import",
                                                      operation_id=op.op_id)]
                try:
                    used = op.step("extract", t, lambda: _extract_filestore(archive, work, budget))
                    if env.pool is None:
                        op.step("role", t, lambda: postgres.ensure_role(
                            art.cluster, role=env.role, password=art.db_password,
                            comment=postgres.marker(ctx.estate_id, t)))
                    postgres.drop_database(art.cluster, temp)
                    op.step("database", t, lambda: temporaries.create_database(
                        ctx, art.cluster, database=temp, owner=env.role, target=t, operation_id=op.op_id,
                        extensions=False, comment=postgres.marker(ctx.estate_id, f"restore/{t}")), detail=temp)
                    # A fresh budget per attempt: a retried load reads dump.sql again.
                    loaded = op.step("sql", t, lambda: _load_sql(
                        art, temp, archive, dump, zip_guard.Budget(zip_limits, str(source), used=used)))
                    files = ctx.driver.storage.load(work / "filestore", staged)
                    restored = sandbox.Restored(
                        work, {"row_counts": {}, "modules": odoo_db.facts(art.cluster, temp)["modules"]}, "zip",
                        str(source))
                    checks = op.step("checks", t, lambda: sandbox.check_database(
                        ctx.driver.storage, art.cluster, temp, restored, staged))
                    if not checks.ok:
                        raise PermanentError("the imported database does not verify: " + "; ".join(checks.failures))
                    op.step("identity", t, lambda: provision.reset_identity(art, database=temp))
                    restoring.swap(ctx, op, art, temp, in_place=in_place)
                except BaseException:
                    # Nothing of the copy stays: the temporary database and the staged filestore go.
                    temporaries.clean_up(ctx, target=t, held=True, operation_id=op.op_id)
                    raise
                for temp_id in ids:
                    temporaries.release(ctx, temp_id)
    provision.mark_ready(ctx, art)
    from odooplane.operations import observe

    observed, _ = observe.observe(ctx)
    if art.process is not None and in_place:
        op.step("restart", t, lambda: provision.start_process(ctx, art.process, restart=True))  # type: ignore[arg-type]
    provision.ensure_env(ctx, op, env, observed.envs[env.ref])
    if art.process is not None:
        op.step("health", t, lambda: provision.wait_healthy(ctx, art.process))  # type: ignore[arg-type]
    op.step("edge-check", t, lambda: provision.check_through_edge(ctx, art), attempts=20)
    evidence.add(
        ctx.store,
        kind="import",
        target=t,
        ok=True,
        operation_id=op.op_id,
        data={"source": str(source), "series": series, "skipped": loaded.skipped, **checks.details},
        summary=f"{t}: imported from {source.name} (Odoo {series or '?'}), {files} files",
    )
    return ZipResult(t, str(source), loaded.bytes_read, files, skipped=loaded.skipped)
