"""Odoo's own backup format — the zip its database manager writes: ``dump.sql`` (plain SQL,
without owners), ``filestore/`` and ``manifest.json``. Exported so that Odoo's manager (or
``odoo-bin db load``) restores it; imported with the SQL stopping at the first error (Odoo's own
restore ignores errors and can report success on a partial restore) and a new identity."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

from odooplane import execute
from odooplane.errors import PermanentError, UsageError
from odooplane.estate.resolve import DesiredEnvironment
from odooplane.operations import locks, provision, sandbox
from odooplane.operations.context import Context
from odooplane.operations.desired import EnvArtifacts, artifacts
from odooplane.operations.restore import _swap
from odooplane.operations.runner import Operation
from odooplane.services import odoo_db, pg_tools, postgres
from odooplane.services.postgres import connect
from odooplane.store import evidence

MAX_ZIP_ENTRIES = 2_000_000


@dataclass(frozen=True)
class ZipResult:
    target: str
    path: str
    database_bytes: int
    files: int


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
        tool = pg_tools.client("pg_dump")
        op.step(
            "dump",
            t,
            lambda: execute.run(
                pg_tools.plain_dump_argv(tool, art.cluster, database=env.database, out_file=dump_file),
                env=pg_tools.env(art.cluster),
                secrets=[art.cluster.password or ""],
                what="pg_dump",
                timeout=6 * 3600,
            ),
        )
        facts = odoo_db.facts(art.cluster, env.database)
        manifest = _odoo_manifest(art, facts)
        tmp = out.with_name(f".{out.name}.partial")

        def write() -> int:
            count = 0
            with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
                archive.write(dump_file, "dump.sql")
                if art.filestore.is_dir():
                    for directory, _dirs, files in os.walk(art.filestore):
                        for name in files:
                            path = Path(directory) / name
                            archive.write(path, f"filestore/{path.relative_to(art.filestore)}")
                            count += 1
                archive.writestr("manifest.json", json.dumps(manifest, indent=4))
            os.replace(tmp, out)  # never a half-written zip under the final name
            return count

        files = op.step("zip", t, write, detail=str(out))
        return ZipResult(t, str(out), dump_file.stat().st_size, files)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def validate_entries(archive: zipfile.ZipFile, into: Path) -> None:
    """Refuse a zip with too many entries or an entry that would land outside ``into`` (bad input:
    checked before anything is done)."""
    names = archive.namelist()
    if len(names) > MAX_ZIP_ENTRIES:
        raise UsageError(f"the zip has {len(names)} entries (at most {MAX_ZIP_ENTRIES})")
    root = into.resolve()
    for name in names:
        target = (into / name).resolve()
        if not str(target).startswith(str(root) + os.sep) and target != root:
            raise UsageError(f"the zip entry {name!r} would be written outside the extraction directory")


def _safe_extract(archive: zipfile.ZipFile, into: Path) -> None:
    validate_entries(archive, into)
    for info in archive.infolist():
        if info.filename.startswith("filestore/") or info.filename in ("dump.sql", "manifest.json"):
            archive.extract(info, into)


def _strip_restrict(sql_file: Path) -> None:
    """pg_dump ≥ 17.6 writes ``\\restrict``/``\\unrestrict`` psql meta-commands that older psql
    refuse; they only guard interactive use, so they are dropped."""
    text = sql_file.read_text(encoding="utf-8", errors="surrogateescape")
    lines = [ln for ln in text.splitlines(keepends=True) if not ln.startswith(("\\restrict", "\\unrestrict"))]
    sql_file.write_text("".join(lines), encoding="utf-8", errors="surrogateescape")


def import_zip(ctx: Context, op: Operation, env: DesiredEnvironment, source: Path) -> ZipResult:
    """Replace (or create) ``env`` from an Odoo database-manager zip: SQL stopping at the first
    error into a temporary database, checks, a new identity, then the swap."""
    t = str(env.ref)
    if not zipfile.is_zipfile(source):
        raise UsageError(f"{source}: not a zip file")
    work = ctx.layout.sandbox(f"import-{env.ref.slug}-{secrets.token_hex(3)}")
    work.mkdir(parents=True)
    try:
        with zipfile.ZipFile(source) as archive:
            if "dump.sql" not in archive.namelist():
                raise UsageError(f"{source}: no dump.sql (an Odoo backup zip has dump.sql, filestore/, manifest.json)")
            validate_entries(archive, work)
            op.step("extract", t, lambda: _safe_extract(archive, work))
        manifest = json.loads((work / "manifest.json").read_text()) if (work / "manifest.json").exists() else {}
        series = str(manifest.get("major_version") or manifest.get("version") or "")
        if series and series.split(".", maxsplit=1)[0] != env.stack.series.split(".")[0]:
            raise UsageError(f"{source}: an Odoo {series} database cannot run on {t}'s stack ({env.stack.series})")
        _strip_restrict(work / "dump.sql")
        with locks.hold(ctx.layout.locks, f"env-{env.ref.slug}", wait=60, what=t):
            art = op.step("prepare", t, lambda: artifacts(ctx, env, create=True))
            assert art is not None
            in_place = postgres.database_exists(art.cluster, env.database)
            temp = f"{env.database}__restore"
            if env.pool is None:
                op.step(
                    "role",
                    t,
                    lambda: postgres.ensure_role(
                        art.cluster, role=env.role, password=art.db_password, comment=postgres.marker(ctx.estate_id, t)
                    ),
                )
            postgres.drop_database(art.cluster, temp)
            op.step(
                "database",
                t,
                lambda: postgres.ensure_database(
                    art.cluster, database=temp, owner=env.role, comment=postgres.marker(ctx.estate_id, f"restore/{t}")
                ),
            )
            with connect(art.cluster, temp) as conn:
                conn.execute("DROP EXTENSION IF EXISTS pg_trgm")
            psql = pg_tools.client("psql")
            op.step(
                "sql",
                t,
                lambda: execute.run(
                    pg_tools.psql_file_argv(
                        psql, art.cluster, database=temp, sql_file=work / "dump.sql", role=env.role
                    ),
                    env=pg_tools.env(art.cluster),
                    secrets=[art.cluster.password or ""],
                    what="psql (ON_ERROR_STOP, one transaction)",
                    timeout=6 * 3600,
                ),
            )
            staging = art.filestore.with_name(f"{env.database}.restore")
            shutil.rmtree(staging, ignore_errors=True)
            staging.parent.mkdir(parents=True, exist_ok=True)
            if (work / "filestore").is_dir():
                os.replace(work / "filestore", staging)
            else:
                staging.mkdir()
            restored = sandbox.Restored(
                work, {"row_counts": {}, "modules": odoo_db.facts(art.cluster, temp)["modules"]}, "zip", str(source)
            )
            checks = op.step("checks", t, lambda: sandbox.check_database(art.cluster, temp, restored, staging))
            if not checks.ok:
                raise PermanentError("the imported database does not verify: " + "; ".join(checks.failures))
            op.step("identity", t, lambda: provision.reset_identity(art, database=temp))
            op.step("swap", t, lambda: _swap(ctx, art, temp, in_place=in_place))
        provision.mark_ready(ctx, art)
        from odooplane.operations import observe

        observed, _ = observe.observe(ctx)
        if art.process is not None and in_place:
            op.step("restart", t, lambda: provision.start_process(ctx, art.process, restart=True))  # type: ignore[arg-type]
        provision.ensure_env(ctx, op, env, observed.envs[env.ref])
        if art.process is not None:
            op.step("health", t, lambda: provision.wait_healthy(ctx, art.process))  # type: ignore[arg-type]
        op.step("edge-check", t, lambda: provision.check_through_edge(ctx, art), attempts=20)
        files = sum(1 for p in art.filestore.rglob("*") if p.is_file())
        evidence.add(
            ctx.store,
            kind="import",
            target=t,
            ok=True,
            operation_id=op.op_id,
            data={"source": str(source), "series": series, **checks.details},
            summary=f"{t}: imported from {source.name} (Odoo {series or '?'}), {files} files",
        )
        return ZipResult(t, str(source), (work / "dump.sql").stat().st_size, files)
    finally:
        shutil.rmtree(work, ignore_errors=True)
