"""``odooplane kubernetes``: the kubernetes driver's verbs that reach a cluster."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from odooplane.cli.output import console, err, errors, print_json

kubernetes_app = typer.Typer(help="Apply an estate's manifests to a Kubernetes cluster (platform.driver: kubernetes).",
                             no_args_is_help=True)


CONTEXT = typer.Option(None, "--context", help="kubeconfig context (default: platform.kubernetes.context, then the "
                       "current one).")
KUBECONFIG = typer.Option(None, "--kubeconfig", help="kubeconfig file (default: $KUBECONFIG or ~/.kube/config).")


def register(app: typer.Typer) -> None:
    app.add_typer(kubernetes_app, name="kubernetes")


@kubernetes_app.command("apply")
def apply(
    estate: Path = typer.Argument(None, help="Estate file (default: $ODOOPLANE_ESTATE or ./estate.yaml)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Ask the API server what it would store (dryRun=All): "
                                 "nothing is stored; missing Secrets are reported, not refused."),
    context: str = CONTEXT,
    kubeconfig: str = KUBECONFIG,
    wait: float = typer.Option(0, "--wait", min=0, help="Then wait up to this many seconds for every Deployment and "
                               "Cluster to be ready (and Argo CD Applications synced): exit 1 naming what is not."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Server-side apply (field manager "odooplane") of the estate's synced manifests — the tree `render --out`
    writes, without secrets/, jobs/ and argocd/ — in dependency order. Every Secret they need must exist first:
    otherwise only the namespaces are applied (exit 1) and the missing Secrets are listed."""
    apply_estate(estate, dry_run=dry_run, context=context, kubeconfig=kubeconfig, wait=wait, as_json=as_json)


def apply_estate(estate: Path | None, *, dry_run: bool, context: str | None = None, kubeconfig: str | None = None,
                 wait: float = 0, as_json: bool = False) -> None:
    """`odooplane kubernetes apply`, also what `odooplane apply` and `plan` (dry run) do on a kubernetes estate."""
    from odooplane.actions import kubernetes as action

    with errors():
        result = action.apply(estate, dry_run=dry_run, context=context, kubeconfig=kubeconfig)
        if wait and not dry_run:
            action.wait_ready(estate, timeout=wait, context=context, kubeconfig=kubeconfig)
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
    console.print(f"{len(result.applied)} object(s): {counts['created']} {verb} created, {counts['changed']} "
                  f"{verb} changed, {counts['unchanged']} unchanged", markup=False)
    for missing in result.missing_secrets:
        err.print(f"missing Secret {missing} (apply refuses until it exists)", markup=False)


@kubernetes_app.command("status")
def status(
    estate: Path = typer.Argument(None, help="Estate file (default: $ODOOPLANE_ESTATE or ./estate.yaml)."),
    context: str = CONTEXT,
    kubeconfig: str = KUBECONFIG,
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """What runs of the estate on the cluster: each Deployment's ready replicas against its rendered count, each
    CloudNativePG Cluster's ready instances and phase, and — with platform.kubernetes.gitops — each Argo CD
    Application's sync and health. Exit 0 when everything is ready and synced, 5 otherwise."""
    from odooplane.actions import kubernetes as action
    from odooplane.errors import ExitCode

    with errors():
        result = action.status(estate, context=context, kubeconfig=kubeconfig)
    if as_json:
        print_json({"ready": result.ready,
                    "objects": [{"kind": o.kind, "namespace": o.namespace, "name": o.name, "ready": o.ready,
                                 "detail": o.detail} for o in result.objects],
                    "applications": result.applications})
    else:
        table = Table("kind", "namespace", "name", "state")
        for o in result.objects:
            state = "ready" if o.ready else ("absent" if o.ready is None else "not ready")
            table.add_row(o.kind, o.namespace, o.name, f"{state} ({o.detail})")
        console.print(table)
        if result.applications:
            apps = Table("application", "sync", "health", "revision", title="Argo CD")
            for a in result.applications:
                apps.add_row(a["name"], a["sync"], a["health"], a["revision"][:12])
            console.print(apps)
    if not result.ready:
        raise typer.Exit(int(ExitCode.UNHEALTHY))
