"""Proving a backup restores: fetch it into a sandbox, check every artifact against the manifest,
load the dump with PostgreSQL stopping at the first error, compare row counts, attachments and
modules with the manifest, boot Odoo on it — then record the evidence (with the achieved RTO) and
remove the sandbox whatever happened."""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from odooplane.drivers.base import FilestoreRef
from odooplane.errors import NotFound, OdooplaneError, UsageError
from odooplane.estate.resolve import DesiredEnvironment
from odooplane.operations import repositories, sandbox, temporaries
from odooplane.operations.context import Context
from odooplane.operations.runner import Operation, StepFailed
from odooplane.services import restic
from odooplane.services.postgres import ClusterConn
from odooplane.store import evidence


@dataclass
class Verification:
    target: str
    snapshot: str
    repository: str
    ok: bool
    rto_s: float
    failures: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    evidence_id: int = 0


def find_snapshot(ctx: Context, env: DesiredEnvironment, repo: restic.Repository, *, snapshot: str | None = None,
                  at: dt.datetime | None = None, unconfirmed: bool = False) -> restic.Snapshot:
    """The snapshot named, or the newest confirmed one of ``env`` (taken at or before ``at``).

    A snapshot whose backup was never confirmed (killed before its manifest was read back) is
    only taken when named and ``unconfirmed`` is set. Raise NotFound or UsageError otherwise."""
    from odooplane.operations.backups import confirmed_snapshots, dump_times, is_confirmed

    found = restic.snapshots(repo, tags=repositories.env_tags(ctx, env))
    confirmed = confirmed_snapshots(ctx, env, repo.name)
    if snapshot:
        for item in found:
            if snapshot in (item.id, item.short_id) or item.id.startswith(snapshot):
                if not unconfirmed and not is_confirmed(item, confirmed):
                    raise UsageError(f"{env.ref}: snapshot {item.short_id} in {repo.name} was never confirmed (the "
                                     "backup that wrote it did not finish): pass --unconfirmed to use it anyway")
                return item
        raise NotFound(f"{env.ref}: no snapshot {snapshot} in repository {repo.name}")
    found = [s for s in found if is_confirmed(s, confirmed)]
    if at is not None:  # by when the data was dumped: restic's time is the upload's start, to the second
        dumped = dump_times(ctx, env, repo.name)

        def taken(s: restic.Snapshot) -> dt.datetime:
            return dumped.get(s.id) or dumped.get(s.short_id) or s.time

        found = sorted((s for s in found if taken(s) <= at), key=taken)
    if not found:
        when = f" at or before {at.isoformat()}" if at else ""
        raise NotFound(f"{env.ref}: no confirmed backup in repository {repo.name}{when}")
    return found[-1]


def summary_text(v: Verification) -> str:
    lines = [f"Restore verification of {v.target}: {'PASSED' if v.ok else 'FAILED'}",
             f"snapshot {v.snapshot} from repository {v.repository}; restored and checked in {v.rto_s:.1f} s (RTO)"]
    for key in ("artifacts_checked", "attachments", "modules"):
        if key in v.details:
            lines.append(f"{key.replace('_', ' ')}: {v.details[key]}")
    booted = "boot" not in v.details  # a verification that did not boot Odoo says so in its details
    lines += [f"failure: {f}" for f in v.failures] or [
        "every check passed: dump restored without error, row counts, attachments (sha1), modules"
        + (", Odoo boots and serves its login" if booted else f" (Odoo boot {v.details['boot']})")]
    return "\n".join(lines)


def verify(ctx: Context, op: Operation, env: DesiredEnvironment, *, repository: str | None = None,
           snapshot: str | None = None) -> Verification:
    """Restore-test a backup of ``env``; always record evidence (passed or failed)."""
    t = str(env.ref)
    repo_name = repository or (repositories.targets(ctx, env) or ["local"])[0]
    repo = repositories.repository(ctx, repo_name, tenant=env.ref.tenant)
    snap = find_snapshot(ctx, env, repo, snapshot=snapshot)
    cluster = ctx.cluster_conn(env.cluster_name, allocate=False)
    if cluster is None:
        raise NotFound(f"{t}: cluster {env.cluster_name} is not provisioned")
    result = prove(ctx, op, env, cluster, fetch=lambda into: sandbox.fetch(repo, snap, into), label=snap.short_id,
                   repository=repo_name)
    data = {"snapshot": snap.short_id, "repository": repo_name, "rto_s": result.rto_s, "failures": result.failures,
            "snapshot_time": snap.time.isoformat(), **result.details}
    result.evidence_id = evidence.add(ctx.store, kind="restore-verification", target=t, ok=result.ok, data=data,
                                      summary=summary_text(result), operation_id=op.op_id)
    return result


def prove(ctx: Context, op: Operation, env: DesiredEnvironment, cluster: ClusterConn, *,
          fetch: Callable[[Path], sandbox.Restored], label: str, repository: str) -> Verification:
    """Fetch a backup of ``env`` into a sandbox on ``cluster`` and check it all; the sandbox is
    removed whatever happens. ``rto_s`` is the time from fetching to Odoo serving."""
    t = str(env.ref)
    token = secrets.token_hex(4)
    name = f"vfy-{env.ref.slug.replace('__', '-')[:40]}-{token}"
    work = ctx.layout.sandbox(name)
    role, password = name, secrets.token_urlsafe(24)
    result = Verification(target=t, snapshot=label, repository=repository, ok=False, rto_s=0.0)
    started = ctx.clock.monotonic()
    temporaries.clean_up(ctx, target=t)  # sandboxes a killed verification of it left
    scratch_id = temporaries.register_database(ctx, cluster, name, target=t, purpose="verify", role=role,
                                               operation_id=op.op_id)
    try:
        with temporaries.directory(ctx, work, target=t, purpose="verify", operation_id=op.op_id), \
                temporaries.storage(ctx, f"sandbox-{name}", target=t, purpose="verify-boot", operation_id=op.op_id):
            _prove_in(ctx, op, env, cluster, result, fetch=fetch, label=label, name=name, work=work,
                      role=role, password=password)
    except StepFailed as exc:
        result.failures.append(f"{exc.step}: {exc.reason}")
    except OdooplaneError as exc:
        result.failures.append(exc.message)
    finally:
        result.rto_s = round(ctx.clock.monotonic() - started, 2)
        try:
            sandbox.drop_scratch(cluster, database=name, role=role)
            temporaries.release(ctx, scratch_id)
        except OdooplaneError:
            pass  # left registered: the next run removes it
    result.ok = not result.failures
    return result


def _prove_in(ctx: Context, op: Operation, env: DesiredEnvironment, cluster: ClusterConn, result: Verification, *,
              fetch: Callable[[Path], sandbox.Restored], label: str, name: str, work: Path, role: str,
              password: str) -> None:
    t = str(env.ref)
    restored = op.step("restore", t, lambda: fetch(work / "restore"), detail=label)
    result.snapshot = restored.snapshot
    if isinstance(restored.manifest.get("pitr"), dict):
        result.details["pitr"] = restored.manifest["pitr"]
    artifacts = sandbox.check_artifacts(restored, "database")  # what goes into PostgreSQL, first
    result.failures += artifacts.failures
    if not artifacts.ok:
        return
    marker = f"odooplane:{ctx.estate_id}:sandbox/{name}"
    with sandbox.filestore_checked_meanwhile(restored) as filestore_verdict:
        op.step("sandbox", t, lambda: sandbox.create_scratch(cluster, database=name, role=role, password=password,
                                                             comment=marker))
        op.step("pg_restore", t, lambda: sandbox.load_dump(ctx.driver.databases, cluster, restored, database=name,
                                                           role=role, password=password))
        files = filestore_verdict()
    result.failures += files.failures
    result.details["artifacts_checked"] = artifacts.details["artifacts_checked"] + files.details["artifacts_checked"]
    if not files.ok:
        return
    filestore = FilestoreRef(f"sandbox-{name}", name)  # in the data_dir Odoo boots on it with
    ctx.driver.storage.load(restored.root / "filestore", filestore)
    as_role = dataclasses.replace(cluster, user=role, password=password)  # nothing in the copy runs as the admin
    checks = op.step("checks", t, lambda: sandbox.check_database(ctx.driver.storage, as_role, name, restored,
                                                                 filestore))
    result.failures += checks.failures
    result.details.update(checks.details)
    booted = op.step("boot", t, lambda: sandbox.boot(ctx, env, cluster, database=name, role=role,
                                                     password=password, name=name, operation_id=op.op_id))
    result.failures += booted.failures
    result.details.update(booted.details)
