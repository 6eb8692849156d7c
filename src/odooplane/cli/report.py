from __future__ import annotations

from pathlib import Path

import typer

from odooplane.cli.output import console, errors, print_json, styled
from odooplane.errors import UsageError
from odooplane.render.report import ORDER

report_app = typer.Typer(help="Reports a person reads: the fleet's health page, evidence for auditors.",
                        no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(report_app, name="report")


@report_app.command("health")
def health(
    html: Path = typer.Option(None, "--html", help="Write the page here (one self-contained HTML file)."),
    hours: int = typer.Option(24, "--hours", help="History shown, in hours (1 to 48)."),
    sweep: bool = typer.Option(True, "--sweep/--no-sweep", help="Probe the fleet now first (default) or only "
                               "draw what the worker's sweeps recorded."),
    tenant: str = typer.Option(None, "--tenant", "-t", help="Only this tenant."),
    estate: Path = typer.Option(None, "--estate", "-f", help="Estate file (default: the last applied)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report's data as JSON."),
) -> None:
    """The fleet status page: one row per tenant with its status now, and per environment a strip of the
    last 24 h of probe results (30-minute cells, worst status in each), availability, /web/login latency
    and the failing checks. History comes from the sweeps the worker (and `health`) recorded."""
    from odooplane.actions import report as action

    with errors():
        if html is None and not as_json:
            raise UsageError("give --html FILE (the page) or --json (its data)")
        done = action.health(estate, output=html, hours=hours, sweep=sweep, tenant=tenant)
    if as_json:
        print_json({
            "generated_at": done.report.generated_at, "hours": done.report.window_hours, "sweeps": done.sweeps,
            "html": str(done.path) if done.path else None,
            "tenants": [{"tenant": t.tenant, "status": t.status, "tier": t.tier, "environments": [
                {"target": e.target, "status": e.status, "availability": e.availability, "failing": e.failing,
                 "history": [s.status for s in e.slots]} for e in t.environments]} for t in done.report.tenants]})
        return
    envs = sum(len(t.environments) for t in done.report.tenants)
    worst = max((t.status for t in done.report.tenants), key=lambda s: ORDER.get(s, 1), default="unknown")
    console.print(f"wrote {done.path}: {len(done.report.tenants)} tenant(s), {envs} environment(s), "
                  f"{done.sweeps} sweep(s) in the last {hours} h; fleet {styled(worst)}")


@report_app.command("evidence")
def evidence_report(
    tenant: str = typer.Option(..., "--tenant", "-t", help="The tenant the report is about."),
    start: str = typer.Option(None, "--from", help="First day (2026-11-01) or instant (default: 30 days before --to)."),
    end: str = typer.Option(None, "--to", help="Last day, included (2026-11-30), or instant (default: now)."),
    out: Path = typer.Option(None, "--out", "-o", help="Write the report here: .pdf (WeasyPrint) or .html "
                             "(one self-contained page)."),
    estate: Path = typer.Option(None, "--estate", "-f", help="Estate file (default: the last applied)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report's data as JSON."),
) -> None:
    """Evidence for auditors about one tenant over a period: backups and restore proofs against its
    objectives, drills with measured RPO/RTO, changes with approvals and gate decisions, access (roles,
    token use, secrets revealed), guardrails and waivers, and the audit chain verified with its head hash.
    Needs evidence.read and audit.read on the tenant (the auditor role)."""
    from odooplane.actions import evidence_report as action

    with errors():
        if out is None and not as_json:
            raise UsageError("give --out FILE (.pdf or .html) or --json (its data)")
        done = action.run(estate, tenant=tenant, start=start, end=end, out=out)
    r = done.report
    if as_json:
        print_json({"path": str(done.path) if done.path else None, "pages": done.pages, **r.as_dict()})
        return
    failing = sum(1 for p in r.policy if p.status in ("fail", "error"))
    console.print(f"wrote {done.path} ({done.pages} page(s)): {r.tenant}, {r.start:%Y-%m-%d} to {r.end:%Y-%m-%d}; "
                  f"{sum(b.backups for b in r.backups)} backup(s), {sum(b.proofs for b in r.backups)} restore "
                  f"proof(s), {len(r.drills)} drill(s), {len(r.changes)} change event(s), {failing} guardrail "
                  f"violation(s); audit chain {'intact' if r.chain_intact else 'BROKEN'}", markup=False)
