from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from odooplane.cli import kubernetes
from odooplane.cli.output import console, err, errors, print_json
from odooplane.errors import ExitCode, KubernetesEstate


def register(app: typer.Typer) -> None:
    @app.command("down")
    def down(
        estate: Path = typer.Option(None, "--estate", "-f", help="Estate file (default: $ODOOPLANE_ESTATE or "
                                    "./estate.yaml; never the estate last applied)."),
        purge: bool = typer.Option(False, "--purge", help="Also drop databases, roles, filestores, managed clusters "
                                   "and every plaintext copy of tenant data (backup stages, sandboxes, caught mail)."),
        grace: float = typer.Option(None, "--grace", min=0, help="Seconds each process gets to stop before its "
                                    "process group is killed (default: its own stop timeout, 10 to 120 s)."),
        yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask before --purge."),
        as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Stop every process of the estate (the worker, Odoo, Traefik, managed PostgreSQL: one wave each, users
        before what they use), each wave in parallel, a process still running after its grace killed with its
        process group. With --purge, nothing is dropped unless everything but the managed clusters is confirmed
        stopped first. On Kubernetes: every Deployment scaled to 0 and every CloudNativePG Cluster hibernated (volumes
        kept; --grace is how long to wait for it, default 300 s); apply wakes them; --purge is refused there."""
        from odooplane.actions import down as action
        from odooplane.actions import estate_file

        with errors():
            named = estate_file.named(estate, destructive="down --purge" if purge else "down")
            if purge and estate_file.load(named.path).estate.platform.driver == "kubernetes":
                kubernetes.down_estate(named.path, purge=True, wait=grace, as_json=as_json)  # refused, nothing asked
        if purge and not yes and not typer.confirm(
                f"Drop every database, filestore and plaintext copy of {named}? (encrypted backups are kept)"):
            raise typer.Exit(ExitCode.FAILED)
        if not as_json:
            err.print(f"{'purging' if purge else 'stopping'} {named}", markup=False)

        def progress(message: str) -> None:
            if not as_json:
                err.print(message, markup=False)

        try:
            with errors(handled=(KubernetesEstate,)):
                result = action.run(named.path, purge=purge, grace_s=grace, progress=progress)
        except KubernetesEstate as exc:  # scaled to zero and hibernated through the API server
            kubernetes.down_estate(exc.path, purge=purge, wait=grace, as_json=as_json)
            return
        if as_json:
            print_json(result.__dict__)
        else:
            console.print(f"[green]stopped[/] {escape(str(named))}"
                          + (f"; purged {len(result.purged)} object(s)" if purge else ""))
            if purge and result.kept:
                console.print("kept: " + ", ".join(result.kept) + " (see docs/backups.md to remove them)",
                              markup=False)
            for failure in result.failures:
                err.print(f"[bold red]error:[/] {failure}")
        if result.failures:
            raise typer.Exit(ExitCode.FAILED)
