"""``odooplane kubernetes apply``: the official client's server-side apply requests, checked at the
HTTP level. No Kubernetes API server can run here, so the requests go to a recording HTTP server on
loopback that stores what is applied the way an API server's apply does for these checks (one
object per path, a resourceVersion that moves only when the object changes, ``dryRun=All`` stores
nothing). What is asserted is what the client sends: method, path, content type, field manager,
force, dry run, body = the rendered object, order, and that nothing is sent when a Secret is missing.

With ``ODOOPLANE_TEST_KUBECONFIG`` (a kubeconfig of a disposable cluster with the CloudNativePG,
Barman Cloud plugin, Traefik and cert-manager CRDs installed), the reference estate is also applied
with ``--dry-run`` to that cluster."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest
import redis
import yaml
from typer.testing import CliRunner

from odooplane.actions import estate_file
from odooplane.actions import kubernetes as action
from odooplane.cli.main import app
from odooplane.errors import OdooplaneError, PermanentError
from tests.support import apiserver
from tests.support.apiserver import Recorder, add_secrets, api, estate, recorder
from tests.support.redis_server import throwaway_redis

__all__ = ["estate", "recorder"]  # fixtures


def test_nothing_is_applied_while_a_secret_is_missing(recorder: tuple[Recorder, str], estate: Path) -> None:
    rec, url = recorder
    with pytest.raises(PermanentError) as caught:
        action.apply(estate, dry_run=False, server=api(url))
    assert "only the namespaces were applied" in str(caught.value)
    assert "odooplane/critical-role-acme--prod" in str(caught.value)
    # The namespaces are made (the missing Secrets go into them), nothing else is sent.
    assert {r["body"]["kind"] for r in rec.requests if r["method"] == "PATCH"} == {"Namespace"}


def test_server_side_apply_sends_every_rendered_object_in_order(recorder: tuple[Recorder, str],
                                                               estate: Path) -> None:
    rec, url = recorder
    missing = action.apply(estate, dry_run=True, server=api(url)).missing_secrets
    # Every Secret the manifests name (roles, Odoo's options, object store credentials, image pulls), never
    # cert-manager's TLS ones.
    assert "odooplane/pg-backup-s3" in missing and "odoo-acme/acme--prod-odoo" in missing
    assert "odoo-acme/registry" in missing and not [m for m in missing if m.endswith("-tls")]
    rec.requests.clear()
    rec.objects.clear()
    add_secrets(rec, missing)
    result = action.apply(estate, dry_run=False, server=api(url))
    patches = [r for r in rec.requests if r["method"] == "PATCH"]
    assert len(patches) == len(result.applied) > 50
    assert result.counts() == {"created": len(patches), "changed": 0, "unchanged": 0}
    for request in patches:
        assert request["content_type"] == "application/apply-patch+yaml"
        assert request["query"] == {"fieldManager": "odooplane", "force": "true"}
        assert request["authorization"] == "Bearer test-token"
    kinds = [p["body"]["kind"] for p in patches]
    assert kinds[0] == "Namespace" and kinds[-1] == "IngressRoute"
    assert kinds.index("Cluster") < kinds.index("Database") < kinds.index("Deployment")
    assert "Secret" not in kinds and "Job" not in kinds and "ApplicationSet" not in kinds
    by_path = {p["path"]: p["body"] for p in patches}
    cluster = by_path["/apis/postgresql.cnpg.io/v1/namespaces/odooplane/clusters/critical"]
    assert cluster["spec"]["instances"] == 3
    deployment = by_path["/apis/apps/v1/namespaces/odoo-acme/deployments/acme--prod-http"]
    assert "replicas" not in deployment["spec"]  # its autoscaler owns the count (minimum 2)
    assert "/api/v1/namespaces/odoo-acme" in by_path  # a cluster-scoped path
    assert "/apis/traefik.io/v1alpha1/namespaces/odoo-pool-shared18/ingressroutes/initech--prod" in by_path
    # Again: nothing changes. A dry run after an edit says what would change, and stores nothing.
    again = action.apply(estate, dry_run=False, server=api(url))
    assert again.counts() == {"created": 0, "changed": 0, "unchanged": len(patches)}
    data = yaml.safe_load(estate.read_text())
    data["platform"]["kubernetes"]["replicas"]["max"] = 5
    estate.write_text(yaml.safe_dump(data))
    stored = copy.deepcopy(rec.objects)
    rec.requests.clear()
    dry = action.apply(estate, dry_run=True, server=api(url))
    changed = sorted(f"{a.kind}/{a.name}" for a in dry.applied if a.outcome != "unchanged")
    assert changed == ["HorizontalPodAutoscaler/acme--prod-http", "HorizontalPodAutoscaler/globex--prod-http",
                       "HorizontalPodAutoscaler/globex--staging-http"]  # the dedicated environments' maximum
    assert all(r["query"].get("dryRun") == "All" for r in rec.requests if r["method"] == "PATCH")
    assert rec.objects == stored


def test_the_cli_reads_a_kubeconfig(recorder: tuple[Recorder, str], estate: Path, tmp_path: Path) -> None:
    rec, url = recorder
    kubeconfig = apiserver.kubeconfig(tmp_path, url, "kubeconfig-token")
    result = CliRunner().invoke(app, ["kubernetes", "apply", str(estate), "--kubeconfig", str(kubeconfig), "--json"])
    assert result.exit_code == 1, result.output  # a refusal of this estate as it is, not a usage error
    assert "Secret(s) the manifests need do not exist" in " ".join(result.output.split())
    result = CliRunner().invoke(app, ["kubernetes", "apply", str(estate), "--kubeconfig", str(kubeconfig),
                                      "--dry-run", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    counts = report["counts"]
    assert report["dry_run"] and counts["created"] > 50 and counts["changed"] == 0
    assert counts["unchanged"] == 5  # the namespaces the refused apply made first
    assert report["missing_secrets"]
    assert rec.requests[0]["method"] == "GET"
    assert {r.get("authorization") for r in rec.requests} == {"Bearer kubeconfig-token"}
    assert {o["kind"] for o in rec.objects.values()} == {"Namespace"}  # a dry run stores nothing more
    unknown = CliRunner().invoke(app, ["kubernetes", "apply", str(estate), "--kubeconfig", str(kubeconfig),
                                       "--context", "nope"])
    assert unknown.exit_code != 0 and "no usable kubeconfig" in " ".join(unknown.output.split())


def test_apply_and_plan_hand_a_kubernetes_estate_over(recorder: tuple[Recorder, str], estate: Path,
                                                      tmp_path: Path) -> None:
    rec, url = recorder
    kubeconfig = apiserver.kubeconfig(tmp_path, url, "t")
    env = {"KUBECONFIG": str(kubeconfig)}
    planned = CliRunner().invoke(app, ["plan", str(estate), "--json"], env=env)
    assert planned.exit_code == 0, planned.output
    assert json.loads(planned.output)["dry_run"] is True
    assert rec.requests and all(r["query"].get("dryRun") == "All" for r in rec.requests if r["method"] == "PATCH")
    assert not rec.objects
    rec.objects.clear()
    applied = CliRunner().invoke(app, ["apply", str(estate)], env=env)
    assert applied.exit_code == 1 and "only the namespaces were applied" in " ".join(applied.output.split())
    pruned = CliRunner().invoke(app, ["apply", str(estate), "--prune"], env=env)
    assert pruned.exit_code == 2 and "pruned by Argo CD" in " ".join(pruned.output.split())
    add_secrets(rec, json.loads(planned.output)["missing_secrets"])
    applied = CliRunner().invoke(app, ["apply", str(estate), "--json"], env=env)
    assert applied.exit_code == 0, applied.output
    assert json.loads(applied.output)["counts"]["created"] > 50


def test_apply_makes_the_redis_session_users_of_stateless_environments_and_pools_first(
        recorder: tuple[Recorder, str], estate: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rec, url = recorder
    admin = "redis-admin-k8s-51"
    monkeypatch.setenv("OPL_TEST_REDIS_ADMIN", admin)
    data = yaml.safe_load(estate.read_text())
    with throwaway_redis() as port:
        redis.Redis(host="127.0.0.1", port=port).config_set("requirepass", admin)
        data["monitoring"] = {"redis": {"sessions": {"host": "127.0.0.1", "port": port,
                                                     "password": "env:OPL_TEST_REDIS_ADMIN"}}}
        data["tenants"]["globex"]["environments"]["prod"]["stateless"] = {"sessions": "sessions"}
        data["pools"]["shared16"]["stateless"] = {"sessions": "sessions"}
        estate.write_text(yaml.safe_dump(data, sort_keys=False))
        add_secrets(rec, action.apply(estate, dry_run=True, server=api(url)).missing_secrets)
        assert redis.Redis(host="127.0.0.1", port=port, password=admin).acl_users() == ["default"]  # dry run
        done = action.apply(estate, dry_run=False, server=api(url))
        assert sorted(done.session_users) == ["sessions/odooplane-emea-globex__prod",
                                              "sessions/odooplane-emea-pool-shared16"]
        ctx = estate_file.context(estate)
        try:
            password = ctx.secrets.get("env/globex/prod/redis_password")
        finally:
            ctx.close()
        assert password
        as_env = redis.Redis(host="127.0.0.1", port=port, username="odooplane-emea-globex__prod", password=password)
        as_env.set("odooplane:emea:sess:globex__prod:x", "1")  # its prefix only
        with pytest.raises(redis.exceptions.NoPermissionError):
            as_env.get("odooplane:emea:sess:pool-shared16:x")
        # Redis unreachable: refused before any object but the namespaces is sent.
        rec.objects = {k: v for k, v in rec.objects.items() if "/secrets/" in k}
        rec.requests.clear()
    with pytest.raises(OdooplaneError, match=r"did not take the session user"):
        action.apply(estate, dry_run=False, server=api(url))
    assert {r["body"]["kind"] for r in rec.requests if r["method"] == "PATCH"} == {"Namespace"}


def test_a_compose_estate_is_not_applied_here(tmp_path: Path) -> None:
    target = tmp_path / "estate.yaml"
    target.write_text("version: 1\nplatform: {driver: compose}\n")
    result = CliRunner().invoke(app, ["kubernetes", "apply", str(target), "--dry-run"])
    assert result.exit_code == 2 and "not kubernetes" in result.output


@pytest.mark.skipif(not os.environ.get("ODOOPLANE_TEST_KUBECONFIG"),
                    reason="no cluster: set ODOOPLANE_TEST_KUBECONFIG to a disposable cluster's kubeconfig")
def test_dry_run_against_a_real_cluster(estate: Path) -> None:  # pragma: no cover - optional tier
    result = CliRunner().invoke(app, ["kubernetes", "apply", str(estate), "--dry-run", "--json",
                                      "--kubeconfig", os.environ["ODOOPLANE_TEST_KUBECONFIG"]])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["objects"]


def test_status_reads_readiness_and_argocd(recorder: tuple[Recorder, str], estate: Path) -> None:
    rec, url = recorder
    add_secrets(rec, action.apply(estate, dry_run=True, server=api(url)).missing_secrets)
    action.apply(estate, dry_run=False, server=api(url))
    before = action.status(estate, server=api(url))
    rows = {f"{o.kind}/{o.name}": o for o in before.objects}
    assert rows["Deployment/acme--prod-http"].ready is False and rows["Cluster/critical"].ready is False
    assert not before.ready and before.applications == []
    # The cluster's controllers do their work: every Deployment and Cluster reports ready.
    for obj in rec.objects.values():
        if obj["kind"] == "Deployment":
            wanted = obj["spec"].get("replicas", 3)  # autoscaled ones: their maximum
            obj["metadata"]["generation"] = 1
            obj["status"] = {"readyReplicas": wanted, "updatedReplicas": wanted, "observedGeneration": 1}
        elif obj["kind"] == "Cluster":
            obj["status"] = {"readyInstances": obj["spec"]["instances"], "phase": "Cluster in healthy state"}
    apps = "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications"
    for name, sync in (("emea-platform", "Synced"), ("emea-tenants-acme", "OutOfSync")):
        rec.objects[f"{apps}/{name}"] = {"metadata": {"name": name, "labels": {"app.kubernetes.io/part-of": "emea"}},
                                         "status": {"sync": {"status": sync, "revision": "abc123"},
                                                    "health": {"status": "Healthy"}}}
    rec.objects[f"{apps}/other"] = {"metadata": {"name": "other", "labels": {"app.kubernetes.io/part-of": "x"}}}
    after = action.status(estate, server=api(url))
    assert all(o.ready for o in after.objects)
    assert rows["Cluster/critical"].detail == "0/3 instances, unknown"
    assert [a["name"] for a in after.applications] == ["emea-platform", "emea-tenants-acme"]
    assert not after.ready  # one Application is out of sync
    rec.objects[f"{apps}/emea-tenants-acme"]["status"]["sync"]["status"] = "Synced"
    assert action.status(estate, server=api(url)).ready


def test_wait_names_what_is_not_ready(recorder: tuple[Recorder, str], estate: Path) -> None:
    rec, url = recorder
    add_secrets(rec, action.apply(estate, dry_run=True, server=api(url)).missing_secrets)
    action.apply(estate, dry_run=False, server=api(url))
    with pytest.raises(PermanentError) as caught:
        action.wait_ready(estate, timeout=0.3, interval=0.1, server=api(url))
    assert "not ready after 0 s" in str(caught.value) and "Deployment/odoo-acme/acme--prod-http" in str(caught.value)
    for obj in rec.objects.values():
        if obj["kind"] == "Deployment":
            wanted = obj["spec"].get("replicas", 3)  # autoscaled ones: their maximum
            obj["status"] = {"readyReplicas": wanted, "updatedReplicas": wanted, "observedGeneration": 0}
        elif obj["kind"] == "Cluster":
            obj["status"] = {"readyInstances": obj["spec"]["instances"], "phase": "Cluster in healthy state"}
    assert action.wait_ready(estate, timeout=5, interval=0.1, server=api(url)).ready
