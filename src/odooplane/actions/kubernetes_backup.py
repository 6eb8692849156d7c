"""``backup run`` on a kubernetes estate: the backup is made in the cluster, beside the data, by a
Job in Odooplane's own image (the environment's configuration joined as its Odoo pods join it, its
filestore volume mounted read-only, each repository's Secret mounted as files) — the same dump,
filestore copy, manifest and restic snapshot as on the other drivers, so a backup taken in a
cluster restores on any target. Then this host confirms it as it confirms its own: the snapshot
listed by restic and the manifest read back with the SHA-256 the Job wrote. Only then is the
backup recorded (evidence), and what a killed backup left unconfirmed is forgotten.

:func:`stage` is what the Job runs (``odooplane kubernetes backup-stage TASK``)."""

from __future__ import annotations

import configparser
import datetime as dt
import json
import shutil
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from odooplane import execute
from odooplane.actions import backup as backup_action
from odooplane.actions.kubernetes import Connected, connect, talking
from odooplane.actions.kubernetes_ops import job_condition, job_failure, job_state, placement, stamped
from odooplane.clock import wait_until
from odooplane.drivers import registry
from odooplane.errors import PermanentError, TemporaryError, UsageError
from odooplane.estate.resolve import DesiredEnvironment
from odooplane.operations import backups, repositories
from odooplane.operations.context import Context
from odooplane.operations.desired import AttachmentBucket
from odooplane.operations.runner import Operation
from odooplane.render import dockerfile
from odooplane.services import odoo_db, pg_tools, restic
from odooplane.services.postgres import ClusterConn

PATHS = registry.KUBERNETES_BACKUP
SECRET_MANAGER = "odooplane-backup"  # noqa: S105 - the field manager of the repositories' Secrets


# -- in the Job ---------------------------------------------------------------------------------

def task_field(task: dict[str, Any], key: str, kind: type) -> Any:
    value = task.get(key)
    if not isinstance(value, kind):
        raise UsageError(f"backup task: {key} must be a {kind.__name__}")
    return value


def odoo_conn(task: dict[str, Any]) -> ClusterConn:
    """The database server as the environment's Odoo reaches it: the task's ``host`` and ``port``
    (else the configuration's ``db_host`` and ``db_port``), the role and password of the joined
    odoo.conf at ``conf``."""
    conf = configparser.ConfigParser(interpolation=None)
    conf.read(task_field(task, "conf", str))
    if not conf.has_section("options"):
        raise PermanentError(f"{task['conf']}: no [options] section (the configuration was not joined)")
    options = conf["options"]
    if "host" in task:
        host, port = task_field(task, "host", str), int(task_field(task, "port", int))
    else:
        host, port = options.get("db_host", "localhost"), int(options.get("db_port", "5432"))
    return ClusterConn(name="cluster", host=host, port=port, user=options.get("db_user", "odoo"),
                       password=options.get("db_password") or None)


def stage(task: dict[str, Any], *, now: dt.datetime | None = None) -> dict[str, Any]:
    """Make the backup ``task`` describes, where the Job runs: dump the database (one exported
    snapshot read by both the dump and the manifest's facts), copy the filestore, write the
    manifest last, back the stage up to each repository; return what the control plane checks."""
    target = task_field(task, "target", str)
    database = task_field(task, "database", str)
    conn = odoo_conn(task)
    password = conn.password
    where = Path(task_field(task, "stage", str))
    where.mkdir(parents=True, exist_ok=True)
    (where / backups.MANIFEST).unlink(missing_ok=True)
    shutil.rmtree(where / "dump", ignore_errors=True)
    dumped_at = now or dt.datetime.now(dt.UTC)
    with odoo_db.exported_snapshot(conn, database) as (snapshot, facts):
        execute.run(pg_tools.dump_argv(pg_tools.client("pg_dump"), conn, database=database, out_dir=where / "dump",
                                       snapshot=snapshot),
                    env=pg_tools.env(conn), secrets=[password] if password else [], what=f"pg_dump {database}",
                    timeout=6 * 3600)
    filestore = Path(task_field(task, "filestore", str))
    shutil.rmtree(where / "filestore", ignore_errors=True)
    if filestore.is_dir():
        shutil.copytree(filestore, where / "filestore", symlinks=False)
    else:
        (where / "filestore").mkdir()
    bucket = conf_bucket(task)
    fetched = _fetch_bucket(conn, database, bucket, where / "filestore") if bucket is not None else None
    manifest_sha = backups.write_manifest_file(
        where, target=target, database=database, kind=task_field(task, "kind", str),
        estate=task_field(task, "estate", str), dumped_at=dumped_at, series=task_field(task, "series", str),
        runtime=task_field(task, "runtime", str), facts=facts)
    size = sum(p.stat().st_size for p in where.rglob("*") if p.is_file())
    tags = [*(str(t) for t in task_field(task, "tags", list)), f"manifest={manifest_sha[:16]}"]
    snapshots: dict[str, str] = {}
    for item in task_field(task, "repositories", list):
        repo = pod_repository(item)
        snapshots[repo.name] = _upload(repo, where, tags=tags, when=dumped_at)
    return {"ok": True, "target": target, "manifest_sha256": manifest_sha, "bytes": size,
            "dumped_at": dumped_at.isoformat(), "snapshots": snapshots, "stage": str(where), "bucket": fetched}


def conf_bucket(task: dict[str, Any]) -> AttachmentBucket | None:
    """The attachment bucket the joined odoo.conf at ``conf`` names (``odooplane_s3_*``: a stateless
    environment's, its keys from its Secret), or None."""
    conf = configparser.ConfigParser(interpolation=None)
    conf.read(task_field(task, "conf", str))
    options = conf["options"] if conf.has_section("options") else {}
    if not options.get("odooplane_s3_bucket"):
        return None
    return AttachmentBucket(str(options.get("odooplane_s3_endpoint", "")), str(options["odooplane_s3_bucket"]),
                            str(options.get("odooplane_s3_region") or "us-east-1"),
                            str(options.get("odooplane_s3_access_key", "")),
                            str(options.get("odooplane_s3_secret_key", "")),
                            str(options.get("odooplane_s3_prefix", "")))


def _fetch_bucket(conn: ClusterConn, database: str, bucket: AttachmentBucket, filestore: Path) -> dict[str, int]:
    """Every attachment of ``database`` kept in ``bucket`` brought into the stage's ``filestore`` (a
    fully stateless pod has none on disk), each checked against its sha1; the download cache is
    outside the stage."""
    import tempfile

    from odooplane.services import object_store

    attachments = odoo_db.stored_attachments(conn, database)
    try:
        with tempfile.TemporaryDirectory(prefix="odooplane-bucket-") as cache:
            got = object_store.fetch_into(bucket, database, attachments, filestore, Path(cache))
    except ValueError as exc:  # the endpoint itself
        raise PermanentError(f"attachment bucket {bucket.bucket}: {exc}") from exc
    except (OSError, object_store.s3_error()) as exc:
        raise TemporaryError(f"the attachment bucket {bucket.bucket} cannot be read: {exc}") from exc
    if got.corrupt:
        raise PermanentError(f"{len(got.corrupt)} object(s) of bucket {bucket.bucket} do not hold the content their "
                             f"name says: {', '.join(got.corrupt[:5])}")
    return {"fetched": got.fetched, "missing": len(got.missing), "refused": len(got.refused)}


def pod_repository(item: dict[str, Any]) -> restic.Repository:
    """A repository a Job's task names (``name``, ``url``, ``secrets``: the directory its Secret is
    mounted in: ``password`` and, for S3, ``aws-credentials``)."""
    secrets = Path(str(item["secrets"]))
    env = {}
    if (secrets / "aws-credentials").is_file():
        env["AWS_SHARED_CREDENTIALS_FILE"] = str(secrets / "aws-credentials")
    return restic.Repository(name=str(item["name"]), url=str(item["url"]),
                             password=(secrets / "password").read_text().strip(), env=env)


def _upload(repo: restic.Repository, where: Path, *, tags: list[str], when: dt.datetime, attempts: int = 5) -> str:
    """``restic backup`` of ``where`` (the repository created on first use), tried again after a
    growing pause (2, 4, 8, 16 s) when the repository answered as unreachable (an object store's
    passing error: better a backup half a minute late than none)."""
    for attempt in range(1, attempts + 1):
        try:
            try:
                return restic.backup(repo, [where], tags=tags, when=when)
            except restic.RepositoryMissing:
                restic.init(repo)
                return restic.backup(repo, [where], tags=tags, when=when)
        except TemporaryError:
            if attempt == attempts:
                raise
            time.sleep(2.0 ** attempt)  # backoff between attempts against a remote store, not a synchronisation
    raise AssertionError("unreachable")


# -- on the control plane -----------------------------------------------------------------------

def direct_host(ctx: Context, env: DesiredEnvironment) -> tuple[str, int]:
    """Where the Job dumps from: the cluster's primary itself (never a transaction pooler, through
    which an exported snapshot cannot be shared)."""
    settings = ctx.estate.platform.kubernetes
    cluster = env.cluster
    if cluster.kind == "managed":
        return f"{env.cluster_name}-rw.{settings.namespace}.svc", 5432
    parts = urlsplit(cluster.url)
    return str(parts.hostname), int(parts.port or 5432)


def s3_repositories(ctx: Context, env: DesiredEnvironment, names: list[str]) -> list[restic.Repository]:
    out = []
    for name in names:
        repo = repositories.repository(ctx, name, tenant=env.ref.tenant)
        if not repo.is_s3:
            raise PermanentError(
                f"backups.repositories.{name}: {repo.url} is a directory of this host, which a Job in the cluster "
                "cannot write: on kubernetes, backups go to S3 repositories (url: s3:https://host/bucket/prefix)")
        out.append(repo)
    return out


def chosen_repository(ctx: Context, env: DesiredEnvironment, repository: str | None) -> restic.Repository:
    """The S3 repository named, or the first of the environment's policy."""
    name = repository or (repositories.targets(ctx, env) or [""])[0]
    if not name:
        raise PermanentError(f"{env.ref} has no backup policy (backup: false) and no repository was named")
    return s3_repositories(ctx, env, [name])[0]


def repository_secret(repo: restic.Repository, namespace: str) -> dict[str, Any]:
    keys = None
    if "AWS_ACCESS_KEY_ID" in repo.env and "AWS_SECRET_ACCESS_KEY" in repo.env:
        keys = (repo.env["AWS_ACCESS_KEY_ID"], repo.env["AWS_SECRET_ACCESS_KEY"])
    return registry.kubernetes_restic_secret(repo.name, namespace, password=repo.password, s3_keys=keys)


def _job(ctx: Context, connected: Connected, env: DesiredEnvironment, repos: list[restic.Repository], *,
         kind: str, now: dt.datetime) -> dict[str, Any]:
    namespace, base = placement(connected, env)
    deployment = next((o for o in connected.objects if o["kind"] == "Deployment"
                       and o["metadata"].get("namespace") == namespace and o["metadata"]["name"] == f"{base}-http"),
                      None)
    if deployment is None:
        raise PermanentError(f"{env.ref}: no web Deployment {namespace}/{base}-http is rendered for it")
    host, port = direct_host(ctx, env)
    task = {"target": str(env.ref), "database": env.database, "conf": PATHS.conf, "host": host, "port": port,
            "stage": PATHS.stage, "filestore": f"{PATHS.data}/filestore/{env.database}", "kind": kind,
            "estate": ctx.estate_id, "series": env.stack.series,
            "runtime": f"kubernetes {env.stack.image or 'simulator'}",
            "tags": repositories.tags(ctx, env, kind=kind),
            "repositories": [{"name": r.name, "url": r.url, "secrets": f"{PATHS.restic}/{r.name}"} for r in repos]}
    name, of = registry.kubernetes_backup_job_names(env.ref.tenant, env.ref.env, now.strftime("%Y%m%d%H%M%S"))
    settings = ctx.estate.platform.kubernetes
    command = [dockerfile.CONTROL_PYTHON, "-m", "odooplane", "kubernetes", "backup-stage",
               json.dumps(task, sort_keys=True)]
    return registry.kubernetes_backup_job(deployment, name=name, of=of, target=str(env.ref),
                                          image=settings.control_image, command=command,
                                          repositories=[r.name for r in repos])


def _outcome(api: registry.ApiServer, job: dict[str, Any], *, container: str) -> dict[str, Any]:
    """The result the Job's ``container`` printed last (a JSON object with ``ok``)."""
    meta = job["metadata"]
    pods = api.list("v1", "Pod", str(meta["namespace"]), label_selector=f"job-name={meta['name']}")
    for pod in reversed(pods):
        text = api.pod_log(str(meta["namespace"]), str(pod["metadata"]["name"]), container=container)
        for line in reversed([ln for ln in text.splitlines() if ln.strip()]):
            try:
                found = json.loads(stamped(line)[1])
            except ValueError:
                continue
            if isinstance(found, dict) and "ok" in found:
                return found
    return {"ok": False, "error": job_condition(job)}


def run_job(connected: Connected, job: dict[str, Any], *, wait: float, interval: float,
             label_key: str = PATHS.label, container: str = PATHS.container, printed: bool = True
             ) -> dict[str, Any]:
    """Create ``job`` — or adopt the Job of the same ``label_key`` value still running (a run killed
    while it waited) — wait for it, and return its outcome: what its ``container`` printed last, or
    (``printed`` off: Odoo's own commands) its success, a failure being said with Odoo's reason."""
    api = connected.api
    meta = job["metadata"]
    label = meta["labels"][label_key]
    with talking("backup"):
        running = [j for j in api.list("batch/v1", "Job", str(meta["namespace"]),
                                       label_selector=f"{label_key}={label}") if job_state(j) == "active"]
        current = running[-1] if running else api.create(job)
        last: list[dict[str, Any] | None] = [current]

        def finished() -> bool:
            last.append(api.get(current))
            return job_state(last[-1]) in ("succeeded", "failed")

        if not wait_until(finished, timeout=wait, interval=interval):
            raise PermanentError(f"Job {meta['namespace']}/{current['metadata']['name']} not finished after "
                                 f"{wait:.0f} s; it goes on in the cluster (run the backup again to wait for it)")
        done = last[-1] or current
        if printed:
            outcome = _outcome(api, done, container=container)
        else:
            succeeded = job_state(done) == "succeeded"
            outcome = {"ok": True} if succeeded else {"ok": False, "error": job_failure(api, done)}
    if job_state(done) != "succeeded" or not outcome.get("ok"):
        raise PermanentError(f"Job {meta['namespace']}/{done['metadata']['name']} failed: "
                             f"{outcome.get('error') or job_condition(done)}")
    return outcome


def backup_env(ctx: Context, connected: Connected, op: Operation, env: DesiredEnvironment, *, kind: str,
               repos: list[str] | None, wait: float, interval: float, now: dt.datetime) -> backups.BackupResult:
    t = str(env.ref)
    names = repos if repos is not None else repositories.targets(ctx, env)
    if not names:
        raise PermanentError(f"{t} has no backup policy (backup: false) and no repository was named")
    started = ctx.clock.monotonic()
    targets = s3_repositories(ctx, env, names)
    namespace, _base = placement(connected, env)
    for repo in targets:
        with talking("backup"):
            op.step(f"secret-{repo.name}", t, partial(connected.api.apply, repository_secret(repo, namespace),
                                                      manager=SECRET_MANAGER))
    job = _job(ctx, connected, env, targets, kind=kind, now=now)
    outcome = op.step("job", t, lambda: run_job(connected, job, wait=wait, interval=interval),
                      detail=str(job["metadata"]["name"]))
    manifest_sha = str(outcome["manifest_sha256"])
    dumped_at = dt.datetime.fromisoformat(str(outcome["dumped_at"]))
    result = backups.BackupResult(target=t, kind=kind, manifest_sha256=manifest_sha, bytes=int(outcome["bytes"]))
    stage_dir = str(outcome.get("stage") or PATHS.stage)  # the path the snapshot holds
    if not stage_dir.startswith("/"):
        raise PermanentError(f"{t}: the backup Job reported a stage that is no absolute path: {stage_dir!r}")
    manifest = f"{stage_dir.rstrip('/')}/{backups.MANIFEST}"
    for repo in targets:
        snapshot = str(outcome["snapshots"][repo.name])
        found = op.step(f"confirm-{repo.name}", t, partial(backups.confirm, ctx, env, repo, snapshot,
                                                            manifest=manifest, manifest_sha=manifest_sha))
        result.snapshots[repo.name] = snapshot
        backups.record(ctx, op, env, repo.name, snapshot, manifest_sha=manifest_sha, kind=kind, size=result.bytes,
                       dumped_at=dumped_at)
        op.step(f"reconcile-{repo.name}", t, partial(backups.forget_unconfirmed, ctx, env, repo, found))
    result.duration_s = round(ctx.clock.monotonic() - started, 3)
    return result


def in_cluster(ctx: Context, *, kind: str, repos: list[str] | None, server: registry.ApiServer | None = None,
               context: str | None = None, kubeconfig: str | None = None, wait: float = 6 * 3600,
               interval: float = 2.0, now: dt.datetime | None = None
               ) -> Callable[[Operation, DesiredEnvironment], backups.BackupResult]:
    """How ``backup run`` backs one environment of a kubernetes estate up (UsageError at once,
    before any operation, when no kubeconfig reaches a cluster)."""
    connected = connect(ctx.valid.path, "backups.run", context=context, kubeconfig=kubeconfig, server=server)

    def one(op: Operation, env: DesiredEnvironment) -> backups.BackupResult:
        return backup_env(ctx, connected, op, env, kind=kind, repos=repos, wait=wait, interval=interval,
                          now=now or ctx.clock.now())

    return one


def run_in(ctx: Context, envs: list[DesiredEnvironment], *, repos: list[str] | None = None, kind: str = "manual",
           listener: backup_action.Listener | None = None, server: registry.ApiServer | None = None,
           context: str | None = None, kubeconfig: str | None = None, wait: float = 6 * 3600,
           interval: float = 2.0, now: dt.datetime | None = None) -> backup_action.RunResult:
    """Back ``envs`` up, each by a Job in the cluster, as one operation."""
    one = in_cluster(ctx, kind=kind, repos=repos, server=server, context=context, kubeconfig=kubeconfig, wait=wait,
                     interval=interval, now=now)
    return backup_action.run_in(ctx, envs, repos=repos, kind=kind, listener=listener, one=one)
