"""``report evidence``: what an auditor asks of one tenant over a period, read from the state store
(evidence, release events, the audit log and its chain, identities, guardrails and waivers) and
written as one HTML page or a PDF."""

from __future__ import annotations

import datetime as dt
import fnmatch
import itertools
from dataclasses import dataclass
from pathlib import Path

from odooplane.actions import estate_file
from odooplane.actions.access import guard
from odooplane.errors import NotFound, UsageError
from odooplane.estate import durations
from odooplane.estate.resolve import DesiredEnvironment
from odooplane.operations import guardrails as checking
from odooplane.operations.context import Context
from odooplane.render import evidence_report as render
from odooplane.store import audit, evidence, identity, journal, releases, waivers

# Audit actions an auditor reads as "access": revealing secrets, signing in, tokens and users,
# shells and exports, refusals.
ACCESS_ACTIONS = ("reveal credentials", "psql-admin", "sign in", "sign out", "token create", "token revoke",
                  "user add", "user remove", "user role", "user password", "authenticate token",
                  "authenticate os user")


@dataclass(frozen=True)
class Written:
    path: Path | None
    pages: int
    report: render.EvidenceReport


def parse_day(text: str, what: str) -> dt.datetime:
    """``2026-11-01`` (midnight UTC) or an ISO 8601 instant with a zone."""
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{what} {text!r}: give a date (2026-11-01) or an instant (2026-11-01T08:00:00+01:00)") \
            from None
    if value.tzinfo is None:
        if len(text) > 10:
            raise UsageError(f"{what} {text!r}: an instant needs its time zone (…+01:00 or …Z)")
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def run(path: Path | None, *, tenant: str, start: str | None, end: str | None, out: Path | None) -> Written:
    if out is not None and out.suffix.lower() not in (".pdf", ".html"):
        raise UsageError(f"--out {out}: name a .pdf or .html file")
    ctx = estate_file.context(path)
    try:
        now = ctx.clock.now()
        until = parse_day(end, "--to") + (dt.timedelta(days=1) if end and len(end) == 10 else dt.timedelta()) \
            if end else now
        since = parse_day(start, "--from") if start else until - dt.timedelta(days=30)
        if since >= until:
            raise UsageError(f"--from {since:%Y-%m-%d %H:%M} is not before --to {until:%Y-%m-%d %H:%M}")
        report = build(ctx, tenant, since, until)
        pages = render.write(report, out) if out is not None else 0
        return Written(out, pages, report)
    finally:
        ctx.close()


def build(ctx: Context, tenant: str, start: dt.datetime, end: dt.datetime) -> render.EvidenceReport:
    envs = [e for e in ctx.valid.environments if e.ref.tenant == tenant]
    if not envs:
        raise NotFound(f"tenant {tenant!r} is not in the estate")
    guard(ctx, "evidence.read", envs)
    guard(ctx, "audit.read", envs)
    targets = [str(e.ref) for e in envs]
    report = render.EvidenceReport(
        estate=ctx.estate.platform.name, tenant=tenant, labels=envs[0].labels.as_dict(), start=start, end=end,
        generated_at=ctx.clock.now(), generated_by=ctx.actor)
    rows = evidence.between(ctx.store, targets=targets, start=start, end=end)
    # A gap is measured from the period's start, or from when the environment was first provisioned.
    # A gap is measured from the newest backup before the period (else from the period's start, or from
    # when the environment was first provisioned) to the period's end.
    born = journal.first_done(ctx.store, targets)
    before: dict[str, dt.datetime] = {}
    for r in evidence.between(ctx.store, targets=targets, start=dt.datetime(1970, 1, 1, tzinfo=dt.UTC), end=start,
                              kinds=("backup",)):
        if r.ok:
            before[r.target] = max(r.ts, before.get(r.target, r.ts))
    report.backups = [_backups(e, [r for r in rows if r.target == str(e.ref)],
                               before.get(str(e.ref)) or max(start, born.get(str(e.ref), start)), end)
                      for e in envs]
    for r in rows:
        if r.kind == "drill":
            objectives = "; ".join(f"{n}: RPO {v.get('rpo_s', 0):.0f} s, RTO {v.get('rto_s', 0):.0f} s"
                                   for n, v in (r.data.get("objectives") or {}).items())
            report.drills.append(render.Drill(r.ts, r.target, r.ok, r.data.get("rpo_s"), r.data.get("rto_s"),
                                              objectives, [str(m) for m in r.data.get("missed") or []]))
    for ev in releases.between(ctx.store, targets=targets, start=start, end=end):
        detail = ev.detail or {}
        text = ""
        if ev.kind == "gate":
            text = "; ".join(f"{g['gate']}: {'passed' if g['passed'] else 'blocked'}" for g in detail.get("gates", []))
        elif "change" in detail:
            text = f"change #{detail['change']}"
        if ev.duration_s is not None:
            text += f" ({ev.duration_s:.0f} s, downtime {ev.downtime_s or 0:.0f} s)"
        report.changes.append(render.Change(ev.ts, ev.target, ev.kind, ev.release or "", ev.status, ev.actor, text))
    report.holders = _holders(ctx, envs, end)
    entries = audit.between(ctx.store, start=start, end=end)
    # Events on the tenant's environments, and those about the principals that reach it (their
    # sign-ins, tokens and roles) — never another tenant's people.
    people = {f"user:{h.name}" for h in report.holders if h.kind == "user"} | {
        h.name for h in report.holders} | {f"token:{h.name}" for h in report.holders if h.kind == "token"}
    report.access = [render.AccessEvent(a.ts, a.actor, a.action, a.target, a.outcome) for a in entries
                     if (a.action in ACCESS_ACTIONS or a.action.startswith("authorize") or
                         a.action.startswith("waiver"))
                     and (a.target == tenant or any(fnmatch.fnmatchcase(t, a.target) for t in targets)
                          or a.target in people or a.actor in people)]
    found = checking.check(ctx, observed=True, targets=envs)
    report.policy = [render.PolicyRow(f.rule, f.severity, f.target, f.status, f.message, f.waiver)
                     for f in found.findings if f.status != "not-checked"]
    for w in waivers.every(ctx.store):
        in_force = (w.approved_at is not None and w.approved_at < end and w.expires_at > start
                    and (w.revoked_at is None or w.revoked_at > start))
        if in_force and any(fnmatch.fnmatchcase(t, w.target) for t in targets):
            report.waivers.append(render.WaiverRow(w.id, w.rule, w.target, w.state(end), w.requested_by,
                                                   w.approved_by or "", w.expires_at, w.reason))
    bad = audit.verify_chain(ctx.store)
    head = audit.entries(ctx.store, limit=1)
    report.chain_intact, report.chain_bad = not bad, bad
    report.chain_entries, report.chain_head = (head[0].id, head[0].hash) if head else (0, None)
    return report


def _backups(env: DesiredEnvironment, rows: list[evidence.Evidence], start: dt.datetime,
             end: dt.datetime) -> render.EnvBackups:
    confirmed = sorted(r.ts for r in rows if r.kind == "backup" and r.ok)
    proofs = [r for r in rows if r.kind == "restore-verification"]
    good = [r for r in proofs if r.ok]
    gap = None
    if env.backup_policy and start < end:
        points = [start, *confirmed, end]
        gap = max((b - a).total_seconds() for a, b in itertools.pairwise(points)) / 3600
    rpo = env.objectives.rpo if env.objectives else ""
    met = None
    if rpo and gap is not None:
        met = gap * 3600 <= durations.parse(rpo).total_seconds()
    return render.EnvBackups(
        target=str(env.ref), stage=env.stage, policy=env.backup_policy or "", rpo=rpo, backups=len(confirmed),
        failed_backups=sum(1 for r in rows if r.kind == "backup" and not r.ok),
        newest_backup=confirmed[-1] if confirmed else None, widest_gap_h=gap, rpo_met=met, proofs=len(good),
        failed_proofs=len(proofs) - len(good), newest_proof=good[-1].ts if good else None,
        proof_rto_s=good[-1].data.get("rto_s") if good else None)


def _holders(ctx: Context, envs: list[DesiredEnvironment], at: dt.datetime) -> list[render.Holder]:
    from odooplane import access
    from odooplane.actions.access import environment_subject

    subjects = [environment_subject(e) for e in envs]

    def reaches(role: str, scopes: list[str]) -> bool:
        scope = access.Scope.parse(scopes)
        return bool(access.ROLES.get(role)) and any(scope.covers(s) for s in subjects)

    out = [render.Holder(u.name, "user", u.role, ", ".join(u.scopes), "active", u.last_login_at)
           for u in identity.users(ctx.store) if reaches(u.role, u.scopes)]
    out += [render.Holder(t.name, "token", t.role, ", ".join(t.scopes), t.state(at), t.last_used_at)
            for t in identity.tokens(ctx.store) if reaches(t.role, t.scopes)]
    return out
