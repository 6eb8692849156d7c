from __future__ import annotations

from pathlib import Path

import typer

from odooplane.cli.output import console, errors, print_json, styled
from odooplane.errors import UsageError
from odooplane.render.report import ORDER

report_app = typer.Typer(help="Reports a person reads: the fleet's health page.", no_args_is_help=True)


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
