"""Cloning an environment (production, usually) into a non-production one.

A fresh copy — ``pg_dump`` of the running source (a consistent snapshot without stopping it), then
its filestore (hard links) — is loaded into a temporary database of the target and given the
target's identity (``database.uuid``, ``database.secret``, ``web.base.url``, admin password). Then,
still unreachable: Odoo's own ``neutralize`` where the runtime has it (series ≥ 16 and the
simulator), the platform's guarantees on every series (services/neutralize.py: mail only to this
environment's catcher, crons off except autovacuum, payment/delivery/IAP/OAuth/API-key/passkey
credentials revoked, webhooks replaced, ``database.is_neutralized``), optionally anonymization, and
a fail-closed verification of every guarantee. Only a copy that passes is swapped in and routed; one
that fails is dropped and the target keeps what it had.
"""

from __future__ import annotations

import json
from pathlib import Path

from odooplane.drivers.base import OdooCommand
from odooplane.errors import PermanentError, UsageError
from odooplane.estate.resolve import DesiredEnvironment
from odooplane.operations import backups, mail, sandbox
from odooplane.operations import restore as restoring
from odooplane.operations.context import Context
from odooplane.operations.desired import NON_PRODUCTION_SAFE, EnvArtifacts, artifacts
from odooplane.operations.runner import Operation
from odooplane.services import anonymize as anonymizing
from odooplane.services import neutralize


def must_anonymize(env: DesiredEnvironment) -> bool:
    """The policy: copies of a regulated tenant's data are always anonymized."""
    return env.labels.compliance == "regulated"


def check_pair(source: DesiredEnvironment, target: DesiredEnvironment) -> None:
    if source.ref == target.ref:
        raise UsageError(f"{source.ref}: a clone needs another environment as its target")
    if target.stage in NON_PRODUCTION_SAFE:
        raise UsageError(f"{target.ref} is a {target.stage} environment: clones go into staging, development or "
                         f"training environments only (they are neutralized; production must not be)")
    if source.ref.tenant != target.ref.tenant:
        raise UsageError(f"{source.ref} → {target.ref}: a clone stays within one tenant (its data is that "
                         f"tenant's); copy across tenants with backup and restore if you really mean it")


def clone(ctx: Context, op: Operation, *, source: DesiredEnvironment, target: DesiredEnvironment,
          anonymize: bool) -> restoring.RestoreResult:
    check_pair(source, target)
    anonymize = anonymize or must_anonymize(target)
    src = artifacts(ctx, source, create=False)
    if src is None:
        raise PermanentError(f"{source.ref} is not provisioned (run apply first)")
    t = str(target.ref)

    def fetch(into: Path) -> sandbox.Restored:
        into.mkdir(parents=True, exist_ok=True)
        dumped_at = ctx.clock.now()
        facts = op.step("dump", str(source.ref), lambda: backups.dump(ctx, src, into / "dump"))
        backups.export_filestore(ctx, op, src, into / "filestore")
        backups.write_manifest(ctx, src, into, kind="clone", dumped_at=dumped_at, facts=facts)
        return sandbox.Restored(into, json.loads((into / backups.MANIFEST).read_text()), "live", "-")

    def neutralized(art: EnvArtifacts, temp: str) -> dict[str, object]:
        port = op.step("mail-catcher", t, lambda: mail.wait_listening(ctx, target))
        if art.runtime.simulator or art.runtime.series_major >= 16:
            op.step("odoo-neutralize", t, lambda: ctx.driver.run_odoo(OdooCommand(
                workload=art.runner, subcommand="neutralize", args=("-d", temp), what="odoo-bin neutralize",
                log_name="neutralize", log_scope=art.slug, secrets=(art.db_password,))))
        report = op.step("neutralize", t, lambda: neutralize.enforce(
            art.cluster, temp, smtp_host=ctx.driver.mail_host(), smtp_port=port, series_major=target.stack.major))
        out: dict[str, object] = {"neutralized": report.changes, "mail_catcher_port": port, "anonymized": None}
        if anonymize:
            salt = anonymize_salt(ctx, target)
            done = op.step("anonymize", t, lambda: anonymizing.anonymize(art.cluster, temp, salt=salt))
            out["anonymized"] = {"partners": done.partners, "users": done.users, "kept_logins": list(done.users_kept)}
        failures = op.step("verify-neutralized", t, lambda: neutralize.verify(
            art.cluster, temp, smtp_host=ctx.driver.mail_host(), smtp_port=port))
        if failures:
            raise PermanentError(f"the copy for {t} is not safe to serve, so it was dropped and {t} left as it was: "
                                 + "; ".join(failures))
        out["verified"] = True
        return out

    return restoring._restore(ctx, op, source=source, target=target, label="live", repository="-", fetch=fetch,
                              at=None, after_load=neutralized, kind="clone")


def anonymize_salt(ctx: Context, env: DesiredEnvironment) -> str:
    """Per-environment secret salt: the same person gets the same pseudonym in every refresh."""
    import secrets

    name = f"env/{env.ref}/anonymize_salt"
    value = ctx.secrets.get(name)
    if value is None:
        value = secrets.token_hex(16)
        ctx.secrets.put(name, value)
    return value
