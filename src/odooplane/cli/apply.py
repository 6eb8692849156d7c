from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from odooplane.cli import kubernetes
from odooplane.cli.output import console, err, errors, print_json
from odooplane.cli.plan import print_plan
from odooplane.errors import ExitCode, KubernetesEstate, UsageError

if TYPE_CHECKING:
    from odooplane.planner.plan import Plan


def register(app: typer.Typer) -> None:
    @app.command("apply")
    def apply(
        estate: Path = typer.Argument(None, help="Estate file (default: $ODOOPLANE_ESTATE or ./estate.yaml)."),
        prune: bool = typer.Option(False, "--prune", help="Also drop databases/roles/files of removed environments."),
        parallel: int = typer.Option(4, "--parallel", min=1, max=32, help="Environments converged at once."),
        as_json: bool = typer.Option(False, "--json", help="Print the result as JSON (no progress output)."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No plan table and no progress bar."),
        retry_failed: bool = typer.Option(False, "--retry-failed", help="Try again the upgrades that failed and "
                                          "were rolled back, even though their release did not change."),
    ) -> None:
        """Converge what runs with the estate: clusters, edge routes, databases, Odoo processes."""
        from odooplane.actions import apply as action
        from odooplane.actions import estate_file
        from odooplane.planner import plan as planner

        show = not (as_json or quiet)
        if prune:  # drops the data of removed environments: say which estate before anything happens
            with errors():
                named = estate_file.named(estate, destructive="apply --prune")
            estate = named.path
            if not as_json:
                err.print(f"pruning {named}", markup=False)
        progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TextColumn(
            "{task.completed}/{task.total} steps"), TimeElapsedColumn(), console=err, transient=True, disable=not show)
        task = progress.add_task("planning", total=None)
        lock = threading.Lock()

        def on_plan(plan: Plan) -> None:
            if show:
                progress.stop()
                print_plan(plan)
                progress.start()
            progress.update(task, total=max(1, len(planner.actionable(plan.changes)) * 2))

        def listener(event: str, step: str, target: str) -> None:
            with lock:
                if event == "start":
                    progress.update(task, description=f"{target}: {step}")
                else:
                    progress.advance(task)

        try:
            with errors(handled=(KubernetesEstate,)), progress:
                result = action.run(estate, prune=prune, parallel=parallel, listener=listener, on_plan=on_plan,
                                    retry_failed=retry_failed)
        except KubernetesEstate as exc:  # the kubernetes driver applies the rendered manifests
            if prune:
                with errors():
                    raise UsageError("--prune: on kubernetes, removed objects are pruned by Argo CD (or kubectl "
                                     "apply --prune); Databases are retained") from None
            kubernetes.apply_estate(exc.path, dry_run=False, as_json=as_json)
            return
        if as_json:
            print_json({
                "ok": result.ok, "operation": result.operation_id, "duration_s": round(result.duration_s, 3),
                "plan": result.plan.as_dict(), "failures": result.failures,
                "steps": [s.__dict__ for s in result.steps],
                "upgrades": [u.__dict__ for u in result.upgrades],
            })
        else:
            done = sum(1 for s in result.steps if s.status == "done")
            if result.ok and not quiet:
                console.print(f"[green]applied[/] in {result.duration_s:.1f} s ({done} steps, operation "
                              f"#{result.operation_id})")
            for upgrade in result.upgrades:
                if upgrade.status == "upgraded" and not quiet:
                    installed = f", {len(upgrade.installed)} installed" if upgrade.installed else ""
                    console.print(f"upgraded {upgrade.target} {upgrade.from_release or '-'} → {upgrade.to_release}: "
                                  f"{len(upgrade.updated)} module(s) updated{installed}, "
                                  f"downtime {upgrade.downtime_s:.1f} s")
            for failure in result.failures:
                err.print("[bold red]error:[/] ", end="")
                err.print(failure, markup=False)
        if not result.ok:
            raise typer.Exit(ExitCode.FAILED)
