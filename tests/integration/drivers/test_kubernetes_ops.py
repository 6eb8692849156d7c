"""The verbs a kubernetes estate answers through the API server — logs, health, pitr backup / info /
restore-cluster, gitops status — against the recording server of tests/support/apiserver.py (what
the official client sends; the cluster's answers, controllers' work included, are set by the test).

With ``ODOOPLANE_TEST_KUBECONFIG``, ``health`` and ``gitops status`` also run against that cluster."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from odooplane.actions import estate_file
from odooplane.actions import kubernetes as apply_action
from odooplane.actions import kubernetes_ops as action
from odooplane.actions.logs import LogQuery
from odooplane.cli.main import app
from odooplane.errors import NotFound, PermanentError, UsageError
from odooplane.services import passwords
from tests.support import apiserver
from tests.support.apiserver import Recorder, add_secrets, api, estate, recorder

__all__ = ["estate", "recorder"]  # fixtures

T0 = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=5)
POOL_NS, POOL = "odoo-pool-shared18", "pool--shared18"


def _odoo(at: dt.datetime, db: str, level: str, text: str) -> str:
    return f"{at:%Y-%m-%d %H:%M:%S},{at.microsecond // 1000:03d} 7 {level} {db} odoo.http: {text}"


def _pg(at: dt.datetime, db: str, severity: str, message: str) -> str:
    return json.dumps({"level": "info", "ts": at.isoformat(), "logger": "postgres", "msg": "record",
                       "record": {"log_time": f"{at:%Y-%m-%d %H:%M:%S}.{at.microsecond // 1000:03d} UTC",
                                  "user_name": "pool_shared18", "database_name": db, "process_id": "42",
                                  "error_severity": severity, "message": message}})


def _routers(estate: Path, url: str, route: str) -> list[str]:
    """The router names Traefik gives the rendered IngressRoute ``route`` (and its -tls one)."""
    connected = apply_action.connect(estate, "estate.read", context=None, kubeconfig=None, server=api(url))
    return sorted(action.traefik_router(o["metadata"]["namespace"], o["metadata"]["name"], r["match"])
                  for o in connected.objects if o["kind"] == "IngressRoute"
                  and o["metadata"]["name"] in (route, f"{route}-tls") for r in o["spec"]["routes"])


def test_traefik_router_names_are_normalized() -> None:
    name = action.traefik_router("odoo-acme", "acme--prod", "Host(`erp.acme.example`)")
    prefix, _, digest = name.removesuffix("@kubernetescrd").rpartition("-")
    assert prefix == "odoo-acme-acme-prod" and len(digest) == 20 and name.endswith("@kubernetescrd")
    assert digest == hashlib.sha256(b"Host(`erp.acme.example`)").hexdigest()[:20]


def _seed_logs(rec: Recorder, ours: list[str], theirs: list[str]) -> None:
    labels = {"app.kubernetes.io/instance": POOL}
    rec.add_pod(POOL_NS, "pool--shared18-http-a", {**labels, "app.kubernetes.io/component": "http"})
    rec.add_pod(POOL_NS, "pool--shared18-cron-b", {**labels, "app.kubernetes.io/component": "cron"})
    rec.add_pod(POOL_NS, "other-pod", {"app.kubernetes.io/instance": "pool--shared16"})
    rec.log(POOL_NS, "pool--shared18-http-a", "odoo", T0, _odoo(T0, "initech_prod", "INFO", "first initech"))
    rec.log(POOL_NS, "pool--shared18-http-a", "odoo", T0, _odoo(T0, "umbrella_prod", "INFO", "umbrella line"))
    later = T0 + dt.timedelta(seconds=2)
    rec.log(POOL_NS, "pool--shared18-cron-b", "odoo", later, _odoo(later, "initech_prod", "ERROR", "cron failed"))
    rec.log(POOL_NS, "other-pod", "odoo", T0, _odoo(T0, "initech_prod", "INFO", "not this pool"))
    rec.add_pod("odooplane", "main-1", {"cnpg.io/cluster": "main"}, containers=("postgres", "bootstrap"))
    at = T0 + dt.timedelta(seconds=1)
    rec.log("odooplane", "main-1", "postgres", at, _pg(at, "initech_prod", "ERROR", "deadlock detected"))
    rec.log("odooplane", "main-1", "postgres", at, _pg(at, "hooli_prod", "LOG", "not initech"))
    rec.log("odooplane", "main-1", "postgres", at, json.dumps({"level": "info", "msg": "instance manager"}))
    rec.add_pod("traefik", "traefik-x", {"app.kubernetes.io/name": "traefik"}, containers=("traefik",))
    for router, path in ((ours[0], "/web/login"), (ours[0].replace("-prod-", "-prod-x-"), "/not-ours"),
                         (theirs[0], "/umbrella")):
        rec.log("traefik", "traefik-x", "traefik", at, json.dumps({
            "RouterName": router, "RequestMethod": "GET", "RequestHost": "initech.odoo.example.com",
            "RequestPath": path, "DownstreamStatus": 200, "Duration": 1500000, "StartUTC": at.isoformat()}))


def test_logs_come_from_the_pods_of_what_serves_the_environment(recorder: tuple[Recorder, str],
                                                                estate: Path) -> None:
    rec, url = recorder
    _seed_logs(rec, _routers(estate, url, "initech--prod"), _routers(estate, url, "umbrella--prod"))
    found, follow = action.logs(estate, "initech/prod", LogQuery(lines=0), sources="odoo,postgres,edge",
                                server=api(url))
    texts = [f"{ln.source}: {ln.text.split(': ', 1)[-1].strip()}" for ln in found]
    # A pooled tenant's own lines out of its pool's pods, its database's PostgreSQL records, its routers'
    # requests — merged in time order; nobody else's.
    assert texts[0] == "odoo: first initech"
    assert [t for t in texts if t.startswith("postgres")] == ["postgres: deadlock detected"]
    assert [ln.text for ln in found if ln.source == "edge"] == [
        next(ln.text for ln in found if "/web/login" in ln.text)]
    assert texts[-1] == "odoo: cron failed"
    assert not [t for t in texts if "umbrella" in t or "not this pool" in t or "not initech" in t]
    assert [ln.at for ln in found] == sorted(ln.at for ln in found if ln.at)
    log_requests = [r for r in rec.requests if r["path"].endswith("/log")]
    assert {r["query"]["timestamps"] for r in log_requests} == {"true"}
    assert {r["query"]["container"] for r in log_requests} == {"odoo", "postgres", "traefik"}
    assert all(r["authorization"] == "Bearer test-token" for r in rec.requests)
    # --level keeps errors; --follow returns what is new since, once.
    errors, _ = action.logs(estate, "initech/prod", LogQuery(level="error", lines=0), sources="odoo,postgres",
                            server=api(url))
    assert [ln.source for ln in errors] == ["postgres", "odoo"]
    newer = dt.datetime.now(dt.UTC)
    rec.log(POOL_NS, "pool--shared18-http-a", "odoo", newer, _odoo(newer, "initech_prod", "WARNING", "new one"))
    following = follow(0)
    line = next(following)
    assert line.text.endswith("new one") and line.level == "warning"


def test_logs_of_a_dedicated_environment_ask_the_server_for_the_last_lines(recorder: tuple[Recorder, str],
                                                                          estate: Path) -> None:
    rec, url = recorder
    rec.add_pod("odoo-globex", "globex--prod-http-a", {"app.kubernetes.io/instance": "globex--prod"})
    for i in range(5):
        at = T0 + dt.timedelta(seconds=i)
        rec.log("odoo-globex", "globex--prod-http-a", "odoo", at, _odoo(at, "globex_prod", "INFO", f"line {i}"))
    found, _ = action.logs(estate, "globex/prod", LogQuery(lines=2), server=api(url))
    assert [ln.text.rsplit(" ", 1)[-1] for ln in found] == ["3", "4"]
    assert [r["query"].get("tailLines") for r in rec.requests if r["path"].endswith("/log")] == ["2"]
    with pytest.raises(NotFound):
        action.logs(estate, "globex/nope", LogQuery(), server=api(url))
    # The CLI hands `odooplane logs` over (its kubeconfig names the recording server).
    config = apiserver.kubeconfig(estate.parent, url, "cli-token")
    result = CliRunner().invoke(app, ["logs", "globex/prod", "-f", str(estate), "-n", "1", "--json"],
                                env={"KUBECONFIG": str(config)})
    assert result.exit_code == 0, result.output
    assert [row["line"].rsplit(" ", 1)[-1] for row in json.loads(result.output)] == ["4"]


def _applied(rec: Recorder, url: str, estate: Path) -> None:
    add_secrets(rec, apply_action.apply(estate, dry_run=True, server=api(url)).missing_secrets)
    apply_action.apply(estate, dry_run=False, server=api(url))


def test_health_reads_deployments_clusters_and_odoo_itself(recorder: tuple[Recorder, str], estate: Path) -> None:
    rec, url = recorder
    _applied(rec, url, estate)
    probed: list[tuple[str, str, str]] = []

    def probe(namespace: str, service: str, path: str) -> tuple[int, str]:
        probed.append((namespace, service, path))
        return (200, '{"status": "pass"}') if service != "globex--prod-http" else (503, "")

    before = {h.target: h for h in action.health(estate, server=api(url), probe=probe)}
    assert before["acme/prod"].status == "critical" and not probed  # nothing ready: nothing to ask
    assert {c.name: c.detail for c in before["acme/prod"].checks}["deployment"] == "0/2 ready"
    for obj in rec.objects.values():
        if obj["kind"] == "Deployment":
            obj["status"] = {"readyReplicas": obj["spec"].get("replicas", 2)}
        elif obj["kind"] == "Cluster":
            obj["status"] = {"readyInstances": obj["spec"]["instances"], "phase": "Cluster in healthy state"}
    after = {h.target: h for h in action.health(estate, server=api(url), probe=probe)}
    assert after["acme/prod"].status == "ok" and after["initech/prod"].status == "ok"
    assert after["globex/prod"].status == "critical"
    assert [c.detail for c in after["globex/prod"].failing] == ["/web/health answered 503"]
    # One probe per Service: a pool's tenants share theirs.
    assert probed.count((POOL_NS, "pool--shared18-http", "/web/health")) == 1
    only = action.health(estate, tenant="acme", server=api(url), probe=probe)
    assert [h.target for h in only] == ["acme/prod"]
    # A degraded cluster is a warning; through the CLI (no pod to forward to) the fleet is critical: exit 6.
    rec.objects["/apis/postgresql.cnpg.io/v1/namespaces/odooplane/clusters/critical"]["status"] = {
        "readyInstances": 2, "phase": "Waiting for the instances to become active"}
    degraded = action.health(estate, tenant="acme", server=api(url), probe=probe)[0]
    assert degraded.status == "warning" and degraded.failing[0].name == "postgres"
    config = apiserver.kubeconfig(estate.parent, url, "cli-token")
    result = CliRunner().invoke(app, ["health", "-f", str(estate), "--json"], env={"KUBECONFIG": str(config)})
    assert result.exit_code == 6, result.output
    assert json.loads(result.output)["status"] == "critical"
    # Outside the cluster Odooplane port-forwards to a ready pod (the recording server refuses the upgrade).
    rec.add_pod("odoo-globex", "globex--prod-http-a", {"app.kubernetes.io/instance": "globex--prod",
                                                       "app.kubernetes.io/component": "http"})
    result = CliRunner().invoke(app, ["health", "-f", str(estate), "-t", "globex", "--json"],
                                env={"KUBECONFIG": str(config)})
    checks = {e["target"]: {c["name"]: c["detail"] for c in e["checks"]} for e in json.loads(result.output)[
        "environments"]}
    assert checks["globex/prod"]["http"].startswith("/web/health: port-forward to globex--prod-http-a failed")
    assert checks["globex/staging"]["http"] == "/web/health: no ready pod to forward to"
    upgrade = [r for r in rec.requests if r["path"].endswith("/pods/globex--prod-http-a/portforward")]
    assert upgrade and upgrade[0]["query"]["ports"] == "8069"


def test_a_base_backup_is_a_cnpg_backup_reported_when_it_completed(recorder: tuple[Recorder, str],
                                                                  estate: Path) -> None:
    rec, url = recorder
    reads: list[str] = []

    def controller(path: str, obj: dict[str, object]) -> None:  # CloudNativePG and the plugin at work
        if "/backups/" in path:
            reads.append(path)
            obj["status"] = {"phase": "running"} if len(reads) < 2 else {
                "phase": "completed", "backupId": "20261201T103000", "startedAt": "2026-12-01T10:30:00Z",
                "stoppedAt": "2026-12-01T10:31:00Z", "beginWal": "000000010000000000000004",
                "endWal": "000000010000000000000005"}

    rec.on_get = controller
    now = dt.datetime(2026, 12, 1, 10, 30, tzinfo=dt.UTC)
    row = action.pitr_backup(estate, "critical", wait=10, interval=0.05, server=api(url), now=now)
    assert row["phase"] == "completed" and row["backup_id"] == "20261201T103000"
    posts = [r for r in rec.requests if r["method"] == "POST"]
    assert [p["path"] for p in posts] == ["/apis/postgresql.cnpg.io/v1/namespaces/odooplane/backups"]
    assert posts[0]["body"]["metadata"]["name"] == "critical-20261201103000"
    assert posts[0]["body"]["spec"] == {"cluster": {"name": "critical"}, "method": "plugin",
                                        "pluginConfiguration": {"name": "barman-cloud.cloudnative-pg.io"}}
    # A failed one is an error with the operator's reason; one that does not finish in time is not "completed".
    rec.on_get = lambda path, obj: obj.update(status={"phase": "failed", "error": "no space left on device"})
    with pytest.raises(PermanentError, match="no space left on device"):
        action.pitr_backup(estate, "critical", wait=5, interval=0.05, server=api(url),
                           now=now + dt.timedelta(minutes=1))
    rec.on_get = lambda path, obj: obj.update(status={"phase": "running"})
    with pytest.raises(PermanentError, match="not completed after 0 s"):
        action.pitr_backup(estate, "critical", wait=0.2, interval=0.05, server=api(url),
                           now=now + dt.timedelta(minutes=2))
    pending = action.pitr_backup(estate, "critical", wait=0, server=api(url), now=now + dt.timedelta(minutes=3))
    assert pending["phase"] == "pending"
    with pytest.raises(NotFound):
        action.pitr_backup(estate, "nope", wait=0, server=api(url))
    # The window: the cluster's Backups, oldest first, and its object store's recovery window.
    rec.objects["/apis/barmancloud.cnpg.io/v1/namespaces/odooplane/objectstores/critical-backups"] = {
        "metadata": {"name": "critical-backups"}, "status": {"serverRecoveryWindow": {"critical": {
            "firstRecoverabilityPoint": "2026-11-24T02:00:00Z", "lastSuccessfulBackupTime": "2026-12-01T10:31:00Z"}}}}
    rec.on_get = None
    info = action.pitr_info(estate, "critical", server=api(url))
    assert info.backups[0]["name"] == "critical-20261201103000"
    assert len(info.backups) == 4 and info.first_recoverability_point == "2026-11-24T02:00:00Z"
    assert info.last_successful_backup == "2026-12-01T10:31:00Z"


def test_recovery_is_a_new_cluster_that_apply_keeps(recorder: tuple[Recorder, str], estate: Path) -> None:
    rec, url = recorder
    with pytest.raises(UsageError, match="declare it under clusters"):
        action.restore_cluster(estate, "critical", "critical-restored", at=None, server=api(url))
    data = yaml.safe_load(estate.read_text())
    data["clusters"]["critical-restored"] = {"kind": "managed"}
    estate.write_text(yaml.safe_dump(data))
    with pytest.raises(UsageError, match="time zone"):
        action.restore_cluster(estate, "critical", "critical-restored", at="2026-12-01T10:30:00", server=api(url))
    made = action.restore_cluster(estate, "critical", "critical-restored", at="2026-12-01T11:30:00+01:00",
                                  server=api(url))
    assert made["target_time"] == "2026-12-01T10:30:00Z"
    patch = next(r for r in rec.requests if r["method"] == "PATCH")
    assert patch["path"] == "/apis/postgresql.cnpg.io/v1/namespaces/odooplane/clusters/critical-restored"
    assert patch["query"]["fieldManager"] == "odooplane-recovery"  # apply (manager odooplane) keeps the bootstrap
    assert patch["body"]["spec"]["bootstrap"]["recovery"] == {
        "source": "critical", "recoveryTarget": {"targetTime": "2026-12-01T10:30:00Z"}}
    assert made["outcome"] == "created"
    # Run again (after a kill, say): the same recovery is recognised; another one is refused.
    rec.requests.clear()
    again = action.restore_cluster(estate, "critical", "critical-restored", at="2026-12-01T10:30:00Z",
                                   server=api(url))
    assert again["outcome"] == "already recovering" and not [r for r in rec.requests if r["method"] == "PATCH"]
    with pytest.raises(PermanentError, match="exists already and is not this recovery"):
        action.restore_cluster(estate, "critical", "critical-restored", at=None, server=api(url))
    with pytest.raises(UsageError, match="has no pitr"):
        action.restore_cluster(estate, "critical-restored", "critical", at=None, server=api(url))


def test_gitops_status(recorder: tuple[Recorder, str], estate: Path) -> None:
    rec, url = recorder
    apps = "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications"
    rec.objects[f"{apps}/emea-platform"] = {"metadata": {"name": "emea-platform", "labels": {
        "app.kubernetes.io/part-of": "emea"}}, "status": {"sync": {"status": "Synced", "revision": "0123456789abcdef"},
                                                           "health": {"status": "Healthy"}}}
    config = apiserver.kubeconfig(estate.parent, url, "cli-token")
    result = CliRunner().invoke(app, ["gitops", "status", str(estate), "--json"], env={"KUBECONFIG": str(config)})
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["applications"] == [
        {"name": "emea-platform", "sync": "Synced", "health": "Healthy", "revision": "0123456789abcdef"}]
    rec.objects[f"{apps}/emea-platform"]["status"]["health"]["status"] = "Degraded"
    result = CliRunner().invoke(app, ["gitops", "status", str(estate)], env={"KUBECONFIG": str(config)})
    assert result.exit_code == 5 and "Degraded" in result.output


@pytest.mark.skipif(not os.environ.get("ODOOPLANE_TEST_KUBECONFIG"),
                    reason="no cluster: set ODOOPLANE_TEST_KUBECONFIG to a disposable cluster's kubeconfig")
def test_health_against_a_real_cluster(estate: Path) -> None:  # pragma: no cover - optional tier
    result = CliRunner().invoke(app, ["health", "-f", str(estate), "--json"],
                                env={"KUBECONFIG": os.environ["ODOOPLANE_TEST_KUBECONFIG"]})
    assert result.exit_code in (0, 5, 6), result.output
    assert {e["target"] for e in json.loads(result.output)["environments"]} >= {"acme/prod", "initech/prod"}


def test_init_runs_the_rendered_job_once_then_restarts_what_serves(recorder: tuple[Recorder, str],
                                                                   estate: Path) -> None:
    rec, url = recorder
    _applied(rec, url, estate)
    reads: list[str] = []

    def controller(path: str, obj: dict[str, object]) -> None:  # the Job controller at work
        if "/jobs/" in path:
            reads.append(path)
            obj["status"] = {"active": 1} if len(reads) < 3 else {"succeeded": 1}

    rec.on_get = controller
    rec.requests.clear()
    now = dt.datetime(2026, 12, 1, 10, 30, tzinfo=dt.UTC)
    result = action.init(estate, "acme/prod", wait=10, interval=0.05, server=api(url), now=now)
    assert result.outcome == "succeeded" and result.job == "acme--prod-init"
    posts = [r for r in rec.requests if r["method"] == "POST"]
    assert [p["path"] for p in posts] == ["/apis/batch/v1/namespaces/odoo-acme/jobs"]
    pod = posts[0]["body"]["spec"]["template"]["spec"]
    assert "--stop-after-init" in pod["initContainers"][-1]["command"]
    # Its identity step reads the admin password's hash from a Secret applied before the Job.
    secret_path = "/api/v1/namespaces/odoo-acme/secrets/acme--prod-identity"
    applied = [i for i, r in enumerate(rec.requests) if r["method"] == "PATCH" and r["path"] == secret_path]
    assert applied and applied[0] < rec.requests.index(posts[0])
    assert rec.requests[applied[0]]["query"]["fieldManager"] == "odooplane-identity"
    ctx = estate_file.context(estate)
    try:
        password = ctx.secrets.get("env/acme/prod/admin_user_password")
    finally:
        ctx.close()
    assert password and password not in json.dumps(posts[0]["body"])
    assert passwords.verify_password(password, rec.objects[secret_path]["stringData"]["admin-password-hash"])
    scaled = [r for r in rec.requests if r["method"] == "PATCH" and "/deployments/" in r["path"]
              and r["query"]["fieldManager"] == "odooplane-init"]
    # Nothing serves the new database until it has its own identity: stopped before the Job, back after it.
    stops = [r for r in scaled if r["body"] == {"spec": {"replicas": 0}}]
    assert len(stops) == 3 and all(rec.requests.index(r) < rec.requests.index(posts[0]) for r in stops)
    assert sorted(r["path"].rsplit("/", 1)[-1] for r in scaled if r not in stops) == [
        "acme--prod-cron", "acme--prod-evented", "acme--prod-http"]
    assert all(r["body"]["spec"]["replicas"] >= 1 for r in scaled if r not in stops)
    restarts = [r for r in rec.requests if r["method"] == "PATCH" and "/deployments/" in r["path"]
                and r["query"]["fieldManager"] != "odooplane-init"]
    assert sorted(result.restarted) == ["acme--prod-cron", "acme--prod-evented", "acme--prod-http"]
    assert {r["content_type"] for r in restarts} == {"application/merge-patch+json"}
    assert {r["query"]["fieldManager"] for r in restarts} == {"odooplane-restart"}
    assert restarts[0]["body"] == {"spec": {"template": {"metadata": {"annotations": {
        "kubectl.kubernetes.io/restartedAt": "2026-12-01T10:30:00Z"}}}}}
    # Once: a Job that succeeded is not created again, nothing restarts.
    rec.requests.clear()
    again = action.init(estate, "acme/prod", wait=10, interval=0.05, server=api(url))
    assert again.outcome == "already succeeded"
    assert [r["method"] for r in rec.requests if r["method"] != "GET"] == []
    # A failed Job: Odoo's own reason, from its pod's log; nothing restarted.
    rec.on_get = lambda path, obj: obj.update(status={"failed": 1}) if "/jobs/" in path else None
    rec.add_pod("odoo-globex", "globex--prod-init-x", {"job-name": "globex--prod-init"})
    at = dt.datetime(2026, 12, 1, 10, 31, tzinfo=dt.UTC)
    for line in ("2026-12-01 10:31:00,001 1 INFO globex_prod odoo.modules.loading: loading 1 modules...",
                 "Traceback (most recent call last):", '  File "odoo/modules/loading.py", line 1, in load',
                 "psycopg2.OperationalError: FATAL:  database \"globex_prod\" does not exist"):
        rec.log("odoo-globex", "globex--prod-init-x", "odoo", at, line)
    rec.requests.clear()
    with pytest.raises(PermanentError, match='database "globex_prod" does not exist') as caught:
        action.init(estate, "globex/prod", wait=10, interval=0.05, server=api(url))
    assert "delete job globex--prod-init" in (caught.value.hint or "")
    patched = [r for r in rec.requests if r["method"] == "PATCH" and "/deployments/" in r["path"]]
    assert patched and all(r["body"] == {"spec": {"replicas": 0}} for r in patched)  # left stopped, not restarted
    with pytest.raises(NotFound):
        action.init(estate, "globex/nope", server=api(url))
    # Through the CLI: --wait 0 creates it and returns.
    rec.on_get = None
    config = apiserver.kubeconfig(estate.parent, url, "cli-token")
    result_cli = CliRunner().invoke(app, ["kubernetes", "init", "globex/staging", str(estate), "--wait", "0",
                                          "--json"], env={"KUBECONFIG": str(config)})
    assert result_cli.exit_code == 0, result_cli.output
    assert json.loads(result_cli.output)["outcome"] == "created"
    # Not waited for: once it has completed, init again restarts what serves (and only once).
    job = rec.objects["/apis/batch/v1/namespaces/odoo-globex/jobs/globex--staging-init"]
    job["status"] = {"succeeded": 1, "completionTime": "2026-12-01T11:00:00Z"}
    later = action.init(estate, "globex/staging", server=api(url), now=dt.datetime(2026, 12, 1, 11, 5, tzinfo=dt.UTC))
    assert later.outcome == "already succeeded" and "globex--staging-http" in later.restarted
    assert action.init(estate, "globex/staging", server=api(url)).restarted == []


def test_down_scales_to_zero_and_hibernates_then_apply_wakes(recorder: tuple[Recorder, str], estate: Path) -> None:
    rec, url = recorder
    _applied(rec, url, estate)

    def controllers(path: str, obj: dict[str, object]) -> None:  # the Deployment controller and CloudNativePG
        spec = obj.get("spec")
        if "/deployments/" in path and isinstance(spec, dict):
            obj["status"] = {"replicas": spec.get("replicas", 2)}
        meta = obj.get("metadata")
        if "/clusters/" in path and isinstance(meta, dict) and meta.get("annotations", {}).get(
                "cnpg.io/hibernation") == "on":
            obj["status"] = {"conditions": [{"type": "cnpg.io/hibernation", "status": "True",
                                             "reason": "Hibernated"}]}

    rec.on_get = controllers
    rec.requests.clear()
    result = action.down(estate, wait=5, interval=0.05, server=api(url))
    assert result.ok and "odoo-acme/acme--prod-http" in result.stopped
    assert sorted(result.hibernated) == ["odooplane/critical", "odooplane/main"]
    patches = [r for r in rec.requests if r["method"] == "PATCH"]
    assert {r["query"]["fieldManager"] for r in patches} == {"odooplane-down"}
    assert {r["content_type"] for r in patches} == {"application/merge-patch+json"}
    deployment = "/apis/apps/v1/namespaces/odoo-acme/deployments/acme--prod-http"
    assert rec.objects[deployment]["spec"]["replicas"] == 0
    assert rec.objects["/apis/postgresql.cnpg.io/v1/namespaces/odooplane/clusters/main"]["metadata"][
        "annotations"]["cnpg.io/hibernation"] == "on"
    # What does not stop in time is named, and the result is not ok.
    rec.on_get = lambda path, obj: obj.update(status={"replicas": 1}) if "/deployments/" in path else None
    late = action.down(estate, wait=0.2, interval=0.05, server=api(url))
    assert not late.ok and "odoo-acme/acme--prod-http" in late.pending
    # A dry run reports what apply would wake; apply wakes it: the cluster's annotation removed, the
    # autoscaled Deployment back to its autoscaler's minimum (the others get their rendered count).
    rec.on_get = None
    dry = apply_action.apply(estate, dry_run=True, server=api(url))
    woken = {(a.kind, a.name) for a in dry.applied if a.outcome == "changed"}
    assert ("Cluster", "main") in woken and ("Deployment", "acme--prod-http") in woken
    apply_action.apply(estate, dry_run=False, server=api(url))
    assert "cnpg.io/hibernation" not in rec.objects[
        "/apis/postgresql.cnpg.io/v1/namespaces/odooplane/clusters/main"]["metadata"].get("annotations", {})
    assert rec.objects[deployment]["spec"]["replicas"] == 2
    assert rec.objects["/apis/apps/v1/namespaces/odoo-acme/deployments/acme--prod-cron"]["spec"]["replicas"] == 1
    # --purge is refused on a cluster; the CLI hands `down` over.
    config = apiserver.kubeconfig(estate.parent, url, "cli-token")
    purged = CliRunner().invoke(app, ["down", "-f", str(estate), "--purge", "--yes"], env={"KUBECONFIG": str(config)})
    assert purged.exit_code == 2 and "never deletes data on a cluster" in " ".join(purged.output.split())
