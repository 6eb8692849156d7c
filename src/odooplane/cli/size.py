from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from odooplane.cli.output import console, errors, print_json

if TYPE_CHECKING:
    from odooplane.estate import sizing


def _registries(r: sizing.Sizing) -> str:
    if r.registry_lru is None:
        return "-"
    short = r.cron_share_max is not None and r.registry_lru < r.cron_share_max
    return f"[yellow]{r.registry_lru}[/]" if short else str(r.registry_lru)


def register(app: typer.Typer) -> None:
    @app.command("size")
    def size(
        estate: Path = typer.Option(None, "--estate", "-f", help="Estate file (default: the last applied)."),
        as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
    ) -> None:
        """Recommend workers and memory per pool and dedicated environment from expected users (Odoo's guidance:
        1 worker per ~6 users, ~325 MiB per worker, 2xCPU+1 workers per machine), against this machine.
        For pools also: the most connections its processes may hold, the most tenants one process's cron
        workers visit, and how many registries each process keeps loaded (limit_memory_soft / 15 MiB)."""
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
                       "limit soft/hard MiB", "max conns", "crons/process", "registries"):
            table.add_column(column)
        for r in report.rows:
            style = "yellow" if r.workers_now < r.workers_recommended else ""
            table.add_row(r.target, str(r.tenants), str(r.users), str(r.workers_now or "threaded"),
                          f"[{style}]{r.workers_recommended}[/]" if style else str(r.workers_recommended),
                          str(r.ram_now_mib), str(r.ram_recommended_mib),
                          f"{r.limit_memory_soft_mib}/{r.limit_memory_hard_mib}",
                          "-" if r.connections_max is None else str(r.connections_max),
                          "-" if r.cron_share_max is None else str(r.cron_share_max), _registries(r))
        console.print(table)
        for r in report.rows:
            if r.cron_share_max and r.registry_lru is not None and r.registry_lru < r.cron_share_max:
                console.print(f"{r.target}: each process keeps {r.registry_lru} registries loaded but its cron workers "
                              f"visit {r.cron_share_max} tenants, so they reload registries; "
                              f"limits.memory_soft_mib: {r.memory_soft_for_crons_mib} keeps them loaded")
        verdict = "[green]fits[/]" if report.fits else "[red]does not fit[/]"
        console.print(f"machine: {report.cpus} CPUs, {report.memory_mib} MiB → about {report.machine_workers} workers; "
                      f"recommended in total: {report.workers_recommended} workers, {report.ram_recommended_mib} MiB "
                      f"(now {report.workers_now} workers, {report.ram_now_mib} MiB): {verdict}")
