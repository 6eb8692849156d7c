from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from odooplane.cli.output import console, errors, print_json


def register(app: typer.Typer) -> None:
    @app.command("size")
    def size(
        estate: Path = typer.Option(None, "--estate", "-f", help="Estate file (default: the last applied)."),
        as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
    ) -> None:
        """Recommend workers and memory per pool and dedicated environment from expected users (Odoo's guidance:
        1 worker per ~6 users, ~325 MiB per worker, 2xCPU+1 workers per machine), against this machine."""
        from odooplane.actions import size as action

        with errors():
            report = action.run(estate)
        if as_json:
            print_json({"rows": [r.__dict__ for r in report.rows], "cpus": report.cpus, "memory_mib": report.memory_mib,
                        "machine_workers": report.machine_workers, "workers_now": report.workers_now,
                        "workers_recommended": report.workers_recommended, "ram_now_mib": report.ram_now_mib,
                        "ram_recommended_mib": report.ram_recommended_mib, "fits": report.fits})
            return
        table = Table()
        for column in ("target", "tenants", "users", "workers now", "recommended", "RAM now MiB", "RAM rec. MiB",
                       "limit soft/hard MiB", "max conns"):
            table.add_column(column)
        for r in report.rows:
            style = "yellow" if r.workers_now < r.workers_recommended else ""
            table.add_row(r.target, str(r.tenants), str(r.users), str(r.workers_now or "threaded"),
                          f"[{style}]{r.workers_recommended}[/]" if style else str(r.workers_recommended),
                          str(r.ram_now_mib), str(r.ram_recommended_mib),
                          f"{r.limit_memory_soft_mib}/{r.limit_memory_hard_mib}",
                          "-" if r.connections_max is None else str(r.connections_max))
        console.print(table)
        verdict = "[green]fits[/]" if report.fits else "[red]does not fit[/]"
        console.print(f"machine: {report.cpus} CPUs, {report.memory_mib} MiB → about {report.machine_workers} workers; "
                      f"recommended in total: {report.workers_recommended} workers, {report.ram_recommended_mib} MiB "
                      f"(now {report.workers_now} workers, {report.ram_now_mib} MiB): {verdict}")
