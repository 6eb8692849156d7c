"""``odooplane kubernetes``: the kubernetes driver's verbs that reach a cluster."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from odooplane.cli.output import console, err, errors, print_json

kubernetes_app = typer.Typer(help="Apply an estate's manifests to a Kubernetes cluster (platform.driver: kubernetes).",
                             no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(kubernetes_app, name="kubernetes")


@kubernetes_app.command("apply")
def apply(
    estate: Path = typer.Argument(None, help="Estate file (default: $ODOOPLANE_ESTATE or ./estate.yaml)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Ask the API server what it would store (dryRun=All): "
                                 "nothing is stored; missing Secrets are reported, not refused."),
    context: str = typer.Option(None, "--context", help="kubeconfig context (default: platform.kubernetes.context, "
                                "then the current one)."),
    kubeconfig: str = typer.Option(None, "--kubeconfig", help="kubeconfig file (default: $KUBECONFIG or "
                                   "~/.kube/config)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Server-side apply (field manager "odooplane") of the estate's synced manifests — the tree `render --out`
    writes, without secrets/, jobs/ and argocd/ — in dependency order. Every Secret they need must exist first:
    otherwise nothing is applied (exit 1) and the missing ones are listed."""
    from odooplane.actions import kubernetes as action

    with errors():
        result = action.apply(estate, dry_run=dry_run, context=context, kubeconfig=kubeconfig)
    if as_json:
        print_json({"dry_run": result.dry_run, "counts": result.counts(), "missing_secrets": result.missing_secrets,
                    "objects": [{"kind": a.kind, "namespace": a.namespace, "name": a.name, "outcome": a.outcome}
                                for a in result.applied]})
        return
    table = Table("kind", "namespace", "name", "outcome", title="dry run" if dry_run else None)
    for item in result.applied:
        if item.outcome != "unchanged":
            table.add_row(item.kind, item.namespace or "", item.name, item.outcome)
    if table.row_count:
        console.print(table)
    counts = result.counts()
    verb = "would be" if dry_run else "were"
    console.print(f"{len(result.applied)} object(s): {counts['created']} {verb} created, {counts['configured']} "
                  f"{verb} changed, {counts['unchanged']} unchanged", markup=False)
    for missing in result.missing_secrets:
        err.print(f"missing Secret {missing} (apply refuses until it exists)", markup=False)
