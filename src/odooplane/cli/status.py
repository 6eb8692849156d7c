from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape
from rich.table import Table

from odooplane.cli.output import console, errors, print_json, styled
from odooplane.errors import ExitCode

if TYPE_CHECKING:
    from odooplane.actions.status import EnvStatus


def backup_cell(env: EnvStatus) -> str:
    """The *backed up* column: why the newest backup failed, else when the newest confirmed one was."""
    if env.backup_failing:
        since = f" (newest confirmed {env.last_backup})" if env.last_backup else ""
        return f"[red]backup failing:[/] {escape(env.backup_failing)}{since}"
    if env.backup_policy is None:
        return "[dim]off[/]"
    return env.last_backup or "[yellow]never[/]"


def verified_cell(env: EnvStatus) -> str:
    if env.verification_failed:
        return "[red]FAILED[/]"
    if env.backup_policy is None:
        return "[dim]off[/]"
    return env.last_verified or "[yellow]never[/]"


def health_cell(env: EnvStatus) -> str:
    """The *health* column: the state, with the age of the sweep it comes from (none: probed now)."""
    if env.health_checked_at is None:
        return styled(env.health)
    import datetime as dt

    age = dt.datetime.now(dt.UTC) - dt.datetime.fromisoformat(env.health_checked_at)
    seconds = max(0, int(age.total_seconds()))
    ago = f"{seconds}s" if seconds < 120 else f"{seconds // 60}m"
    return f"{styled(env.health)} [dim]({ago} ago)[/]"


def register(app: typer.Typer) -> None:
    @app.command("status")
    def status(
        estate: Path = typer.Option(None, "--estate", "-f", help="Estate file (default: the last applied)."),
        tenant: str = typer.Option(None, "--tenant", "-t", help="Only this tenant."),
        as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
        probe: bool = typer.Option(False, "--probe", help="Ask every Odoo process for its health now "
                                   "(default: the last health sweep's result where it is recent)."),
    ) -> None:
        """Every environment: runtime, URL, process, health, ports, database. Exit 5 if one is unhealthy.

        Health is the last sweep's (worker or `odooplane health`) when it is younger than 15 minutes
        and than the process, with its age; an environment without one is probed now."""
        from odooplane.actions import status as action

        with errors():
            result = action.run(estate, tenant=tenant, probe=probe)
        if as_json:
            print_json(result.as_dict())
        else:
            console.print(
                f"estate {result.estate} · edge {styled(result.edge)} {result.edge_url} · clusters: "
                + ", ".join(f"{n} {styled(s)}" for n, s in result.clusters.items())
            )
            table = Table()
            for column in (
                "environment",
                "runtime",
                "placement",
                "state",
                "health",
                "route",
                "url",
                "pid",
                "ports",
                "db MiB",
                "conns",
                "backed up",
                "restore verified",
            ):
                table.add_column(column, overflow="fold")
            for env in result.environments:
                ports = f"{env.http_port}/{env.evented_port}" if env.http_port else "-"
                table.add_row(
                    env.target,
                    env.runtime,
                    env.placement.replace("shared:", "pool "),
                    styled(env.state),
                    health_cell(env),
                    styled(env.route),
                    env.url,
                    str(env.pid or "-"),
                    ports,
                    "-" if env.db_size_mib is None else f"{env.db_size_mib:.1f}",
                    "-" if env.connections is None else str(env.connections),
                    backup_cell(env),
                    verified_cell(env),
                )
            console.print(table)
            for pool in result.pools:
                states = ", ".join(f"{p['name']} {styled(p['state'])}" for p in pool["processes"]) or "not provisioned"
                console.print(
                    f"pool {pool['name']} ({pool['stack']} on {pool['cluster']}, "
                    f"{pool['workers'] or 'threaded'} workers): {states}; "
                    f"{len(pool['tenants'])} tenant(s): {', '.join(pool['tenants'])}"
                )
            for env in result.environments:
                if env.release_failed:
                    console.print(f"[red]release[/] {env.target}: {escape(env.release_failed)} "
                                  f"(runs {env.release or 'its previous code'})")
            for orphan in result.orphans:
                console.print(f"[yellow]orphan[/] {orphan['kind']} {orphan['name']} {orphan['target']}")
            for leftover in result.leftovers:
                console.print(f"[yellow]left by an interrupted operation[/] {escape(leftover['description'])} "
                              "(the next apply removes it)")
        if not result.healthy:
            raise typer.Exit(ExitCode.UNHEALTHY)
