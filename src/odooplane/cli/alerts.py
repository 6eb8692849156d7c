from __future__ import annotations

from pathlib import Path

import typer

from odooplane.cli.output import console, errors, print_json

alerts_app = typer.Typer(help="Alert rules, Alertmanager routing, scrape configuration and dashboard.",
                         no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(alerts_app, name="alerts")


@alerts_app.command("render")
def render(
    output: Path = typer.Option(None, "--output", "-o", help="Directory (default: <data_dir>/monitoring)."),
    check: bool = typer.Option(False, "--check", help="Check the files with promtool and amtool."),
    estate: Path = typer.Option(None, "--estate", "-f", help="Estate file (default: the last applied)."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Write rules.yml (page / ticket / info tiers), alertmanager.yml, prometheus.yml (scrapes the worker's
    exporter and the edge) and dashboard.json (Grafana) for the estate. Re-run after every estate change."""
    from odooplane.actions import alerts as action

    with errors():
        done = action.run(estate, output=output, run_checks=check)
    if as_json:
        print_json({"directory": str(done.directory), "files": {k: str(v) for k, v in done.files.items()},
                    "environments": done.environments, "checked": done.checked})
        return
    for path in done.files.values():
        console.print(f"wrote {path}")
    for item in done.checked:
        console.print(f"[green]✓[/] {item}")
    console.print(f"{done.environments} environment(s) monitored")
