from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from odooplane.cli import kubernetes
from odooplane.cli.output import console, errors, print_json, styled
from odooplane.errors import ExitCode, KubernetesEstate

STATUS_STYLE = {"ok": "green", "warning": "yellow", "critical": "bold red", "unknown": "dim"}


def register(app: typer.Typer) -> None:
    @app.command("health")
    def health(
        tenant: str = typer.Option(None, "--tenant", "-t", help="Only this tenant."),
        label: list[str] = typer.Option(None, "--label", "-l", help="key=value (tier, business_unit, stage, pool…)."),
        status: str = typer.Option(None, "--status", help="Only environments in this status."),
        estate: Path = typer.Option(None, "--estate", "-f", help="Estate file (default: the last applied)."),
        as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
    ) -> None:
        """Probe the fleet now: HTTP through the edge and direct, PostgreSQL, routes and 5xx, backups and restore
        proofs, crons, queues, business activity, disk, certificates. Exit 0 ok · 5 warning · 6 critical."""
        from odooplane.actions import health as action

        try:
            with errors(handled=(KubernetesEstate,)):
                fleet = action.run(estate, tenant=tenant, labels=list(label or []), status=status)
        except KubernetesEstate as exc:  # Deployments, Clusters and /web/health through the API server
            kubernetes.health_estate(exc.path, tenant=tenant, as_json=as_json)
            return
        if as_json:
            print_json({"at": fleet.at.isoformat(), "status": fleet.status, "sweep_s": fleet.sweep_s,
                        "probes": _percentiles(fleet.probe_ms),
                        "host": fleet.host, "host_checks": [c.__dict__ for c in fleet.host_checks],
                        "environments": [
                            {"target": e.target, "status": e.status, "placement": e.placement, **e.labels(),
                             "checks": [c.__dict__ for c in e.checks], "metrics": e.metrics} for e in
                            fleet.environments]})
        else:
            table = Table()
            for column in ("environment", "placement", "tier", "status", "failing checks"):
                table.add_column(column, overflow="fold")
            for e in fleet.environments:
                failing = "; ".join(f"{c.name}: {c.detail or c.value}" for c in e.failing) or "-"
                table.add_row(e.target, e.placement.replace("shared:", "pool "), e.tier,
                              f"[{STATUS_STYLE[e.status]}]{e.status}[/]", failing)
            console.print(table)
            for check in fleet.host_checks:
                if check.status != "ok":
                    console.print(f"host {check.name}: [{STATUS_STYLE[check.status]}]{check.status}[/] {check.detail}")
            console.print(f"swept {len(fleet.environments)} environment(s) in {fleet.sweep_s:.2f} s; disk free "
                          f"{fleet.host['disk_free_ratio']:.0%}; fleet {styled(fleet.status)}")
        worst = fleet.status
        if worst == "critical":
            raise typer.Exit(ExitCode.CRITICAL)
        if worst in ("warning", "unknown"):
            raise typer.Exit(ExitCode.UNHEALTHY)


def _percentiles(timings: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    """p50/p95 latency per probe kind of the sweep (ms)."""
    out = {}
    for name, values in sorted(timings.items()):
        if values:
            ordered = sorted(values)
            out[name] = {"count": len(ordered), "p50_ms": round(ordered[len(ordered) // 2], 1),
                         "p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 1)}
    return out
