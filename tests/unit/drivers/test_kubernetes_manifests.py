"""The kubernetes driver's manifests: the reference estate (examples/kubernetes/estate.yaml: two
pools, three dedicated environments, a mission-critical tenant, TLS, point-in-time recovery, Argo CD)
rendered by ``odooplane render`` and checked without an API server — every core object against the
Kubernetes API schemas of 1.30 to 1.34 (strict), every custom resource against its upstream CRD
(tests/support/kubernetes.py), the tree byte for byte against golden files
(tests/unit/render/golden/kubernetes/reference; ``UPDATE_GOLDEN=1`` to accept a change), and what
each object must say for Odoo to run safely."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from odooplane.cli.main import app
from odooplane.drivers.kubernetes import manifests
from odooplane.estate.models import KubernetesSettings
from tests.support import golden
from tests.support import kubernetes as k8s

REFERENCE = Path(__file__).parents[3] / "examples" / "kubernetes" / "estate.yaml"
GOLDEN = Path(__file__).parents[1] / "render" / "golden" / "kubernetes" / "reference"


def _render(estate: Path, out: Path, *extra: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["render", str(estate), "--out", str(out), *extra])
    return result.exit_code, result.output


def _estate(tmp_path: Path, change: Any = None) -> Path:
    data = yaml.safe_load(REFERENCE.read_text())
    if change is not None:
        change(data)
    target = tmp_path / "estate" / "estate.yaml"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(data, sort_keys=False))
    return target


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("k8s")
    estate = tmp / "estate" / "estate.yaml"
    estate.parent.mkdir()
    shutil.copy(REFERENCE, estate)
    out = tmp / "out"
    code, output = _render(estate, out)
    assert code == 0, output
    assert not (estate.parent / ".odooplane").exists()  # rendering creates nothing
    return out


_tree = golden.tree


def _all(root: Path) -> list[tuple[str, dict[str, Any]]]:
    return [(str(path.relative_to(root)), doc) for path, doc in k8s.objects(root)]


def _find(root: Path, kind: str, name: str) -> dict[str, Any]:
    found = [doc for _, doc in _all(root) if doc["kind"] == kind and doc["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def _args(deployment: dict[str, Any]) -> list[str]:
    return list(deployment["spec"]["template"]["spec"]["containers"][0]["command"])


def test_golden(rendered: Path) -> None:
    golden.compare(_tree(rendered), GOLDEN, "kubernetes/reference")


def test_rendering_twice_writes_nothing(rendered: Path, tmp_path: Path) -> None:
    estate = _estate(tmp_path)
    out = tmp_path / "again"
    assert _render(estate, out)[0] == 0
    code, output = _render(estate, out)
    assert code == 0 and "0 written, 0 removed" in output
    assert _tree(out) == _tree(rendered)


def test_core_objects_validate_for_every_supported_kubernetes(rendered: Path) -> None:
    kinds = Counter()
    for path, doc in _all(rendered):
        if k8s.is_core(doc):
            try:
                assert k8s.validate(doc) == "core"
            except Exception as exc:
                raise AssertionError(f"{path}: {doc['kind']}/{doc['metadata']['name']}: {exc}") from None
            kinds[doc["kind"]] += 1
    for kind in ("Namespace", "ConfigMap", "Secret", "PersistentVolumeClaim", "Deployment", "Service",
                 "PodDisruptionBudget", "HorizontalPodAutoscaler", "NetworkPolicy"):
        assert kinds[kind] > 0, f"no {kind} rendered"


def test_strict_validation_refuses_an_unknown_field(rendered: Path) -> None:
    """The checks can fail: a misspelt field is refused by both kinds of validation."""
    deployment = _find(rendered, "Deployment", "acme--prod-http")
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    with pytest.raises(Exception, match="imagePullPolicyy"):
        k8s.validate(deployment)
    if not k8s.crds_dir().is_dir():
        pytest.skip(f"no CRDs at {k8s.crds_dir()} (set ODOOPLANE_CRDS)")
    cluster = _find(rendered, "Cluster", "critical")
    cluster["spec"]["instancess"] = 3
    with pytest.raises(Exception, match="instancess"):
        k8s.validate(cluster)


def test_custom_resources_validate_against_their_crds(rendered: Path) -> None:
    if not k8s.crds_dir().is_dir():
        pytest.skip(f"no CRDs at {k8s.crds_dir()} (the upstream CRDs; set ODOOPLANE_CRDS)")
    kinds = Counter()
    for path, doc in _all(rendered):
        try:
            how = k8s.validate(doc)
        except Exception as exc:
            raise AssertionError(f"{path}: {doc['kind']}/{doc['metadata']['name']}: {exc}") from None
        if how == "crd":
            kinds[doc["kind"]] += 1
    for kind in ("Cluster", "Database", "Pooler", "ScheduledBackup", "ObjectStore", "IngressRoute", "Middleware",
                 "TLSOption", "ApplicationSet"):
        assert kinds[kind] > 0, f"no {kind} rendered"


def test_certificates_name_their_issuer_and_hosts(rendered: Path) -> None:
    """cert-manager's CRD is not stored here: its Certificates are checked field by field."""
    certificates = [doc for _, doc in _all(rendered) if doc["kind"] == "Certificate"]
    assert len(certificates) == 6  # one per environment: TLS is on
    for cert in certificates:
        assert cert["apiVersion"] == "cert-manager.io/v1"
        assert set(cert["spec"]) == {"secretName", "dnsNames", "issuerRef"}
        assert cert["spec"]["issuerRef"] == {"name": "letsencrypt", "kind": "ClusterIssuer"}
        assert cert["spec"]["secretName"] == cert["metadata"]["name"]
    acme = _find(rendered, "Certificate", "acme--prod-tls")
    assert acme["spec"]["dnsNames"] == ["erp.acme.example"]
    route = _find(rendered, "IngressRoute", "acme--prod-tls")
    assert route["spec"]["tls"] == {"secretName": "acme--prod-tls", "options": {"name": "odooplane-tls"}}


def test_the_critical_tier_is_highly_available(rendered: Path) -> None:
    critical = _find(rendered, "Cluster", "critical")["spec"]
    assert critical["instances"] == 3
    assert critical["postgresql"]["synchronous"] == {"method": "any", "number": 1}
    assert critical["affinity"]["podAntiAffinityType"] == "required"
    main = _find(rendered, "Cluster", "main")["spec"]
    assert main["instances"] == 1 and "synchronous" not in main["postgresql"]
    assert main["postgresql"]["parameters"] == {"max_connections": "300"}
    web = _find(rendered, "Deployment", "acme--prod-http")
    assert "replicas" not in web["spec"]  # the autoscaler owns the count: applying one would fight it
    hpa = _find(rendered, "HorizontalPodAutoscaler", "acme--prod-http")["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 3)
    assert _find(rendered, "PodDisruptionBudget", "acme--prod-http")["spec"]["minAvailable"] == 1
    # The estate's resources are requests and limits both (a guaranteed memory size).
    resources = web["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert resources == {"requests": {"cpu": "2000m", "memory": "4096Mi"}, "limits": {"cpu": "2000m",
                                                                                    "memory": "4096Mi"}}


def test_dedicated_environments_scale_and_split_by_role(rendered: Path) -> None:
    hpa = _find(rendered, "HorizontalPodAutoscaler", "globex--prod-http")["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (1, 3)
    assert hpa["scaleTargetRef"]["name"] == "globex--prod-http"
    web = _args(_find(rendered, "Deployment", "globex--prod-http"))
    assert web == ["odoo", "-c", "/run/odoo/odoo.conf", "--max-cron-threads=0"]
    cron = _find(rendered, "Deployment", "globex--prod-cron")
    assert cron["spec"]["replicas"] == 1 and cron["spec"]["strategy"] == {"type": "Recreate"}
    assert "--database=globex_prod" in _args(cron) and "--workers=0" in _args(cron)
    evented = _find(rendered, "Deployment", "globex--prod-evented")  # prefork: the evented server of its own
    assert _args(evented)[:2] == ["odoo", "gevent"]
    # Staging runs threaded: no evented Deployment, the web one serves /websocket.
    names = {doc["metadata"]["name"] for _, doc in _all(rendered) if doc["kind"] == "Deployment"}
    assert "globex--staging-evented" not in names and "globex--staging-http" in names
    # Several pods mount the filestore: ReadWriteMany, from the declared class.
    pvc = _find(rendered, "PersistentVolumeClaim", "globex--prod-data")["spec"]
    assert pvc["accessModes"] == ["ReadWriteMany"] and pvc["storageClassName"] == "cephfs"


def test_pools_share_one_deployment_and_partition_their_crons(rendered: Path, tmp_path: Path) -> None:
    web = _find(rendered, "Deployment", "pool--shared18-http")
    assert web["spec"]["replicas"] == 2  # processes: 2
    assert web["metadata"]["namespace"] == "odoo-pool-shared18"
    cron = _find(rendered, "Deployment", "pool--shared18-cron")
    assert "--database=initech_prod,umbrella_prod" in _args(cron)
    conf = _find(rendered, "ConfigMap", "pool--shared18-conf")["data"]["odoo.conf"]
    assert "db_host = main-pooler-rw.odooplane.svc" in conf  # pools go through PgBouncer
    assert "odooplane_dbrouter" in conf
    assert _find(rendered, "Pooler", "main-pooler-rw")["spec"]["pgbouncer"]["poolMode"] == "session"
    header = _find(rendered, "Middleware", "initech--prod-db")["spec"]
    assert header == {"headers": {"customRequestHeaders": {"X-Odooplane-Database": "initech_prod"}}}
    database = _find(rendered, "Database", "main--initech--prod")["spec"]
    assert database["owner"] == "pool_shared18" and database["databaseReclaimPolicy"] == "retain"
    # One database per cron Deployment when the partition is 1.
    estate = _estate(tmp_path, lambda d: d["platform"]["kubernetes"].update(cron_partition=1))
    out = tmp_path / "out"
    assert _render(estate, out)[0] == 0
    crons = sorted(doc["metadata"]["name"] for _, doc in _all(out)
                   if doc["kind"] == "Deployment" and doc["metadata"]["name"].startswith("pool--shared18-cron"))
    assert crons == ["pool--shared18-cron-0", "pool--shared18-cron-1"]
    assert "--database=umbrella_prod" in _args(_find(out, "Deployment", "pool--shared18-cron-1"))


def test_no_secret_in_the_synced_tree(rendered: Path) -> None:
    """Secrets are placeholders under secrets/, outside every kustomization; odoo.conf in a ConfigMap
    has no secret key; no container has an environment."""
    for path, doc in _all(rendered):
        text = yaml.safe_dump(doc)
        if path.startswith("secrets/"):
            assert doc["kind"] == "Secret"
            assert "<secret:" in text
            continue
        assert doc["kind"] != "Secret", path
        assert "<secret:" not in text, path
        if doc["kind"] == "ConfigMap" and "odoo.conf" in doc.get("data", {}):
            conf = doc["data"]["odoo.conf"]
            assert "admin_passwd" not in conf and "db_password" not in conf
        if doc["kind"] == "Deployment":
            pod = doc["spec"]["template"]["spec"]
            for container in pod["containers"] + pod.get("initContainers", []):
                assert "env" not in container and "envFrom" not in container
    for kustomization in rendered.rglob("kustomization.yaml"):
        assert "secrets" not in kustomization.read_text()
    options = _find(rendered, "Secret", "acme--prod-odoo")["stringData"]["options.conf"]
    assert options.startswith("admin_passwd = <secret:") and "\ndb_password = <secret:" in options
    role = _find(rendered, "Secret", "critical-role-acme--prod")
    assert role["type"] == "kubernetes.io/basic-auth" and role["stringData"]["username"] == "acme_prod"


def test_odoo_is_reached_only_through_the_edge(rendered: Path) -> None:
    served = [doc for _, doc in _all(rendered) if doc["kind"] == "NetworkPolicy"
              and doc["metadata"]["name"] == "odoo-served"]
    assert {d["metadata"]["namespace"] for d in served} >= {"odoo-acme", "odoo-globex", "odoo-pool-shared18",
                                                             "odoo-pool-shared16"}
    for policy in served:
        spec = policy["spec"]
        assert spec["policyTypes"] == ["Ingress", "Egress"]
        (rule,) = spec["ingress"]
        sources = [(s["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"],
                    s["podSelector"]["matchLabels"]) for s in rule["from"]]
        assert sources == [("traefik", {"app.kubernetes.io/name": "traefik"}),
                           ("odooplane", {"app.kubernetes.io/name": "odooplane"})]
        egress = yaml.safe_dump(spec["egress"])
        assert "10.20.0.0/16" in egress and "cnpg.io/cluster" in egress and "kube-dns" in egress
    unserved = next(doc for _, doc in _all(rendered) if doc["kind"] == "NetworkPolicy"
                    and doc["metadata"]["name"] == "odoo-unserved" and doc["metadata"]["namespace"] == "odoo-acme")
    spec = unserved["spec"]
    assert "ingress" not in spec and "Ingress" in spec["policyTypes"]  # crons, Odoo run once (Jobs)
    assert spec["podSelector"]["matchExpressions"][0]["values"] == ["cron", "init", "update", "odoo-neutralize"]


def test_the_edge_blocks_the_database_manager_and_redirects(rendered: Path) -> None:
    route = _find(rendered, "IngressRoute", "globex--prod")["spec"]
    assert route["entryPoints"] == ["web"]
    main, manager, evented = route["routes"]
    assert main["middlewares"][:2] == [{"name": "odooplane-https"}, {"name": "globex--prod-ratelimit"}]
    assert manager["priority"] == 10_000 and manager["middlewares"] == [{"name": "odooplane-deny"}]
    assert "web(?:;[^/]*)?(?:/+(?:;[^/]*)?)*/+database" in manager["match"]
    assert evented["services"] == [{"name": "globex--prod-evented", "port": 8072}]
    assert "PathPrefix(`/websocket`)" in evented["match"]
    hooli = _find(rendered, "IngressRoute", "hooli--prod")["spec"]["routes"]
    assert len(hooli) == 2  # Odoo 16 pool runs threaded: its web Service serves /websocket itself


def test_backups_use_the_barman_cloud_plugin(rendered: Path) -> None:
    scheduled = _find(rendered, "ScheduledBackup", "critical-full")["spec"]
    assert scheduled["method"] == "plugin" and scheduled["pluginConfiguration"] == {
        "name": "barman-cloud.cloudnative-pg.io"}
    assert scheduled["schedule"] == "0 0 2 * * *"  # the estate's cron, with CloudNativePG's seconds field
    store = _find(rendered, "ObjectStore", "critical-backups")["spec"]
    assert store["configuration"]["destinationPath"] == "s3://acme-pg-backups/emea"
    assert store["configuration"]["endpointURL"] == "https://s3.eu-west-3.amazonaws.com"
    plugins = _find(rendered, "Cluster", "critical")["spec"]["plugins"]
    assert plugins == [{"name": "barman-cloud.cloudnative-pg.io", "isWALArchiver": True,
                        "parameters": {"barmanObjectName": "critical-backups"}}]
    everything = "".join(p.read_text() for p in rendered.rglob("*.yaml"))
    assert "barmanObjectStore" not in everything  # deprecated since CloudNativePG 1.26


def test_argocd_syncs_one_application_per_folder(rendered: Path) -> None:
    app = _find(rendered, "ApplicationSet", "emea")["spec"]
    paths = [d["path"] for d in app["generators"][0]["git"]["directories"]]
    assert paths[0] == "clusters/emea/platform"
    assert "clusters/emea/tenants/acme" in paths and "clusters/emea/pools/shared18" in paths
    for path in paths:
        assert (rendered / path.removeprefix("clusters/emea/") / "kustomization.yaml").is_file()
    assert app["template"]["metadata"]["name"] == 'emea-{{trimPrefix "clusters/emea/" .path.path | replace "/" "-"}}'
    assert "ServerSideApply=true" in app["template"]["spec"]["syncPolicy"]["syncOptions"]
    root = yaml.safe_load((rendered / "kustomization.yaml").read_text())
    assert root["resources"][0] == "platform" and "argocd" not in root["resources"]


def test_one_namespace_for_everything(tmp_path: Path) -> None:
    estate = _estate(tmp_path, lambda d: d["platform"]["kubernetes"].update(namespaces="single"))
    out = tmp_path / "out"
    assert _render(estate, out)[0] == 0
    namespaces = {doc["metadata"].get("namespace") for _, doc in _all(out) if doc["kind"] not in
                  ("Namespace", "ApplicationSet")}
    assert namespaces == {"odooplane"}
    assert [doc["metadata"]["name"] for _, doc in _all(out) if doc["kind"] == "Namespace"] == ["odooplane"]


def test_read_write_once_keeps_an_environments_pods_on_one_node(tmp_path: Path) -> None:
    estate = _estate(tmp_path, lambda d: d["platform"]["kubernetes"]["storage"].update(
        filestore_access_mode="ReadWriteOnce"))
    out = tmp_path / "out"
    assert _render(estate, out)[0] == 0
    for name in ("globex--prod-http", "globex--prod-cron", "globex--prod-evented"):
        affinity = _find(out, "Deployment", name)["spec"]["template"]["spec"]["affinity"]
        (term,) = affinity["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        assert term["labelSelector"] == {"matchLabels": {"app.kubernetes.io/instance": "globex--prod"}}


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["platform"]["kubernetes"].pop("object_store"),
     "clusters.main.pitr: on kubernetes CloudNativePG archives WAL and base backups to object storage"),
    (lambda d: d["stacks"]["odoo18"].update(image=None, source="odoo-src"),
     "stacks.odoo18.source: on kubernetes a stack runs an image"),
    (lambda d: d["stacks"]["odoo18"].update(addons_paths=["addons"]), "stacks.odoo18.addons_paths: on kubernetes"),
    (lambda d: d["platform"]["kubernetes"].update(namespace="Bad_NS"), "namespace"),
])
def test_what_cannot_run_is_refused_and_nothing_is_written(tmp_path: Path, change: Any, message: str) -> None:
    estate = _estate(tmp_path, change)
    (estate.parent / "odoo-src").mkdir()
    (estate.parent / "odoo-src" / "odoo-bin").write_text("")  # a source tree of this host
    out = tmp_path / "out"
    code, output = _render(estate, out)
    assert code != 0
    assert message in " ".join(output.split())
    assert not out.exists()


def test_verbs_the_driver_does_not_run_yet_say_so(tmp_path: Path) -> None:
    estate = _estate(tmp_path)
    for argv in (["move", "acme/prod", "--to", "shared:shared18", "-f", str(estate)],
                 ["drill", "acme/prod", "-f", str(estate)]):
        result = CliRunner().invoke(app, argv)
        assert result.exit_code != 0
        assert "platform.driver is kubernetes, where this does not run yet" in " ".join(result.output.split()), argv
    # apply, health, logs and pitr hand over to the API server, which needs a cluster to talk to.
    for argv in (["apply", str(estate)], ["health", "-f", str(estate)], ["logs", "acme/prod", "-f", str(estate)],
                 ["pitr", "info", "critical", "-f", str(estate)], ["down", "-f", str(estate)],
                 ["backup", "run", "acme/prod", "-f", str(estate)], ["verify", "acme/prod", "-f", str(estate)],
                 ["restore", "acme/prod", "--yes", "-f", str(estate)],
                 ["clone", "globex/prod", "globex/staging", "--yes", "-f", str(estate)]):
        result = CliRunner().invoke(app, argv, env={"KUBECONFIG": str(tmp_path / "none")})
        assert result.exit_code == 2 and "no usable kubeconfig" in " ".join(result.output.split()), argv


def test_point_in_time_recovery_is_a_new_cluster(rendered: Path) -> None:
    settings = KubernetesSettings()
    cluster = manifests.recovery_cluster("critical", into="critical-pitr", target_time="2026-12-01T10:30:00Z",
                                         settings=settings, estate="emea")
    assert cluster["spec"]["bootstrap"]["recovery"] == {"source": "critical",
                                                        "recoveryTarget": {"targetTime": "2026-12-01T10:30:00Z"}}
    assert cluster["spec"]["externalClusters"][0]["plugin"]["parameters"]["barmanObjectName"] == "critical-backups"
    # Into a cluster the estate declares: its own rendering (instances, roles), plus the bootstrap only.
    declared = _find(rendered, "Cluster", "critical")
    into = manifests.recovery_cluster("critical", into="critical", target_time=None, settings=settings,
                                      estate="emea", declared=declared)
    assert into["spec"]["bootstrap"] == {"recovery": {"source": "critical"}}  # the end of the archived WAL
    assert {k: v for k, v in into["spec"].items() if k not in ("bootstrap", "externalClusters")} == declared["spec"]
    backup = manifests.on_demand_backup("critical", name="critical-20261201103000", settings=settings, estate="emea")
    assert backup["spec"] == {"cluster": {"name": "critical"}, "method": "plugin",
                              "pluginConfiguration": {"name": "barman-cloud.cloudnative-pg.io"}}
    if not k8s.crds_dir().is_dir():
        pytest.skip(f"no CRDs at {k8s.crds_dir()}")
    assert k8s.validate(cluster) == "crd"
    assert k8s.validate(into) == "crd"
    assert k8s.validate(backup) == "crd"


def test_stateless_environments_keep_nothing_on_disk(tmp_path: Path) -> None:
    """Sessions in Redis and attachments in S3: no volume claim, and the stores' credentials are in
    the Secret, never in the ConfigMap."""
    def stateless(d: dict[str, Any]) -> None:
        d["monitoring"] = {"redis": {"sessions": {"host": "redis.odooplane.svc", "port": 6379,
                                                  "password": "env:REDIS_ADMIN"}}}
        d["object_storage"] = {"files": {"endpoint_url": "https://s3.example.com", "bucket": "acme-odoo",
                                         "access_key_id": "env:S3_KEY", "secret_access_key": "env:S3_SECRET"}}
        d["stacks"]["odoo18"]["stateless"] = {"sessions": "sessions", "attachments": "files"}

    out = tmp_path / "out"
    assert _render(_estate(tmp_path, stateless), out)[0] == 0
    conf = _find(out, "ConfigMap", "globex--prod-conf")["data"]["odoo.conf"]
    assert "odooplane_sessions_redis = redis://odooplane-emea-globex__prod@redis.odooplane.svc:6379/0" in conf
    assert "odooplane_s3_bucket = acme-odoo" in conf
    for secret in ("odooplane_sessions_password", "odooplane_s3_access_key", "odooplane_s3_secret_key"):
        assert secret not in conf
    options = _find(out, "Secret", "globex--prod-odoo")["stringData"]["options.conf"]
    assert "odooplane_sessions_password = <secret:" in options and "odooplane_s3_secret_key = <secret:" in options
    claims = {doc["metadata"]["name"] for _, doc in _all(out) if doc["kind"] == "PersistentVolumeClaim"}
    assert "globex--prod-data" not in claims and "pool--shared18-data" not in claims
    volumes = _find(out, "Deployment", "globex--prod-http")["spec"]["template"]["spec"]["volumes"]
    assert {"name": "data", "emptyDir": {}} in volumes
    for _, doc in _all(out):
        assert doc["kind"] == "Secret" or "<secret:" not in yaml.safe_dump(doc)


def test_each_environment_has_a_one_shot_init_job_outside_the_synced_tree(rendered: Path) -> None:
    jobs = {doc["metadata"]["name"]: (path, doc) for path, doc in _all(rendered) if doc["kind"] == "Job"}
    assert sorted(jobs) == ["acme--prod-init", "globex--prod-init", "globex--staging-init", "hooli--prod-init",
                            "initech--prod-init", "umbrella--prod-init"]
    path, job = jobs["initech--prod-init"]
    assert path == "jobs/initech/initech--prod-init.yaml"
    assert job["metadata"]["namespace"] == "odoo-pool-shared18"  # with its pool's configuration and volume
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never" and job["spec"]["backoffLimit"] == 0
    # Odoo makes the database first (an init container, after the configuration is joined) ...
    assert [c["name"] for c in pod["initContainers"]] == ["conf", "odoo"]
    odoo = pod["initContainers"][1]
    assert odoo["command"] == ["odoo", "-c", "/run/odoo/odoo.conf", "-d", "initech_prod", "-i", "base",
                               "--stop-after-init", "--workers=0", "--max-cron-threads=0"]
    assert "livenessProbe" not in odoo and "readinessProbe" not in odoo
    # ... then it gets its own identity (-i base leaves the admin password "admin"), as Odoo's role,
    # the admin password's hash read from a Secret's file: nothing secret in the Job.
    (identity,) = pod["containers"]
    assert identity["name"] == "identity" and identity["image"] == "odooplane/control:latest"
    task = json.loads(identity["command"][-1])
    assert identity["command"][:-1] == ["/opt/odooplane/bin/python", "-m", "odooplane", "kubernetes", "restore-stage"]
    assert task == {"part": "identity", "database": "initech_prod", "conf": "/run/odoo/odoo.conf",
                    "identity": "/etc/odooplane-identity", "base_url": "https://initech-prod.odoo.example.com:8443"}
    assert {"name": "identity", "secret": {"secretName": "initech--prod-identity", "defaultMode": 0o440}} \
        in pod["volumes"]
    assert "env" not in identity and "$pbkdf2" not in yaml.safe_dump(job)
    assert {"name": "data", "persistentVolumeClaim": {"claimName": "pool--shared18-data"}} in pod["volumes"]
    for kustomization in rendered.rglob("kustomization.yaml"):
        assert "jobs" not in kustomization.read_text()


def test_argocd_never_prunes_filestores_or_namespaces(rendered: Path) -> None:
    for _, doc in _all(rendered):
        if doc["kind"] in ("PersistentVolumeClaim", "Namespace"):
            assert doc["metadata"]["annotations"]["argocd.argoproj.io/sync-options"] == "Prune=false,Delete=false"


def test_the_api_answers_501_for_what_a_kubernetes_estate_does_not_do(tmp_path: Path) -> None:
    from starlette.requests import Request

    from odooplane.api.problems import _odooplane
    from odooplane.errors import KubernetesEstate

    request = Request({"type": "http", "method": "POST", "path": "/api/v1/backups", "headers": [],
                       "query_string": b""})
    response = _odooplane(request, KubernetesEstate(tmp_path / "estate.yaml"))
    assert response.status_code == 501
    assert b"not-on-kubernetes" in bytes(response.body)


def test_a_backup_job_is_built_from_the_pod_that_serves_the_environment(rendered: Path) -> None:
    deployment = _find(rendered, "Deployment", "pool--shared18-http")
    name, of = manifests.backup_job_names("initech", "prod", "20261206130005")
    assert (name, of) == ("initech--prod-backup-20261206130005", "initech--prod")
    job = manifests.backup_job(deployment, name=name, of=of, target="initech/prod", image="odooplane/control:1",
                               command=["/opt/odooplane/bin/python", "-m", "odooplane", "kubernetes", "backup-stage",
                                        "{}"], repositories=["offsite", "local_copy"])
    assert k8s.validate(job) == "core"  # strict, for every supported Kubernetes version
    pod = job["spec"]["template"]["spec"]
    assert pod["securityContext"] == deployment["spec"]["template"]["spec"]["securityContext"]  # Odoo's user
    assert [c["image"] for c in pod["initContainers"] + pod["containers"]] == ["odooplane/control:1"] * 2
    mounts = {m["mountPath"]: m for m in pod["containers"][0]["volumeMounts"]}
    assert mounts["/var/lib/odoo"]["readOnly"] and mounts["/run/odoo"]["readOnly"]
    secrets = {v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
    assert secrets == {"pool--shared18-odoo", "odooplane-restic-offsite", "odooplane-restic-local-copy"}
    assert job["metadata"]["labels"]["odooplane.io/backup-of"] == of and job["spec"]["ttlSecondsAfterFinished"] > 0
    # Long names stay DNS labels, and still say whose backup it is.
    long_name, long_of = manifests.backup_job_names("t" * 30, "e" * 20, "20261206130005")
    assert len(long_name) <= 63 and long_name.startswith("t" * 20) and len(long_of) <= 41
    for verb in ("restore-db", "restore-fs", "swap-db", "swap-fs"):
        name, _ = manifests.backup_job_names("t" * 30, "e" * 20, "20261206130005", verb=verb)
        assert len(name) <= 63 and f"-{verb}-" in name
    with pytest.raises(ValueError, match="YYYYmmddHHMMSS"):
        manifests.backup_job_names("acme", "prod", "2026-12-06")
    secret = manifests.restic_secret("offsite", "odoo-acme", password="pw", s3_keys=("AK", "SK"))
    assert k8s.validate(secret) == "core"
    assert secret["stringData"]["aws-credentials"] == "[default]\naws_access_key_id = AK\naws_secret_access_key = SK\n"


def test_a_verification_job_runs_beside_the_database_with_its_secrets_as_files() -> None:
    name, of = manifests.backup_job_names("initech", "prod", "20261206133000", verb="verify")
    assert (name, of) == ("initech--prod-verify-20261206133000", "initech--prod")
    settings = KubernetesSettings(image_pull_secrets=["registry"])
    job = manifests.verify_job(name=name, of=of, namespace="odooplane", target="initech/prod",
                               image="odooplane/control:1", command=["odooplane", "kubernetes", "verify-stage", "{}"],
                               repository="offsite", superuser_secret="main-superuser", settings=settings)
    assert k8s.validate(job) == "core"  # strict, for every supported Kubernetes version
    pod = job["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] and pod["automountServiceAccountToken"] is False
    assert pod["imagePullSecrets"] == [{"name": "registry"}] and pod["restartPolicy"] == "Never"
    secrets = {v["secret"]["secretName"]: v["secret"]["defaultMode"] for v in pod["volumes"] if "secret" in v}
    assert secrets == {"main-superuser": 0o440, "odooplane-restic-offsite": 0o440}
    mounts = {m["mountPath"]: m.get("readOnly", False) for m in pod["containers"][0]["volumeMounts"]}
    assert mounts == {"/work": False, "/etc/restic/offsite": True, "/etc/postgres-superuser": True}
    assert job["metadata"]["namespace"] == "odooplane" and job["spec"]["backoffLimit"] == 0
    assert job["metadata"]["labels"]["odooplane.io/verify-of"] == of
