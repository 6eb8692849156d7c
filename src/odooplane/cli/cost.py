from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import typer
from rich.table import Table
from rich.text import Text

from odooplane.cli.output import console, errors, print_json

cost_app = typer.Typer(help="Cost allocation: usage measured per environment, priced by the estate's price book "
                            "(docs/cost.md).", no_args_is_help=True)

COLUMNS = ("vcpu_hours", "gib_hours", "storage_gb_month", "backup_gb_month", "egress_gb", "compute", "storage",
           "backup", "egress", "total", "asleep_hours", "savings")


def register(app: typer.Typer) -> None:
    app.add_typer(cost_app, name="cost")


def report_json(done: Any) -> dict[str, Any]:
    return {"currency": done.currency, "by": done.by, "months": [{
        "month": m.month, "total": m.total,
        "lines": [dict(line.__dict__) for line in m.lines],
        "environments": [{**c.__dict__, "total": c.total} for c in m.environments],
    } for m in done.months]}


@cost_app.command("report")
def report(
    month: str = typer.Option(None, "--month", help="The month (2026-11; default: this one, so far)."),
    months: int = typer.Option(1, "--months", help="A trend: this many months up to --month (1 to 24)."),
    by: str = typer.Option("tenant", "--by", help="tenant, business_unit, brand, site, cost_centre, stage or "
                           "environment."),
    estate: Path = typer.Option(None, "--estate", "-f", help="Estate file (default: the last applied)."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON (every environment's usage too)."),
    as_csv: bool = typer.Option(False, "--csv", help="Print the month's lines as CSV (one per group and month "
                                "with --months)."),
) -> None:
    """What each tenant, business unit, brand, site, cost centre, stage or environment used and cost: compute
    measured by the worker (pooled environments' share of their pool by their requests and database time),
    database and filestore sizes, backups kept, bytes served."""
    from odooplane.actions import cost as action

    with errors():
        done = action.report(estate, month=month, months=months, by=by)
    if as_json:
        print_json(report_json(done))
        return
    if as_csv:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["month", by, "environments", *COLUMNS, "currency", "basis"])
        for m in done.months:
            for line in m.lines:
                writer.writerow([m.month, line.key, line.environments,
                                 *(f"{getattr(line, c):.4f}" for c in COLUMNS), done.currency, "; ".join(line.bases)])
        typer.echo(buffer.getvalue(), nl=False)
        return
    if len(done.months) > 1:
        table = Table(title=f"Cost by {by} ({done.currency})")
        table.add_column(by)
        for m in done.months:
            table.add_column(m.month, justify="right")
        keys = sorted({line.key for m in done.months for line in m.lines})
        for key in keys:
            row = [next((f"{line.total:.2f}" for line in m.lines if line.key == key), "—") for m in done.months]
            table.add_row(Text(key), *row)
        table.add_row("total", *(f"{m.total:.2f}" for m in done.months))
        console.print(table)
        return
    (m,) = done.months
    table = Table(title=f"Cost by {by}, {m.month} ({done.currency})")
    for column in (by, "envs", "vCPU·h", "GiB·h", "storage GB·mo", "backup GB·mo", "egress GB", "compute",
                   "storage", "backup", "egress", "total", "basis"):
        table.add_column(column, justify="left" if column in (by, "basis") else "right")
    for line in m.lines:
        table.add_row(Text(line.key), str(line.environments), f"{line.vcpu_hours:.2f}", f"{line.gib_hours:.2f}",
                      f"{line.storage_gb_month:.3f}", f"{line.backup_gb_month:.3f}", f"{line.egress_gb:.3f}",
                      f"{line.compute:.2f}", f"{line.storage:.2f}", f"{line.backup:.2f}", f"{line.egress:.2f}",
                      f"{line.total:.2f}", "; ".join(line.bases))
    console.print(table)
    saved = sum(line.savings for line in m.lines)
    console.print(f"total {m.total:.2f} {done.currency}" + (
        f"; sleeping non-production saved {saved:.2f} {done.currency} "
        f"({sum(line.asleep_hours for line in m.lines):.0f} h asleep)" if saved else ""))
