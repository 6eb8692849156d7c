"""``odooplane kubernetes``: the kubernetes driver's verbs that reach a cluster."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

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
    app.add_typer(gitops_app, name="gitops")


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
                    "session_users": result.session_users,
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
    if result.session_users:
        console.print(f"{len(result.session_users)} Redis session user(s) in place: {', '.join(result.session_users)}",
                      markup=False)
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
            _applications(result.applications)
    if not result.ready:
        raise typer.Exit(int(ExitCode.UNHEALTHY))


def _run_stage(task: str, what: str, stage: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    """Run a Job's ``stage`` on ``task`` (JSON) and print its result as one JSON line (``ok: false``
    and the error, exit 1, when it failed; exit 2 when the task is not a JSON object)."""
    import json

    from odooplane import log
    from odooplane.errors import OdooplaneError

    try:
        parsed = json.loads(task)
        if not isinstance(parsed, dict):
            raise ValueError("not a JSON object")
    except ValueError as exc:
        print(json.dumps({"ok": False, "error": f"{what} task: {exc}"}))
        raise typer.Exit(2) from None
    try:
        outcome = stage(parsed)
    except OdooplaneError as exc:
        print(json.dumps({"ok": False, "error": log.mask(exc.message)}))
        raise typer.Exit(1) from None
    except Exception as exc:  # the database's or the file system's own errors: said, as the result
        print(json.dumps({"ok": False, "error": log.mask(f"{type(exc).__name__}: {exc}")}))
        raise typer.Exit(1) from None
    print(json.dumps(outcome, sort_keys=True))


@kubernetes_app.command("backup-stage", hidden=True)
def backup_stage(task: str = typer.Argument(..., help="The backup task (JSON), as `backup run` writes it.")) -> None:
    """What a backup Job runs in the cluster: dump, filestore copy, manifest, restic; prints one JSON
    line (`ok` and the snapshots, or `ok: false` and the error) and exits 1 when it failed."""
    from odooplane.actions import kubernetes_backup

    _run_stage(task, "backup", kubernetes_backup.stage)


@kubernetes_app.command("verify-stage", hidden=True)
def verify_stage(task: str = typer.Argument(..., help="The verification task (JSON), as `verify` "
                                                        "writes it.")) -> None:
    """What a verification Job runs in the cluster: restore, artifact checks, scratch database,
    pg_restore, row counts, modules, attachments; prints one JSON line (`ok` with the `failures`
    found, or `ok: false` and the error) and exits 1 when it could not do the work."""
    from odooplane.actions import kubernetes_verify

    _run_stage(task, "verification", kubernetes_verify.stage)


@kubernetes_app.command("restore-stage", hidden=True)
def restore_stage(task: str = typer.Argument(..., help="The restore step (JSON), as `restore` writes it.")) -> None:
    """What a restore's Jobs run in the cluster, one step each (restore-db, identity, neutralize,
    restore-fs, swap-db, swap-fs, discard-db); prints one JSON line (`ok`, or `ok: false` and the
    error) and exits 1 when it failed."""
    from odooplane.actions import kubernetes_restore

    _run_stage(task, "restore", kubernetes_restore.stage)


@kubernetes_app.command("upgrade-stage", hidden=True)
def upgrade_stage(task: str = typer.Argument(..., help="The upgrade step (JSON), as `promote` writes it.")) -> None:
    """What an upgrade's Jobs run in the cluster, one step each (snapshot-db, snapshot-fs, rollback-db,
    rollback-fs, finish-db, finish-fs); prints one JSON line and exits 1 when it failed."""
    from odooplane.actions import kubernetes_upgrade

    _run_stage(task, "upgrade", kubernetes_upgrade.stage)


@kubernetes_app.command("init")
def init(
    target: str = typer.Argument(..., help="tenant/env whose new database Odoo makes."),
    estate: Path = typer.Argument(None, help="Estate file (default: $ODOOPLANE_ESTATE or ./estate.yaml)."),
    wait: float = typer.Option(3600, "--wait", min=0, help="Seconds to wait for the Job (0: return once created)."),
    context: str = CONTEXT,
    kubeconfig: str = KUBECONFIG,
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Run the environment's init Job (render --out writes it under jobs/: `odoo -i base,<modules>
    --stop-after-init` on its new, empty database), wait for it, then restart the Deployments that serve the
    environment (cron servers load their databases at start). Run once: a Job that succeeded is not run again; a
    failed one exits 1 with Odoo's reason and stays for inspection (delete it to run again)."""
    from odooplane.actions import kubernetes_ops as action

    with errors():
        result = action.init(estate, target, wait=wait, context=context, kubeconfig=kubeconfig)
    if as_json:
        print_json(result.__dict__)
        return
    if result.outcome in ("created", "running"):
        console.print(f"Job {result.namespace}/{result.job} {result.outcome} (not waited for: run init again to wait "
                      "and restart what serves)", markup=False)
    elif result.outcome == "already succeeded":
        console.print(f"{result.target}: its init Job {result.namespace}/{result.job} succeeded before; nothing to do",
                      markup=False)
    else:
        console.print(f"[green]initialised[/] {result.target} (Job {result.namespace}/{result.job}); restarted "
                      f"{', '.join(result.restarted) or 'nothing (restarted since, or no Deployment yet)'}")


# -- the verbs a kubernetes estate answers on the cluster (their CLI commands hand over here) -------

def logs_estate(estate: Path | None, target: str, query: object, *, sources: str | None, follow: bool,
                as_json: bool) -> None:
    """`odooplane logs` on a kubernetes estate: the pod logs API."""
    from odooplane.actions import kubernetes_ops as action
    from odooplane.actions import logs as logs_action

    assert isinstance(query, logs_action.LogQuery)
    with errors():
        found, following = action.logs(estate, target, query, sources=sources)
    if as_json:
        print_json([{"source": ln.source, "at": ln.at.isoformat() if ln.at else None, "level": ln.level,
                     "line": ln.text} for ln in found])
        return
    tagged = len({ln.source for ln in found}) > 1 or (sources is not None and "," in sources)
    for line in found:
        typer.echo(f"[{line.source}] {line.text}" if tagged else line.text)
    if follow:
        with errors():
            for line in following():
                typer.echo(f"[{line.source}] {line.text}" if tagged else line.text)


def health_estate(estate: Path | None, *, tenant: str | None, as_json: bool) -> None:
    """`odooplane health` on a kubernetes estate: Deployments, Clusters and /web/health."""
    from odooplane.actions import kubernetes_ops as action
    from odooplane.cli.output import styled
    from odooplane.errors import ExitCode

    with errors():
        found = action.health(estate, tenant=tenant)
    order = ("ok", "unknown", "warning", "critical")
    fleet = max((e.status for e in found), key=order.index, default="ok")
    if as_json:
        print_json({"status": fleet, "environments": [
            {"target": e.target, "status": e.status, "placement": e.placement, "tier": e.tier,
             "checks": [c.__dict__ for c in e.checks]} for e in found]})
    else:
        table = Table("environment", "placement", "tier", "status", "failing checks")
        for e in found:
            failing = "; ".join(f"{c.name}: {c.detail}" for c in e.failing) or "-"
            table.add_row(e.target, e.placement.replace("shared:", "pool "), e.tier, styled(e.status), failing)
        console.print(table)
        console.print(f"{len(found)} environment(s) on the cluster; fleet {styled(fleet)}")
    if fleet == "critical":
        raise typer.Exit(int(ExitCode.CRITICAL))
    if fleet in ("warning", "unknown"):
        raise typer.Exit(int(ExitCode.UNHEALTHY))


def pitr_backup(estate: Path | None, cluster: str, *, kind: str, wait: float, as_json: bool) -> None:
    """`odooplane pitr backup` on a kubernetes estate: a CloudNativePG Backup (Barman Cloud plugin)."""
    from odooplane.actions import kubernetes_ops as action
    from odooplane.errors import UsageError

    with errors():
        if kind != "full":
            raise UsageError(f"--kind {kind}: CloudNativePG takes full base backups only (the WAL archive fills the "
                             "gaps between them)")
        row = action.pitr_backup(estate, cluster, wait=wait)
    if as_json:
        print_json(row)
    elif row["phase"] == "completed":
        console.print(f"[green]backed up[/] cluster {cluster}: Backup {row['name']} completed "
                      f"({row['started']} → {row['stopped']}, WAL {row['begin_wal']} → {row['end_wal']})")
    else:
        console.print(f"Backup {row['name']} of cluster {cluster} created; phase {row['phase']} "
                      f"(odooplane pitr info {cluster} follows it)", markup=False)


def pitr_info(estate: Path | None, cluster: str, *, as_json: bool) -> None:
    from odooplane.actions import kubernetes_ops as action

    with errors():
        info = action.pitr_info(estate, cluster)
    if as_json:
        print_json(info.__dict__)
        return
    table = Table("backup", "phase", "started", "stopped", "WAL")
    for b in info.backups:
        table.add_row(b["name"], b["phase"], b["started"] or "-", b["stopped"] or "-",
                      f"{b['begin_wal'] or '?'} → {b['end_wal'] or '?'}" if b["begin_wal"] else "-")
    console.print(table)
    console.print(f"recovery window: {info.first_recoverability_point or 'unknown'} → last backup "
                  f"{info.last_successful_backup or 'none'} (and the archived WAL after it)", markup=False)


def pitr_restore(estate: Path | None, source: str, to: str, *, at: str | None, as_json: bool) -> None:
    from odooplane.actions import kubernetes_ops as action

    with errors():
        made = action.restore_cluster(estate, source, to, at=at)
    if as_json:
        print_json(made)
    else:
        console.print(f"[green]{made['outcome']}[/] Cluster {made['namespace']}/{to} recovering {source} up to "
                      f"{made['target_time'] or 'the end of its archived WAL'}; `odooplane kubernetes status` "
                      "shows it when healthy")


def down_estate(estate: Path | None, *, purge: bool, wait: float | None, as_json: bool) -> None:
    """`odooplane down` on a kubernetes estate: Deployments to 0, Clusters hibernated; data kept."""
    from odooplane.actions import kubernetes_ops as action
    from odooplane.errors import UsageError

    with errors():
        if purge:
            raise UsageError("--purge: Odooplane never deletes data on a cluster (Databases are retained, filestore "
                             "claims and namespaces are never pruned); delete them yourself once backed up")
        result = action.down(estate, wait=300 if wait is None else wait)
    if as_json:
        print_json({"ok": result.ok, "stopped": result.stopped, "hibernated": result.hibernated,
                    "pending": result.pending})
    else:
        console.print(f"{len(result.stopped)} Deployment(s) at 0 replicas, {len(result.hibernated)} Cluster(s) "
                      "hibernated (volumes kept; apply wakes them)", markup=False)
        for pending in result.pending:
            err.print(f"not stopped yet: {pending}", markup=False)
    if not result.ok:
        raise typer.Exit(1)


gitops_app = typer.Typer(help="The estate from git: watch a branch and apply what is merged (any driver); Argo CD's "
                         "view of a Kubernetes estate.", no_args_is_help=True)


@gitops_app.command("watch")
def gitops_watch(
    repo: str = typer.Argument(..., help="The git repository holding the estate: a URL or a directory."),
    branch: str = typer.Option("main", "--branch", "-b", help="The branch whose commits are applied."),
    path: str = typer.Option("estate.yaml", "--path", help="The estate file inside the repository."),
    interval: float = typer.Option(60.0, "--interval", help="Seconds between fetches."),
    once: bool = typer.Option(False, "--once", help="One round (fetch, apply a new commit or look for drift), then "
                              "exit with its outcome."),
    correct: bool = typer.Option(False, "--correct", help="Put drift back (apply again) instead of only reporting it."),
    workdir: Path = typer.Option(None, "--workdir", help="The working copy (default: under "
                                 "$XDG_STATE_HOME/odooplane/gitops/)."),
    as_json: bool = typer.Option(False, "--json", help="Print each round as a JSON line."),
) -> None:
    """Apply the estate from git: each new commit of the branch is checked out, validated and applied through the
    same gates as apply (access, guardrails), and recorded in the audit log with its commit, author and subject;
    between commits, drift (what runs differs from what the estate says) is reported, or put back with --correct.
    With --once the exit code is the round's: 0 applied or unchanged, 1 failed, 2 invalid, 5 drift, 8 refused by
    a guardrail."""
    import json as json_module

    from odooplane.actions import gitops as action
    from odooplane.errors import ExitCode

    codes = {"applied": ExitCode.OK, "unchanged": ExitCode.OK, "corrected": ExitCode.OK, "failed": ExitCode.FAILED,
             "invalid": ExitCode.INVALID, "drift": ExitCode.UNHEALTHY, "refused": ExitCode.GUARDRAIL}

    def report(done: action.Round) -> None:
        if as_json:
            typer.echo(json_module.dumps(action.as_dict(done)))
            return
        colour = "green" if codes[done.outcome] == ExitCode.OK else "red"
        console.print(f"[{colour}]{done.outcome}[/] {done.commit[:12]}", end=" ")
        console.print(f"{done.author}: {done.subject}" + (f" — {done.message}" if done.message else ""), markup=False)
        for change in done.drift[:20]:
            console.print(f"  drift: {change}", markup=False)

    with errors():
        last = action.watch(repo, branch=branch, path=path, workdir=workdir, interval=interval, once=once,
                            correct=correct, report=report,
                            listener=None if as_json else lambda text: err.print(text, markup=False))
    raise typer.Exit(codes[last.outcome])


@gitops_app.command("status")
def gitops_status(
    estate: Path = typer.Argument(None, help="Estate file (default: $ODOOPLANE_ESTATE or ./estate.yaml)."),
    context: str = CONTEXT,
    kubeconfig: str = KUBECONFIG,
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Each Argo CD Application of the estate (one per folder of the rendered tree): sync status, health and the
    revision it synced. Exit 0 when all are Synced and Healthy, 5 otherwise (1 without platform.kubernetes.gitops)."""
    from odooplane.actions import kubernetes as action
    from odooplane.errors import ExitCode

    with errors():
        result = action.gitops_status(estate, context=context, kubeconfig=kubeconfig)
    if as_json:
        print_json({"applications": result})
    else:
        _applications(result)
    if not result or any(a["sync"] != "Synced" or a["health"] != "Healthy" for a in result):
        raise typer.Exit(int(ExitCode.UNHEALTHY))


def _applications(applications: list[dict[str, str]]) -> None:
    table = Table("application", "sync", "health", "revision", title="Argo CD")
    for a in applications:
        table.add_row(a["name"], a["sync"], a["health"], a["revision"][:12])
    console.print(table)
