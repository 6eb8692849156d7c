from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from odooplane.cli import kubernetes
from odooplane.cli.output import console, errors, print_json
from odooplane.errors import KubernetesEstate

pitr_app = typer.Typer(help="Point-in-time recovery of managed clusters (pgBackRest; on Kubernetes, CloudNativePG "
                       "with the Barman Cloud plugin).", no_args_is_help=True)
ESTATE = typer.Option(None, "--estate", "-f", help="Estate file (default: the last applied).")


@pitr_app.command("backup")
def backup(
    cluster: str = typer.Argument(..., help="A managed cluster with pitr."),
    kind: str = typer.Option("full", "--kind", help="full, incr or diff (Kubernetes: full)."),
    estate: Path = ESTATE,
    wait: float = typer.Option(3600, "--wait", min=0, help="Kubernetes: seconds to wait for the Backup to complete "
                               "(0: return once it is created)."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Take a base backup now (the worker takes them on the cluster's schedules; on Kubernetes a CloudNativePG
    Backup through the Barman Cloud plugin, and its ScheduledBackup takes them on schedule)."""
    from odooplane.actions import pitr as action

    try:
        with errors(handled=(KubernetesEstate,)):
            made = action.backup(estate, cluster, kind=kind)
    except KubernetesEstate as exc:
        kubernetes.pitr_backup(exc.path, cluster, kind=kind, wait=wait, as_json=as_json)
        return
    if as_json:
        print_json(made)
    else:
        console.print(f"[green]backed up[/] cluster {cluster}: {made['type']} {made['label']}")


@pitr_app.command("info")
def info(
    cluster: str = typer.Argument(..., help="A managed cluster with pitr."),
    estate: Path = ESTATE,
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Base backups, the newest restorable point, and the RPO a loss now would mean (on Kubernetes: the cluster's
    Backups and its object store's recovery window)."""
    from odooplane.actions import pitr as action

    try:
        with errors(handled=(KubernetesEstate,)):
            result = action.info(estate, cluster)
    except KubernetesEstate as exc:
        kubernetes.pitr_info(exc.path, cluster, as_json=as_json)
        return
    if as_json:
        print_json(result.__dict__)
        return
    for b in result.backups:
        console.print(f"{b['label']}  {b['type']:<5} {b['start']} → {b['stop']}")
    console.print(f"newest restorable point: {result.newest_restorable}; RPO now: {result.rpo_s} s")


@pitr_app.command("restore-cluster")
def restore_cluster(
    source: str = typer.Argument(..., help="The managed cluster to restore (with pitr)."),
    to: str = typer.Option(..., "--to", help="A managed cluster declared in the estate and never created."),
    at: str = typer.Option(None, "--at", help="Time to restore to (ISO; default: everything archived)."),
    estate: Path = typer.Option(None, "--estate", "-f", help="Estate file (default: $ODOOPLANE_ESTATE or "
                                "./estate.yaml; never the estate last applied)."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Restore a whole cluster to a time into a new cluster; `apply` then runs it as that cluster (on Kubernetes: a
    new CloudNativePG Cluster bootstrapped from the source's object store up to --at)."""
    from odooplane.actions import estate_file
    from odooplane.actions import pitr as action

    try:
        with errors(handled=(KubernetesEstate,)):
            named = estate_file.named(estate, destructive="pitr restore-cluster")
            point = action.restore_cluster(named.path, source, to, at=at)
    except KubernetesEstate as exc:
        kubernetes.pitr_restore(exc.path, source, to, at=at, as_json=as_json)
        return
    if as_json:
        print_json({"estate": named.name, "estate_file": str(named.path), "requested": point.requested,
                    "newest_restorable": point.newest_restorable})
    else:
        console.print(f"[green]restored[/] cluster {source} of {escape(str(named))} into {to} at "
                      f"{point.requested or 'the newest point'} "
                      f"(newest restorable: {point.newest_restorable}); run apply to start it")


def register(app: typer.Typer) -> None:
    app.add_typer(pitr_app, name="pitr")
