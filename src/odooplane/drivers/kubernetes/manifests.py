"""Kubernetes manifests of an estate: pure functions of its desired runtime and the driver's settings.

What each Odoo workload becomes (an environment ``acme/prod`` → objects ``acme--prod*`` in its
tenant's namespace; a pool ``shared`` → ``pool--shared*`` in the pool's namespace):

- ConfigMap ``<base>-conf``: odoo.conf without its secrets (``admin_passwd``, ``db_password``),
  which are the Secret ``<base>-odoo`` (``options.conf``: the two lines). An init container joins
  them into ``/run/odoo/odoo.conf`` (an in-memory emptyDir, 0600, the Odoo user's): no secret is
  ever in a container's environment.
- Deployments split by role: ``<base>-http`` (web; ``--max-cron-threads=0``), ``<base>-cron``
  (threaded, ``--max-cron-threads=N`` and ``--database=`` the databases it runs crons for — a
  pool's databases in partitions of ``cron_partition``, each a Deployment ``<base>-cron-<i>``:
  a threaded server only runs the crons of the registries it has loaded, and it loads db_name's at
  start), ``<base>-evented`` (``odoo gevent``, prefork only: ``/websocket`` on 16+, ``/longpolling``
  before; a threaded server serves it itself). Probes on ``/web/health``.
- Services ``<base>-http`` and ``<base>-evented``; a PVC ``<base>-data`` for the data_dir
  (filestore and sessions), ReadWriteMany when more than one pod mounts it (``auto``);
  PodDisruptionBudget and HorizontalPodAutoscaler on the web Deployment when it has replicas to
  spare or to add.
- NetworkPolicies per namespace: web and evented pods are reached only by the edge (Traefik's pods)
  and the control plane — the pool's trusted database header cannot be forged from inside the
  cluster — cron pods by nobody; Odoo reaches only DNS, its database (CloudNativePG instances and
  poolers of the platform namespace), the mail sink and the CIDRs of ``egress``.
- Edge: an IngressRoute per environment (``<base>`` on the HTTP entry point, ``<base>-tls`` on
  HTTPS), the database manager answered 403 (render/traefik.py's rule), Middlewares (security
  headers, deny, the pool's database header, rate limit, HTTPS redirect), a TLSOption per
  namespace, a cert-manager Certificate per TLS environment (or Traefik's ACME resolver, or a
  Secret you provide).
- Data (platform namespace): a CloudNativePG ``Cluster`` per managed cluster (3 instances and one
  synchronous standby on the critical tier), its Odoo roles as managed roles (passwords from
  basic-auth Secrets), a ``Database`` per environment (``databaseReclaimPolicy: retain``: removing
  the object never drops the data), a ``Pooler`` (PgBouncer, session mode: Odoo's bus LISTENs) for
  each cluster a pool uses, an ``ObjectStore`` + ``ScheduledBackup`` (``method: plugin``, the Barman
  Cloud plugin) for clusters with point-in-time recovery.

Secrets are rendered (placeholders ``<secret:NAME>``) under ``secrets/``, outside every
kustomization: ``apply`` creates them from the state store; with GitOps alone, a secret manager
does. Everything else is a kustomize tree an Argo CD ApplicationSet syncs (one Application per
folder: the platform, each pool, each tenant). The YAML is deterministic: keys sorted.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

import odooplane
from odooplane.drivers.base import Artifacts, ClusterSpec, DatabaseInit, DesiredRuntime, EdgeSpec, OdooWorkload
from odooplane.drivers.kubernetes import names
from odooplane.estate.models import KubernetesSettings
from odooplane.render import dockerfile, odoo_conf
from odooplane.render import traefik as render_traefik

MANAGED_BY = "odooplane"
LABEL_NAME = "app.kubernetes.io/name"
LABEL_INSTANCE = "app.kubernetes.io/instance"
LABEL_COMPONENT = "app.kubernetes.io/component"
LABEL_MANAGED = "app.kubernetes.io/managed-by"
LABEL_PART_OF = "app.kubernetes.io/part-of"
LABEL_TENANT = "odooplane.io/tenant"
LABEL_POOL = "odooplane.io/pool"
COST_LABEL_PREFIX = "odooplane.io/"  # odooplane.io/business-unit, …/cost-centre: what OpenCost groups by
ANNOTATION_TARGET = "odooplane.io/target"
ANNOTATION_REVISION = "odooplane.io/revision"
CONF_DIR = "/etc/odoo"  # the ConfigMap (odoo.conf without secrets)
SECRET_DIR = "/etc/odoo-secret"  # noqa: S105 - the directory the Secret (options.conf) is mounted in
RUN_DIR = "/run/odoo"  # odoo.conf joined by the init container (memory, 0600)
CONF = f"{RUN_DIR}/odoo.conf"
CNPG = "postgresql.cnpg.io/v1"
BARMAN = "barmancloud.cnpg.io/v1"
BARMAN_PLUGIN = "barman-cloud.cloudnative-pg.io"
CERT_MANAGER = "cert-manager.io/v1"
ARGOCD = "argoproj.io/v1alpha1"
KUSTOMIZE = "kustomize.config.k8s.io/v1beta1"
POSTGRES_PORT = 5432
MAIL_SINK = "mail-sink"
MAIL_DIR = "/var/lib/odooplane/mail"
HEADERS = "odooplane-headers"
DENY = "odooplane-deny"
REDIRECT = "odooplane-https"
TLS_OPTION = "odooplane-tls"
CONTROL_PLANE_LABELS = {LABEL_NAME: "odooplane"}  # the control plane's pods (probes reach Odoo)
# Argo CD never deletes these when their folder goes (a removed tenant's filestore and namespace stay
# until someone deletes them on purpose, as CloudNativePG Databases are retained).
KEEP = {"argocd.argoproj.io/sync-options": "Prune=false,Delete=false"}
SECRETS_DIR = "secrets"  # rendered Secrets (placeholders): outside every kustomization
JOBS_DIR = "jobs"  # one-shot Jobs (a new database's init): outside every kustomization
UNSYNCED = (SECRETS_DIR, JOBS_DIR)


@dataclass
class _Tree:
    """Objects by the file they go to; the namespaces each folder owns."""

    files: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    namespaces: dict[str, str] = field(default_factory=dict)  # namespace -> folder that creates it
    claims: dict[str, str] = field(default_factory=dict)  # object base -> its filestore claim's access mode

    def add(self, path: str, *objects: dict[str, Any]) -> None:
        self.files.setdefault(path, []).extend(objects)


def _meta(name: str, namespace: str | None, labels: Mapping[str, str] | None = None,
          annotations: Mapping[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": {LABEL_MANAGED: MANAGED_BY, **(labels or {})}}
    if namespace is not None:
        meta["namespace"] = namespace
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta


def _quantity_mib(mib: int) -> str:
    return f"{mib}Mi"


def _cpu(cpus: float) -> str:
    return f"{round(cpus * 1000)}m"


@dataclass(frozen=True)
class _Odoo:
    """One Odoo workload placed on Kubernetes: a dedicated environment or a whole pool."""

    base: str
    namespace: str
    folder: str
    labels: dict[str, str]
    workload: OdooWorkload  # the environment's, or the pool's first process
    replicas: int  # web replicas (a pool: its processes)
    max_replicas: int
    ha: bool
    cron_databases: tuple[tuple[str, ...], ...]  # one tuple per cron Deployment
    image: str
    entrypoint: tuple[str, ...]
    uid: int
    gid: int


OWN_ADDONS = Path(odooplane.__file__).parent / "odoo_addons"  # Odooplane's server-wide modules
OWN_ADDONS_DIR = "/mnt/odooplane-addons"  # where a ConfigMap holds them in each Odoo pod
OWN_ADDONS_MAP = "odooplane-addons"


def _own_addons() -> dict[str, tuple[str, str]]:
    """ConfigMap key -> (path under OWN_ADDONS_DIR, text) for each file of Odooplane's modules."""
    out = {}
    for path in sorted(OWN_ADDONS.glob("*/*.py")):
        relative = path.relative_to(OWN_ADDONS).as_posix()
        out[relative.replace("/", ".")] = (relative, path.read_text())
    return out


def revision(w: OdooWorkload) -> str:
    """The revision of ``w``'s pods: like ``w.revision`` but independent of where Odooplane is
    installed (its own addons count by their content, not their directory), so a tree rendered on
    two machines is the same."""
    stack = w.stack
    own = hashlib.sha256(repr(sorted(_own_addons().items())).encode()).hexdigest() if stack.addons else ""
    parts = (w.name, w.role, w.target, stack.series_major, stack.simulator, stack.image, own,
             w.settings.fingerprint(), w.cluster, w.storage, w.evented, repr(w.env), w.stop_grace_s, w.cpus,
             w.memory_mib)
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


def _image(w: OdooWorkload, settings: KubernetesSettings) -> tuple[str, tuple[str, ...], int, int]:
    stack = w.stack
    if any(Path(a) != OWN_ADDONS for a in stack.addons):
        raise ValueError(f"{w.target}: the stack has addons directories of this host; on Kubernetes the addons are "
                         "part of the stack's image (build an image with them and name it in stacks.<name>.image)")
    if stack.image:
        o = dockerfile.OFFICIAL
        return stack.image, o.entrypoint, o.uid, o.gid
    if stack.simulator:
        s = dockerfile.SIMULATOR
        return settings.control_image, s.entrypoint, s.uid, s.gid
    raise ValueError(f"{w.target}: a stack on Kubernetes names its image (stacks.<name>.image, e.g. odoo:18.0 or one "
                     "built with your addons): a source tree of this host cannot run in a cluster")


def _db_host(w: OdooWorkload, managed: Mapping[str, ClusterSpec], settings: KubernetesSettings,
             pooled: bool) -> tuple[str, int]:
    if w.cluster in managed:
        service = f"{w.cluster}-pooler-rw" if pooled else f"{w.cluster}-rw"
        return f"{service}.{settings.namespace}.svc", POSTGRES_PORT
    host, port = w.cluster_address
    if host in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(f"{w.target}: cluster {w.cluster} is at {host}, which a pod cannot reach (its own loopback): "
                         "use a managed cluster or a host the cluster reaches")
    return host, port


def _conf(w: OdooWorkload, host: str, port: int, mail_host: str) -> str:
    settings = w.settings
    if "smtp_server" in settings.extra:  # non-production mail goes to the platform's sink
        extra = dict(settings.extra)
        extra["smtp_server"] = mail_host
        settings = replace(settings, extra=extra)
    return _no_trailing_space(odoo_conf.render_placed(settings, odoo_conf.Placement(
        db_host=host, db_port=port, data_dir=dockerfile.DATA_DIR,
        addons_path=(OWN_ADDONS_DIR, dockerfile.ADDONS_DIR) if w.stack.addons else (), http_port=dockerfile.HTTP_PORT,
        evented_port=dockerfile.EVENTED_PORT, logfile="", http_interface="0.0.0.0"), secrets=False))


def _no_trailing_space(text: str) -> str:
    """``logfile =`` rather than ``logfile = `` (the same empty value for Odoo; a YAML block keeps it)."""
    return "\n".join(line.rstrip() for line in text.split("\n"))


STATELESS_MODULES = ("odooplane_sessions", "odooplane_attachments")


def _stateless(w: OdooWorkload) -> bool:
    """Sessions in Redis and attachments in object storage: the data_dir keeps nothing (an emptyDir)."""
    return all(m in w.settings.server_wide_modules for m in STATELESS_MODULES)


def _pod_security(uid: int, gid: int) -> dict[str, Any]:
    return {"runAsUser": uid, "runAsGroup": gid, "fsGroup": gid, "runAsNonRoot": True,
            "seccompProfile": {"type": "RuntimeDefault"}}


_CONTAINER_SECURITY = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


def _resources(w: OdooWorkload) -> dict[str, Any]:
    """Requests and limits: what the estate grants (cpus, memory_mib), else a request sized on Odoo's
    own soft memory limit so the scheduler places it where it fits."""
    requests: dict[str, str] = {"cpu": _cpu(w.cpus) if w.cpus else "100m",
                                "memory": _quantity_mib(w.memory_mib or min(w.settings.limit_memory_soft_mib, 1024))}
    limits: dict[str, str] = {}
    if w.memory_mib:
        limits["memory"] = _quantity_mib(w.memory_mib)
    if w.cpus:
        limits["cpu"] = _cpu(w.cpus)
    return {"requests": requests, **({"limits": limits} if limits else {})}


def _probe(path: str, port: str, *, period: int, failures: int) -> dict[str, Any]:
    return {"httpGet": {"path": path, "port": port}, "periodSeconds": period, "failureThreshold": failures,
            "timeoutSeconds": 5}


def _pod(o: _Odoo, component: str, args: list[str], settings: KubernetesSettings, *,
         affinity: dict[str, Any] | None) -> dict[str, Any]:
    ports = [{"name": "http", "containerPort": dockerfile.HTTP_PORT}]
    if component == "evented":
        ports = [{"name": "evented", "containerPort": dockerfile.EVENTED_PORT}]
    probe_port = "evented" if component == "evented" else "http"
    container: dict[str, Any] = {
        "name": "odoo",
        "image": o.image,
        "command": [*o.entrypoint, *args],
        "ports": ports,
        "resources": _resources(o.workload),
        "securityContext": _CONTAINER_SECURITY,
        "volumeMounts": [{"name": "run", "mountPath": RUN_DIR, "readOnly": True},
                         {"name": "data", "mountPath": dockerfile.DATA_DIR}],
    }
    if o.workload.stack.addons:
        container["volumeMounts"].append({"name": "addons", "mountPath": OWN_ADDONS_DIR, "readOnly": True})
    if component == "init":  # a one-shot run serves nothing
        pass
    elif component != "evented":  # the gevent server answers /websocket only
        container["startupProbe"] = _probe("/web/health", probe_port, period=5, failures=60)
        container["readinessProbe"] = _probe("/web/health", probe_port, period=10, failures=3)
        container["livenessProbe"] = _probe("/web/health", probe_port, period=20, failures=6)
    else:
        container["readinessProbe"] = {"tcpSocket": {"port": probe_port}, "periodSeconds": 10}
    join = {
        "name": "conf",
        "image": o.image,
        # Static text, no input: the ConfigMap's odoo.conf then the Secret's two lines, 0600.
        "command": ["sh", "-c", f"umask 077 && cat {CONF_DIR}/odoo.conf {SECRET_DIR}/options.conf > {CONF}"],
        "securityContext": _CONTAINER_SECURITY,
        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "64Mi"}},
        "volumeMounts": [{"name": "conf", "mountPath": CONF_DIR, "readOnly": True},
                         {"name": "secret", "mountPath": SECRET_DIR, "readOnly": True},
                         {"name": "run", "mountPath": RUN_DIR}],
    }
    spec: dict[str, Any] = {
        "securityContext": _pod_security(o.uid, o.gid),
        "terminationGracePeriodSeconds": o.workload.stop_grace_s,
        "enableServiceLinks": False,
        "automountServiceAccountToken": False,
        "initContainers": [join],
        "containers": [container],
        "volumes": [
            {"name": "conf", "configMap": {"name": f"{o.base}-conf"}},
            {"name": "secret", "secret": {"secretName": f"{o.base}-odoo", "defaultMode": 0o440}},
            {"name": "run", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}},
            {"name": "data", "emptyDir": {}} if _stateless(o.workload) else
            {"name": "data", "persistentVolumeClaim": {"claimName": f"{o.base}-data"}},
        ],
    }
    if o.workload.stack.addons:
        spec["volumes"].append({"name": "addons", "configMap": {
            "name": OWN_ADDONS_MAP, "items": [{"key": key, "path": path} for key, (path, _) in _own_addons().items()]}})
    if settings.image_pull_secrets:
        spec["imagePullSecrets"] = [{"name": s} for s in settings.image_pull_secrets]
    if affinity:
        spec["affinity"] = affinity
    labels = {**o.labels, LABEL_COMPONENT: component}
    annotations = {ANNOTATION_REVISION: revision(o.workload)}
    return {"metadata": {"labels": labels, "annotations": annotations}, "spec": spec}


def _deployment(o: _Odoo, name: str, component: str, args: list[str], *, replicas: int | None,
                settings: KubernetesSettings, affinity: dict[str, Any] | None) -> dict[str, Any]:
    selector = {LABEL_INSTANCE: o.base, LABEL_COMPONENT: component}
    if component == "cron":
        selector = {LABEL_INSTANCE: o.base, LABEL_COMPONENT: component, "odooplane.io/partition": name}
    template = _pod(o, component, args, settings, affinity=affinity)
    template["metadata"]["labels"].update(selector)
    # Crons must never run twice for one database: the old pod stops before the new one starts.
    strategy = ({"type": "Recreate"} if component == "cron"
                else {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}})
    spec: dict[str, Any] = {"revisionHistoryLimit": 5, "selector": {"matchLabels": selector}, "strategy": strategy,
                            "template": template}
    if replicas is not None:  # None: an autoscaler owns the count (applying a count would fight it)
        spec["replicas"] = replicas
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": _meta(name, o.namespace, {**o.labels, LABEL_COMPONENT: component},
                          {ANNOTATION_TARGET: o.workload.target}),
        "spec": spec,
    }


def _same_node(base: str) -> dict[str, Any]:
    """Required affinity to the node the pods of ``base`` run on (a ReadWriteOnce volume is there)."""
    return {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {LABEL_INSTANCE: base}}, "topologyKey": "kubernetes.io/hostname"}]}}


IDENTITY_DIR = "/etc/odooplane-identity"  # the identity Secret's files (admin-password-hash)
IDENTITY_KEY = "admin-password-hash"
SALT_KEY = "anonymize-salt"  # a clone's: the same person gets the same pseudonym in every refresh
IDENTITY_CONTAINER = "identity"


def identity_secret_name(base: str) -> str:
    """The Secret holding the pbkdf2 hash of an environment's admin password, for its identity step."""
    return names.check(f"{base}-identity", "identity Secret name")


def identity_secret(name: str, namespace: str, *, admin_password_hash: str,
                    anonymize_salt: str | None = None) -> dict[str, Any]:
    """The Secret ``name`` (:func:`identity_secret_name`) the identity step of an environment's init
    Job (or of a restore of another environment's copy) reads its admin password's hash from, and
    a clone's anonymization its salt (``anonymize_salt``); written by the control plane."""
    data = {IDENTITY_KEY: admin_password_hash}
    if anonymize_salt is not None:
        data[SALT_KEY] = anonymize_salt
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": _meta(name, namespace, {LABEL_NAME: "odooplane-identity"}), "stringData": data}


def identity_container(image: str, command: list[str]) -> dict[str, Any]:
    """The container giving a database its own identity (the identity Secret mounted as files,
    Odoo's joined configuration to connect as Odoo's role)."""
    return {"name": IDENTITY_CONTAINER, "image": image, "command": command,
            "securityContext": _CONTAINER_SECURITY,
            "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
            "volumeMounts": [{"name": "run", "mountPath": RUN_DIR, "readOnly": True},
                             {"name": "identity", "mountPath": IDENTITY_DIR, "readOnly": True}]}


def identity_volume(secret: str) -> dict[str, Any]:
    """The volume of the identity Secret ``secret`` (mounted by :func:`identity_container`)."""
    return {"name": "identity", "secret": {"secretName": secret, "defaultMode": 0o440}}


def identity_command(*, database: str, base_url: str, host: str | None = None, port: int | None = None) -> list[str]:
    """``odooplane kubernetes restore-stage`` of the identity step on ``database`` (connecting as
    Odoo's role, to ``host``/``port`` or else where its configuration says)."""
    task: dict[str, Any] = {"part": "identity", "database": database, "base_url": base_url, "conf": CONF,
                            "identity": IDENTITY_DIR}
    if host is not None:
        task.update(host=host, port=port or 5432)
    return [dockerfile.CONTROL_PYTHON, "-m", "odooplane", "kubernetes", "restore-stage",
            json.dumps(task, sort_keys=True)]


def _init_job(o: _Odoo, init: DatabaseInit, base: str, settings: KubernetesSettings, mode: str) -> dict[str, Any]:
    """The Job that makes ``init.database`` with Odoo itself (``-i`` of its modules), with the
    configuration, image and volumes of ``o``, then gives it its own identity (a new admin password
    from the Secret ``<base>-identity``, its uuid, secret and ``web.base.url``: Odoo's ``-i base``
    leaves the admin user with the password ``admin``): run once, before the environment serves."""
    args = ["-c", CONF, "-d", init.database, "-i", ",".join(init.modules), "--stop-after-init", "--workers=0",
            "--max-cron-threads=0"]
    affinity = None
    if mode == "ReadWriteOnce":
        affinity = _same_node(o.base)  # where the volume is
    template = _pod(o, "init", args, settings, affinity=affinity)
    spec = template["spec"]
    spec["restartPolicy"] = "Never"
    # Odoo makes the database (an init container: it finishes first), then the identity step runs.
    spec["initContainers"].append(spec["containers"][0])
    spec["containers"] = [identity_container(settings.control_image, identity_command(
        database=init.database, base_url=init.base_url))]
    spec["volumes"].append(identity_volume(identity_secret_name(base)))
    return {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": _meta(f"{base}-init", o.namespace, {**o.labels, LABEL_COMPONENT: "init"},
                          {ANNOTATION_TARGET: init.target}),
        # No ttlSecondsAfterFinished: the finished Job is the record that the database was made (run once).
        "spec": {"backoffLimit": 0, "activeDeadlineSeconds": 3600, "template": template},
    }


def _service(o: _Odoo, component: str, port_name: str, port: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": _meta(f"{o.base}-{component}", o.namespace, {**o.labels, LABEL_COMPONENT: component}),
        "spec": {"type": "ClusterIP", "selector": {LABEL_INSTANCE: o.base, LABEL_COMPONENT: component},
                 "ports": [{"name": port_name, "port": port, "targetPort": port_name, "protocol": "TCP"}]},
    }


def _odoo_objects(o: _Odoo, settings: KubernetesSettings, conf: str, tree: _Tree) -> None:
    w = o.workload
    evented = w.evented  # prefork: the evented path has a server of its own
    cron = w.settings.max_cron_threads > 0 and any(o.cron_databases)
    stateless = _stateless(w)  # nothing shared on disk: no volume claim, pods go wherever
    pods = o.max_replicas + (len(o.cron_databases) if cron else 0) + (1 if evented else 0)
    mode = settings.storage.filestore_access_mode
    if mode == "auto":
        mode = "ReadWriteMany" if pods > 1 else "ReadWriteOnce"
    affinity: dict[str, Any] | None = None
    web_affinity: dict[str, Any] | None = None
    if not stateless and mode == "ReadWriteOnce" and pods > 1:  # one node mounts it: the pods go together
        affinity = _same_node(o.base)
        web_affinity = affinity
    elif o.replicas > 1:  # spread web replicas over nodes where it can
        web_affinity = {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 100, "podAffinityTerm": {
                "labelSelector": {"matchLabels": {LABEL_INSTANCE: o.base, LABEL_COMPONENT: "http"}},
                "topologyKey": "kubernetes.io/hostname"}}]}}
    objects: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta(f"{o.base}-conf", o.namespace, o.labels),
         "data": {"odoo.conf": conf}},
    ]
    if not stateless:
        claim: dict[str, Any] = {"accessModes": [mode],
                                 "resources": {"requests": {"storage": f"{settings.storage.filestore_size_gib}Gi"}}}
        if settings.storage.filestore_class:
            claim["storageClassName"] = settings.storage.filestore_class
        objects.append({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                        "metadata": _meta(f"{o.base}-data", o.namespace, o.labels, KEEP), "spec": claim})
    tree.claims[o.base] = "none" if stateless else mode
    web_args = ["-c", CONF, "--max-cron-threads=0"]
    objects.append(_deployment(o, f"{o.base}-http", "http", web_args,
                               replicas=None if o.max_replicas > o.replicas else o.replicas, settings=settings,
                               affinity=web_affinity))
    objects.append(_service(o, "http", "http", dockerfile.HTTP_PORT))
    if evented:
        objects.append(_deployment(o, f"{o.base}-evented", "evented", ["gevent", "-c", CONF, "--max-cron-threads=0"],
                                   replicas=max(1, o.replicas // 2) if o.ha else 1, settings=settings,
                                   affinity=affinity))
        objects.append(_service(o, "evented", "evented", dockerfile.EVENTED_PORT))
    if cron:
        partitions = [dbs for dbs in o.cron_databases if dbs]
        for i, databases in enumerate(partitions):
            name = f"{o.base}-cron" if len(partitions) == 1 else f"{o.base}-cron-{i}"
            args = ["-c", CONF, "--workers=0", f"--max-cron-threads={w.settings.max_cron_threads}",
                    f"--database={','.join(databases)}", "--db-filter=.*"]
            objects.append(_deployment(o, name, "cron", args, replicas=1, settings=settings, affinity=affinity))
    if o.replicas > 1:
        objects.append({
            "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": _meta(f"{o.base}-http", o.namespace, o.labels),
            "spec": {"minAvailable": 1 if o.replicas == 2 else o.replicas - 1,
                     "selector": {"matchLabels": {LABEL_INSTANCE: o.base, LABEL_COMPONENT: "http"}}}})
    if o.max_replicas > o.replicas:
        objects.append({
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": _meta(f"{o.base}-http", o.namespace, o.labels),
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": f"{o.base}-http"},
                     "minReplicas": o.replicas, "maxReplicas": o.max_replicas,
                     "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                         "type": "Utilization", "averageUtilization": settings.replicas.cpu_utilization}}}]}})
    tree.add(f"{o.folder}/{o.base}.yaml", *objects)
    tree.add(f"{SECRETS_DIR}/{o.namespace}/{o.base}-odoo.yaml", {
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": _meta(f"{o.base}-odoo", o.namespace, o.labels),
        "stringData": {"options.conf": odoo_conf.secret_lines(w.settings)}})


# -- namespaces: isolation and the edge's shared objects ----------------------------------------

def _traefik(settings: KubernetesSettings, kind: str, name: str, namespace: str, spec: dict[str, Any], *,
             labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    annotations = {"kubernetes.io/ingress.class": settings.ingress_class} if settings.ingress_class else None
    return {"apiVersion": settings.traefik_api_version, "kind": kind,
            "metadata": _meta(name, namespace, labels, annotations), "spec": spec}


def _egress(settings: KubernetesSettings) -> list[dict[str, Any]]:
    platform = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": settings.namespace}}}
    rules: list[dict[str, Any]] = [
        {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                 "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
         "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]},
        {"to": [{**platform, "podSelector": {"matchExpressions": [{"key": "cnpg.io/cluster", "operator": "Exists"}]}},
                {**platform, "podSelector": {"matchExpressions": [{"key": "cnpg.io/poolerName",
                                                                   "operator": "Exists"}]}}],
         "ports": [{"protocol": "TCP", "port": POSTGRES_PORT}]},
        {"to": [{**platform, "podSelector": {"matchLabels": {LABEL_NAME: MAIL_SINK}}}]},
    ]
    if settings.egress:
        rules.append({"to": [{"ipBlock": {"cidr": cidr}} for cidr in settings.egress]})
    return rules


def _namespace_objects(namespace: str, settings: KubernetesSettings, *, tenant: str | None) -> list[dict[str, Any]]:
    labels = {LABEL_TENANT: tenant} if tenant else {}
    odoo = {LABEL_NAME: "odoo"}
    edge_from = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": settings.edge_namespace}},
                 "podSelector": {"matchLabels": dict(sorted(settings.edge_labels.items()))}}
    control = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": settings.namespace}},
               "podSelector": {"matchLabels": CONTROL_PLANE_LABELS}}
    served = {"matchLabels": odoo, "matchExpressions": [
        {"key": LABEL_COMPONENT, "operator": "In", "values": ["evented", "http"]}]}
    out: list[dict[str, Any]] = []
    if namespace != settings.namespace or tenant is None:
        out.append({"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(namespace, None, labels, KEEP)})
    out.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta(OWN_ADDONS_MAP, namespace),
                "data": {key: text for key, (_, text) in _own_addons().items()}})
    out += [
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
         "metadata": _meta("odoo-served", namespace),
         "spec": {"podSelector": served, "policyTypes": ["Ingress", "Egress"],
                  "ingress": [{"from": [edge_from, control],
                               "ports": [{"protocol": "TCP", "port": dockerfile.HTTP_PORT},
                                         {"protocol": "TCP", "port": dockerfile.EVENTED_PORT}]}],
                  "egress": _egress(settings)}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
         "metadata": _meta("odoo-unserved", namespace),
         "spec": {"podSelector": {"matchLabels": odoo, "matchExpressions": [
             {"key": LABEL_COMPONENT, "operator": "In", "values": ["cron", "init", "update", "odoo-neutralize"]}]},
                  "policyTypes": ["Ingress", "Egress"], "egress": _egress(settings)}},
        _traefik(settings, "Middleware", HEADERS, namespace, {"headers": {
            "frameDeny": True, "contentTypeNosniff": True, "referrerPolicy": "strict-origin-when-cross-origin"}}),
        _traefik(settings, "Middleware", DENY, namespace, {"ipAllowList": {"sourceRange": ["255.255.255.255/32"]}}),
        _traefik(settings, "Middleware", REDIRECT, namespace, {"redirectScheme": {"scheme": "https",
                                                                                  "permanent": True}}),
        _traefik(settings, "TLSOption", TLS_OPTION, namespace, {"minVersion": "VersionTLS12", "sniStrict": True}),
    ]
    return out


# -- the edge: one IngressRoute per environment -------------------------------------------------

def _routes(route: render_traefik.EnvRoute, base: str, namespace: str, *, service: str, evented: str | None,
            settings: KubernetesSettings, tls: bool, redirect: bool, tenant: str) -> list[dict[str, Any]]:
    hosts = " || ".join(f"Host(`{h}`)" for h in route.hostnames)
    evented_path = "/websocket" if route.series_major >= 16 else "/longpolling"
    labels = {LABEL_TENANT: tenant}
    objects: list[dict[str, Any]] = []
    middlewares = [{"name": HEADERS}]
    if route.database:
        objects.append(_traefik(settings, "Middleware", f"{base}-db", namespace, {
            "headers": {"customRequestHeaders": {render_traefik.DATABASE_HEADER: route.database}}}, labels=labels))
        middlewares.append({"name": f"{base}-db"})
    if route.rate_limit:
        average, burst = route.rate_limit
        objects.append(_traefik(settings, "Middleware", f"{base}-ratelimit", namespace,
                                {"rateLimit": {"average": average, "burst": burst}}, labels=labels))
        middlewares.insert(0, {"name": f"{base}-ratelimit"})

    def rules(extra: list[dict[str, str]]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = [
            {"kind": "Rule", "match": hosts, "middlewares": [*extra, *middlewares],
             "services": [{"name": service, "port": dockerfile.HTTP_PORT}]},
            {"kind": "Rule", "match": f"({hosts}) && ({render_traefik.DB_MANAGER_RULE})", "priority": 10_000,
             "middlewares": [{"name": DENY}], "services": [{"kind": "TraefikService", "name": "noop@internal"}]},
        ]
        if evented:
            out.append({"kind": "Rule", "match": f"({hosts}) && PathPrefix(`{evented_path}`)", "priority": 9_000,
                        "middlewares": [*extra, *middlewares],
                        "services": [{"name": evented, "port": dockerfile.EVENTED_PORT}]})
        return out

    web, websecure = settings.entry_points
    objects.append(_traefik(settings, "IngressRoute", base, namespace, {
        "entryPoints": [web], "routes": rules([{"name": REDIRECT}] if redirect else [])}, labels=labels))
    if tls:
        tls_spec: dict[str, Any] = {"options": {"name": TLS_OPTION}}
        if settings.certificates == "acme":
            tls_spec["certResolver"] = settings.acme_resolver
        else:
            tls_spec["secretName"] = f"{base}-tls"
        objects.append(_traefik(settings, "IngressRoute", f"{base}-tls", namespace,
                                {"entryPoints": [websecure], "routes": rules([]), "tls": tls_spec}, labels=labels))
        if settings.certificates == "cert-manager":
            objects.append({"apiVersion": CERT_MANAGER, "kind": "Certificate",
                            "metadata": _meta(f"{base}-tls", namespace, labels),
                            "spec": {"secretName": f"{base}-tls", "dnsNames": list(route.hostnames),
                                     "issuerRef": {"name": settings.issuer, "kind": "ClusterIssuer"}}})
    return objects


# -- data: CloudNativePG -------------------------------------------------------------------------

def _six_field(schedule: str) -> str:
    """CloudNativePG's schedules have a seconds field first."""
    return f"0 {schedule}"


def _cluster_objects(spec: ClusterSpec, roles: Iterable[tuple[str, str]], *, ha: bool, pooled: bool,
                     settings: KubernetesSettings, estate: str, tree: _Tree) -> None:
    ns = settings.namespace
    labels = {LABEL_NAME: "postgresql", LABEL_INSTANCE: spec.name, LABEL_PART_OF: estate}
    managed_roles = []
    for role, password in sorted(set(roles)):
        secret = f"{spec.name}-role-{names.role_name(role)}"
        managed_roles.append({"name": role, "ensure": "present", "login": True, "inherit": True,
                              "passwordSecret": {"name": secret}})
        tree.add(f"{SECRETS_DIR}/{ns}/{secret}.yaml", {
            "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/basic-auth",
            "metadata": _meta(secret, ns, {"cnpg.io/reload": "true"}),
            "stringData": {"username": role, "password": password}})
    storage: dict[str, Any] = {"size": f"{settings.storage.database_size_gib}Gi"}
    if settings.storage.database_class:
        storage["storageClass"] = settings.storage.database_class
    cluster: dict[str, Any] = {
        "instances": 3 if ha else 1,
        "enableSuperuserAccess": True,  # the control plane's dumps, restores and checks
        "postgresql": {"parameters": {k: (("on" if v else "off") if isinstance(v, bool) else str(v))
                                      for k, v in spec.settings}},
        "storage": storage,
        "managed": {"roles": managed_roles},
    }
    if settings.postgres_image:
        cluster["imageName"] = settings.postgres_image
    if ha:  # a commit is on two nodes before Odoo sees it; instances on different nodes
        cluster["postgresql"]["synchronous"] = {"method": "any", "number": 1}
        cluster["affinity"] = {"enablePodAntiAffinity": True, "podAntiAffinityType": "required",
                               "topologyKey": "kubernetes.io/hostname"}
    objects: list[dict[str, Any]] = []
    if spec.pitr:
        store = settings.object_store
        if store is None:
            raise ValueError(f"cluster {spec.name} declares pitr: platform.kubernetes.object_store says where "
                             "CloudNativePG archives its WAL and base backups")
        cluster["plugins"] = [{"name": BARMAN_PLUGIN, "isWALArchiver": True,
                               "parameters": {"barmanObjectName": f"{spec.name}-backups"}}]
        configuration: dict[str, Any] = {
            "destinationPath": f"{store.destination_path}/{estate}",
            "s3Credentials": {"accessKeyId": {"name": store.credentials_secret, "key": "ACCESS_KEY_ID"},
                              "secretAccessKey": {"name": store.credentials_secret, "key": "ACCESS_SECRET_KEY"}},
            "wal": {"compression": "gzip", "maxParallel": 2},
            "data": {"compression": "gzip"},
        }
        if store.endpoint_url:
            configuration["endpointURL"] = store.endpoint_url
        objects.append({"apiVersion": BARMAN, "kind": "ObjectStore",
                        "metadata": _meta(f"{spec.name}-backups", ns, labels),
                        "spec": {"configuration": configuration, "retentionPolicy": store.retention}})
        objects.append({"apiVersion": CNPG, "kind": "ScheduledBackup",
                        "metadata": _meta(f"{spec.name}-full", ns, labels),
                        "spec": {"schedule": _six_field(spec.pitr_schedule or "0 3 * * 0"), "immediate": True,
                                 "backupOwnerReference": "self", "cluster": {"name": spec.name},
                                 "method": "plugin", "pluginConfiguration": {"name": BARMAN_PLUGIN}}})
    objects.insert(0, {"apiVersion": CNPG, "kind": "Cluster", "metadata": _meta(spec.name, ns, labels),
                       "spec": cluster})
    if pooled:
        objects.append({"apiVersion": CNPG, "kind": "Pooler",
                        "metadata": _meta(f"{spec.name}-pooler-rw", ns, labels),
                        "spec": {"cluster": {"name": spec.name}, "instances": 2 if ha else 1, "type": "rw",
                                 "pgbouncer": {"poolMode": "session",
                                               "parameters": {"max_client_conn": "1000",
                                                              "default_pool_size": "20"}}}})
    tree.add(f"platform/cluster-{spec.name}.yaml", *objects)


def recovery_cluster(source: str, *, into: str, target_time: str | None, settings: KubernetesSettings,
                     estate: str, declared: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A new CloudNativePG Cluster ``into`` bootstrapped from ``source``'s backups (the Barman Cloud
    plugin's object store) up to ``target_time`` (RFC 3339; None: the end of the archived WAL):
    point-in-time recovery on Kubernetes. ``declared``: the estate's own rendering of ``into``
    (instances, storage, roles), which the recovery then only adds its bootstrap to."""
    names.check(into, "cluster name")
    recovery: dict[str, Any] = {"source": source}
    if target_time:
        recovery["recoveryTarget"] = {"targetTime": target_time}
    if declared is not None:
        spec = {k: v for k, v in declared["spec"].items() if k not in ("bootstrap", "externalClusters")}
        metadata = declared["metadata"]
    else:
        storage: dict[str, Any] = {"size": f"{settings.storage.database_size_gib}Gi"}
        if settings.storage.database_class:
            storage["storageClass"] = settings.storage.database_class
        spec = {"instances": 1, "storage": storage, "enableSuperuserAccess": True}
        metadata = _meta(into, settings.namespace, {LABEL_NAME: "postgresql", LABEL_INSTANCE: into,
                                                    LABEL_PART_OF: estate})
    return {"apiVersion": CNPG, "kind": "Cluster", "metadata": metadata,
            "spec": {**spec, "bootstrap": {"recovery": recovery},
                     "externalClusters": [{"name": source, "plugin": {
                         "name": BARMAN_PLUGIN, "parameters": {"barmanObjectName": f"{source}-backups",
                                                                "serverName": source}}}]}}


def on_demand_backup(cluster: str, *, name: str, settings: KubernetesSettings, estate: str) -> dict[str, Any]:
    """A CloudNativePG ``Backup`` of ``cluster`` now, through the Barman Cloud plugin (its object store)."""
    names.check(name, "backup name")
    return {"apiVersion": CNPG, "kind": "Backup",
            "metadata": _meta(name, settings.namespace, {LABEL_NAME: "postgresql", LABEL_INSTANCE: cluster,
                                                        LABEL_PART_OF: estate}),
            "spec": {"cluster": {"name": cluster}, "method": "plugin",
                     "pluginConfiguration": {"name": BARMAN_PLUGIN}}}


def _database(database: str, owner: str, cluster: str, namespace: str, tenant: str) -> dict[str, Any]:
    return {"apiVersion": CNPG, "kind": "Database",
            "metadata": _meta(f"{cluster}--{names.database_object(database)}", namespace, {LABEL_TENANT: tenant}),
            "spec": {"name": database, "owner": owner, "cluster": {"name": cluster}, "ensure": "present",
                     "databaseReclaimPolicy": "retain"}}


def _mail_sink(ports: list[tuple[int, str]], settings: KubernetesSettings) -> list[dict[str, Any]]:
    from odooplane.drivers.compose.images import MAIL_SINK_IMAGE

    ns = settings.namespace
    labels = {LABEL_NAME: MAIL_SINK}
    command: list[str] = [*MAIL_SINK_IMAGE.entrypoint, "--host", "0.0.0.0"]
    for port, slug in ports:
        command += ["--listen", f"{port}={MAIL_DIR}/{slug}"]
    pod: dict[str, Any] = {
        "securityContext": _pod_security(MAIL_SINK_IMAGE.uid, MAIL_SINK_IMAGE.gid),
        "automountServiceAccountToken": False,
        "containers": [{"name": MAIL_SINK, "image": settings.control_image, "command": command,
                        "ports": [{"containerPort": p, "name": f"smtp-{i}"} for i, (p, _) in enumerate(ports)],
                        "securityContext": _CONTAINER_SECURITY,
                        "resources": {"requests": {"cpu": "10m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
                        "volumeMounts": [{"name": "mail", "mountPath": MAIL_DIR}]}],
        "volumes": [{"name": "mail", "persistentVolumeClaim": {"claimName": MAIL_SINK}}],
    }
    if settings.image_pull_secrets:
        pod["imagePullSecrets"] = [{"name": s} for s in settings.image_pull_secrets]
    return [
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": _meta(MAIL_SINK, ns, labels, KEEP),
         "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": _meta(MAIL_SINK, ns, labels),
         "spec": {"replicas": 1, "strategy": {"type": "Recreate"}, "selector": {"matchLabels": labels},
                  "template": {"metadata": {"labels": labels}, "spec": pod}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": _meta(MAIL_SINK, ns, labels),
         "spec": {"selector": labels, "ports": [{"name": f"smtp-{i}", "port": p, "targetPort": p, "protocol": "TCP"}
                                                for i, (p, _) in enumerate(ports)]}},
    ]


def mail_host(settings: KubernetesSettings) -> str:
    return f"{MAIL_SINK}.{settings.namespace}.svc"


# -- the tree ------------------------------------------------------------------------------------

class _Dumper(yaml.SafeDumper):
    """Plain YAML for people and for kubectl: no anchors or aliases, multi-line text as a block."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _text)


def _dump(objects: list[dict[str, Any]]) -> str:
    return yaml.dump_all(objects, Dumper=_Dumper, sort_keys=True, default_flow_style=False, width=1000)


def _kustomization(resources: Iterable[str]) -> str:
    return yaml.safe_dump({"apiVersion": KUSTOMIZE, "kind": "Kustomization", "resources": sorted(resources)},
                          sort_keys=True)


def _applicationset(estate: str, folders: list[str], settings: KubernetesSettings) -> str:
    gitops = settings.gitops
    assert gitops is not None
    prefix = "" if gitops.path == "." else f"{gitops.path}/"
    name = f'trimPrefix "{prefix}" .path.path | replace "/" "-"' if prefix else '.path.path | replace "/" "-"'
    app = {
        "apiVersion": ARGOCD, "kind": "ApplicationSet",
        "metadata": _meta(estate, gitops.argocd_namespace, {LABEL_PART_OF: estate}),
        "spec": {
            "goTemplate": True,
            "goTemplateOptions": ["missingkey=error"],
            "generators": [{"git": {"repoURL": gitops.repo_url, "revision": gitops.revision,
                                    "directories": [{"path": f"{prefix}{folder}"} for folder in folders]}}],
            "template": {
                # platform, pools/<pool>, tenants/<tenant> -> <estate>-platform, -pools-<pool>, -tenants-<tenant>
                "metadata": {"name": f"{estate}-{{{{{name}}}}}",
                             "labels": {LABEL_MANAGED: MANAGED_BY, LABEL_PART_OF: estate}},
                "spec": {
                    "project": gitops.project,
                    "source": {"repoURL": gitops.repo_url, "targetRevision": gitops.revision,
                               "path": "{{.path.path}}"},
                    "destination": {"server": "https://kubernetes.default.svc", "namespace": settings.namespace},
                    "syncPolicy": {"automated": {"prune": True, "selfHeal": True},
                                   "syncOptions": ["ServerSideApply=true", "CreateNamespace=false"]},
                },
            },
        },
    }
    return _dump([app])


def render_tree(desired: DesiredRuntime, *, estate: str, settings: KubernetesSettings, edge: EdgeSpec) -> Artifacts:
    """Every manifest of ``desired`` by its path in the tree: ``kustomization.yaml`` (the folders),
    ``platform/`` (the platform namespace, managed clusters and what goes with them, the mail sink),
    ``pools/<pool>/``, ``tenants/<tenant>/`` (each a kustomization), ``secrets/<namespace>/`` (not
    in any kustomization) and ``argocd/applicationset.yaml`` when ``gitops`` is set. ValueError
    names what cannot run on Kubernetes."""
    tree = _Tree()
    managed = {c.name: c for c in desired.clusters}
    pooled_clusters = {w.cluster for w in desired.workloads if w.role == "pool"}
    tls = edge.https_address is not None
    redirect = tls and edge.redirect_http
    sink = mail_host(settings)
    tree.namespaces[settings.namespace] = "platform"
    # Pools: one set of objects per pool, its processes being the web Deployment's replicas.
    pool_dbs: dict[str, list[str]] = {}
    for route in desired.routes:
        if route.pool and route.database:
            pool_dbs.setdefault(route.pool, []).append(route.database)
    by_pool: dict[str, list[OdooWorkload]] = {}
    roles: dict[str, list[tuple[str, str]]] = {}
    odoos: dict[str, _Odoo] = {}  # workload name (environment) / pool service name -> placed
    for w in desired.workloads:
        roles.setdefault(w.cluster, []).append((w.settings.db_user, w.settings.db_password))
        if w.role == "pool":
            by_pool.setdefault(w.target.removeprefix("pool "), []).append(w)
    for pool, processes in sorted(by_pool.items()):
        first = min(processes, key=lambda p: p.name)
        base, ns = names.pool_base(pool), names.pool_namespace(settings, pool)
        folder = f"pools/{pool}"
        service = f"pool-{pool}"
        databases = sorted(pool_dbs.get(service, []))
        size = settings.cron_partition
        partitions = tuple(tuple(databases[i:i + size]) for i in range(0, len(databases), size))
        image, entrypoint, uid, gid = _image(first, settings)
        ha = any(p.name in desired.ha for p in processes)
        count = max(len(processes), 2 if ha else 1)
        o = _Odoo(base=base, namespace=ns, folder=folder,
                  labels={LABEL_NAME: "odoo", LABEL_INSTANCE: base, LABEL_POOL: pool, LABEL_PART_OF: estate},
                  workload=first, replicas=count, max_replicas=count, ha=ha, cron_databases=partitions, image=image,
                  entrypoint=entrypoint, uid=uid, gid=gid)
        host, port = _db_host(first, managed, settings, pooled=True)
        _odoo_objects(o, settings, _conf(first, host, port, sink), tree)
        if ns not in tree.namespaces:
            tree.namespaces[ns] = folder
        odoos[service] = odoos[first.name] = o
    for w in desired.workloads:
        if w.role != "environment":
            continue
        tenant, _, env = w.target.partition("/")
        base, ns = names.env_base(tenant, env), names.tenant_namespace(settings, tenant)
        folder = f"tenants/{tenant}"
        image, entrypoint, uid, gid = _image(w, settings)
        ha = w.name in desired.ha
        low = max(settings.replicas.min, 2 if ha else 1)
        o = _Odoo(base=base, namespace=ns, folder=folder,
                  labels={LABEL_NAME: "odoo", LABEL_INSTANCE: base, LABEL_TENANT: tenant, LABEL_PART_OF: estate,
                          **cost_labels(desired.cost_labels.get(w.name, {}))},
                  workload=w, replicas=low, max_replicas=max(low, settings.replicas.max), ha=ha,
                  cron_databases=((w.settings.db_name,),) if w.settings.db_name else (), image=image,
                  entrypoint=entrypoint, uid=uid, gid=gid)
        host, port = _db_host(w, managed, settings, pooled=False)
        _odoo_objects(o, settings, _conf(w, host, port, sink), tree)
        if ns not in tree.namespaces:
            tree.namespaces[ns] = folder
        odoos[w.name] = o
    # Routes (and databases) of every environment, in the namespace of what serves it.
    for route in desired.routes:
        tenant, _, env = route.name.partition("__")
        base = names.env_base(tenant, env)
        o = odoos[route.pool] if route.pool else odoos[f"odoo-{route.name}"]
        evented = f"{o.base}-evented" if o.workload.evented else None
        folder = f"tenants/{tenant}"
        if o.namespace not in tree.namespaces:
            tree.namespaces[o.namespace] = folder
        tree.add(f"{folder}/{base}.yaml", *_routes(route, base, o.namespace, service=f"{o.base}-http", evented=evented,
                                                    settings=settings, tls=tls, redirect=redirect, tenant=tenant))
        database = route.database if route.pool else o.workload.settings.db_name
        if o.workload.cluster in managed and database:
            owner = o.workload.settings.db_user
            tree.add(f"{folder}/{base}.yaml",
                     _database(database, owner, o.workload.cluster, settings.namespace, tenant))
    for init in desired.inits:
        tenant, _, env = init.target.partition("/")
        base = names.env_base(tenant, env)
        tree.add(f"{JOBS_DIR}/{tenant}/{base}-init.yaml", _init_job(odoos[init.workload], init, base, settings,
                                                                            tree.claims[odoos[init.workload].base]))
    # Each namespace is created (with its isolation and shared edge objects) by the folder that placed it first.
    for namespace, folder in sorted(tree.namespaces.items()):
        owner_tenant = folder.removeprefix("tenants/") if folder.startswith("tenants/") else None
        tree.add(f"{folder}/namespace.yaml", *_namespace_objects(namespace, settings, tenant=owner_tenant))
    for spec in sorted(desired.clusters, key=lambda c: c.name):
        _cluster_objects(spec, roles.get(spec.name, []), ha=spec.name in desired.ha,
                         pooled=spec.name in pooled_clusters, settings=settings, estate=estate, tree=tree)
    listeners = sorted((m.port, m.target.replace("/", "__")) for m in desired.mail_listeners)
    if listeners:
        tree.add("platform/mail-sink.yaml", *_mail_sink(listeners, settings))
    files: dict[str, str] = {}
    folders: dict[str, list[str]] = {}
    for path, objects in tree.files.items():
        files[path] = _dump(objects)
        folder, _, name = path.rpartition("/")
        if not folder.startswith(UNSYNCED):
            folders.setdefault(folder, []).append(name)
    for folder, members in folders.items():
        files[f"{folder}/kustomization.yaml"] = _kustomization(members)
    ordered = sorted(folders, key=lambda f: (f != "platform", f))
    files["kustomization.yaml"] = _kustomization(ordered)
    if settings.gitops is not None:
        files["argocd/applicationset.yaml"] = _applicationset(estate, ordered, settings)
    return dict(sorted(files.items()))



# -- backups made in the cluster: a Job beside the environment's filestore -------------------------

BACKUP_CONTAINER = "backup"
BACKUP_STAGE = "/stage"  # an emptyDir: the dump, the filestore copy and the manifest restic reads
RESTIC_DIR = "/etc/restic"  # one directory per repository: its Secret (password, aws-credentials)
LABEL_BACKUP_OF = "odooplane.io/backup-of"
BACKUP_TTL_S = 86400  # a finished backup Job (and its pod's log) stays a day, then the cluster removes it


@dataclass(frozen=True)
class BackupPaths:
    """Where a backup Job's container finds things (what its command is told)."""

    container: str = BACKUP_CONTAINER
    stage: str = BACKUP_STAGE
    restic: str = RESTIC_DIR
    conf: str = CONF
    data: str = dockerfile.DATA_DIR
    label: str = LABEL_BACKUP_OF


def backup_job_names(tenant: str, env: str, stamp: str, *, verb: str = "backup") -> tuple[str, str]:
    """(Job name, ``odooplane.io/<verb>-of`` label value) of a backup (or ``verify``) of an
    environment at ``stamp`` (``YYYYmmddHHMMSS``): both DNS labels, whatever the length of its names."""
    if not re.fullmatch(r"\d{14}", stamp):
        raise ValueError(f"backup stamp {stamp!r} is not YYYYmmddHHMMSS")
    of = names.env_base(tenant, env)
    room = 63 - len(verb) - 16  # <of>-<verb>-<stamp> is a DNS label
    if len(of) > room:
        of = f"{of[:room - 9].rstrip('-')}-{hashlib.sha256(of.encode()).hexdigest()[:8]}"
    return names.check(f"{of}-{verb}-{stamp}", f"{verb} Job name"), of


def restic_secret_name(repository: str) -> str:
    """The Secret holding a restic repository's password (and S3 keys) in a namespace."""
    return names.check(f"odooplane-restic-{repository.replace('_', '-')}", "restic Secret name")


def of_label(component: str) -> str:
    """The label naming whose environment a one-shot Job of ``component`` works for."""
    return f"odooplane.io/{component}-of"


def backup_job(deployment: Mapping[str, Any], *, name: str, of: str, target: str, image: str,
               command: list[str], repositories: list[str], component: str = BACKUP_CONTAINER,
               writable: bool = False, identity: str | None = None) -> dict[str, Any]:
    """A Job backing an environment up from inside the cluster, built from the pod of the
    ``deployment`` that serves it (its configuration joined the same way, its filestore volume
    mounted read-only, its user, node affinity and pull secrets), running ``command`` in
    Odooplane's own ``image`` with each repository's Secret mounted under ``RESTIC_DIR``. Nothing
    secret is in the Job: the command carries names and addresses only. ``component`` names the
    container and the ``odooplane.io/<component>-of`` label; ``writable`` mounts the filestore
    volume read-write (a restore's filestore steps); ``identity`` mounts that identity Secret
    under ``IDENTITY_DIR`` (the identity step of a restore from another environment)."""
    meta = deployment["metadata"]
    pod = copy.deepcopy(deployment["spec"]["template"]["spec"])
    volumes = [v for v in pod["volumes"] if v["name"] in ("conf", "secret", "run", "data")]
    volumes.append({"name": "stage", "emptyDir": {}})
    mounts = [{"name": "run", "mountPath": RUN_DIR, "readOnly": True},
              {"name": "data", "mountPath": dockerfile.DATA_DIR, "readOnly": not writable},
              {"name": "stage", "mountPath": BACKUP_STAGE}]
    for repository in repositories:
        secret = restic_secret_name(repository)
        volumes.append({"name": secret, "secret": {"secretName": secret, "defaultMode": 0o440}})
        mounts.append({"name": secret, "mountPath": f"{RESTIC_DIR}/{repository}", "readOnly": True})
    if identity is not None:
        volumes.append(identity_volume(identity))
        mounts.append({"name": "identity", "mountPath": IDENTITY_DIR, "readOnly": True})
    join = next(c for c in pod["initContainers"] if c["name"] == "conf")
    pod["initContainers"] = [{**join, "image": image}]
    pod["containers"] = [{
        "name": component, "image": image, "command": command,
        "securityContext": _CONTAINER_SECURITY,
        "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}},
        "volumeMounts": mounts}]
    pod["volumes"] = volumes
    pod["restartPolicy"] = "Never"
    pod.pop("terminationGracePeriodSeconds", None)
    labels = {LABEL_NAME: "odooplane-backup", LABEL_INSTANCE: str(meta["labels"][LABEL_INSTANCE]),
              LABEL_COMPONENT: component, of_label(component): of}
    return {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": _meta(name, str(meta["namespace"]), labels, {ANNOTATION_TARGET: target}),
        "spec": {"backoffLimit": 0, "activeDeadlineSeconds": 6 * 3600, "ttlSecondsAfterFinished": BACKUP_TTL_S,
                 "template": {"metadata": {"labels": labels}, "spec": pod}},
    }


def odoo_job(deployment: Mapping[str, Any], *, name: str, of: str, target: str, args: list[str],
             component: str, deadline_s: int = 3600) -> dict[str, Any]:
    """A Job running Odoo itself (``<entrypoint> <args>``, e.g. ``neutralize -c CONF -d DB``) with
    the image, configuration, volumes, user and placement of the pod the ``deployment`` runs: no
    probe, no port, run once. ``component`` names the ``odooplane.io/<component>-of`` label."""
    meta = deployment["metadata"]
    pod = copy.deepcopy(deployment["spec"]["template"]["spec"])
    odoo = pod["containers"][0]
    entrypoint = odoo["command"][:odoo["command"].index("-c")]
    for key in ("startupProbe", "readinessProbe", "livenessProbe", "ports"):
        odoo.pop(key, None)
    odoo["command"] = [*entrypoint, *args]
    pod["containers"] = [odoo]
    pod["restartPolicy"] = "Never"
    labels = {LABEL_NAME: "odoo", LABEL_INSTANCE: str(meta["labels"][LABEL_INSTANCE]), LABEL_COMPONENT: component,
              of_label(component): of}
    return {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": _meta(name, str(meta["namespace"]), labels, {ANNOTATION_TARGET: target}),
        "spec": {"backoffLimit": 0, "activeDeadlineSeconds": deadline_s, "ttlSecondsAfterFinished": BACKUP_TTL_S,
                 "template": {"metadata": {"labels": labels}, "spec": pod}},
    }


def restic_secret(repository: str, namespace: str, *, password: str, s3_keys: tuple[str, str] | None
                  ) -> dict[str, Any]:
    """A restic repository's Secret for backup Jobs: ``password`` and, for S3, ``aws-credentials``
    (the shared credentials file restic reads through ``AWS_SHARED_CREDENTIALS_FILE``)."""
    data = {"password": password}
    if s3_keys is not None:
        data["aws-credentials"] = (f"[default]\naws_access_key_id = {s3_keys[0]}\n"
                                   f"aws_secret_access_key = {s3_keys[1]}\n")
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": _meta(restic_secret_name(repository), namespace, {LABEL_NAME: "odooplane-backup"}),
            "stringData": data}


# -- restore verifications made in the cluster: a Job beside the database cluster ------------------

VERIFY_CONTAINER = "verify"
VERIFY_WORK = "/work"  # an emptyDir: the restored snapshot
SUPERUSER_DIR = "/etc/postgres-superuser"  # where CloudNativePG's superuser Secret is mounted
LABEL_VERIFY_OF = "odooplane.io/verify-of"


@dataclass(frozen=True)
class VerifyPaths:
    """Where a verification Job's container finds things (what its command is told)."""

    container: str = VERIFY_CONTAINER
    work: str = VERIFY_WORK
    restic: str = RESTIC_DIR
    superuser: str = SUPERUSER_DIR
    label: str = LABEL_VERIFY_OF


def verify_job(*, name: str, of: str, namespace: str, target: str, image: str, command: list[str],
               repository: str | None, superuser_secret: str, settings: KubernetesSettings,
               component: str = VERIFY_CONTAINER) -> dict[str, Any]:
    """A Job proving a backup restores, in the platform ``namespace`` beside the database cluster:
    Odooplane's ``image`` runs ``command`` with the repository's Secret and the cluster's superuser
    Secret (CloudNativePG's ``<cluster>-superuser``) mounted as files, the snapshot restored into an
    emptyDir. Nothing secret is in the Job. ``component`` names the container and the
    ``odooplane.io/<component>-of`` label (a restore's and an upgrade's database steps run the same
    way; ``repository`` None: no repository Secret)."""
    from odooplane.drivers.compose.images import MAIL_SINK_IMAGE as CONTROL  # the control image's user

    labels = {LABEL_NAME: "odooplane-verify", LABEL_COMPONENT: component, of_label(component): of}
    mounts: list[dict[str, Any]] = [{"name": "work", "mountPath": VERIFY_WORK}]
    volumes: list[dict[str, Any]] = [{"name": "work", "emptyDir": {}}]
    if repository is not None:
        mounts.append({"name": "restic", "mountPath": f"{RESTIC_DIR}/{repository}", "readOnly": True})
        volumes.append({"name": "restic", "secret": {"secretName": restic_secret_name(repository),
                                                     "defaultMode": 0o440}})
    mounts.append({"name": "superuser", "mountPath": SUPERUSER_DIR, "readOnly": True})
    volumes.append({"name": "superuser", "secret": {"secretName": superuser_secret, "defaultMode": 0o440}})
    pod: dict[str, Any] = {
        "securityContext": _pod_security(CONTROL.uid, CONTROL.gid),
        "automountServiceAccountToken": False,
        "restartPolicy": "Never",
        "containers": [{
            "name": component, "image": image, "command": command, "securityContext": _CONTAINER_SECURITY,
            "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}},
            "volumeMounts": mounts}],
        "volumes": volumes,
    }
    if settings.image_pull_secrets:
        pod["imagePullSecrets"] = [{"name": s} for s in settings.image_pull_secrets]
    return {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": _meta(name, namespace, labels, {ANNOTATION_TARGET: target}),
        "spec": {"backoffLimit": 0, "activeDeadlineSeconds": 6 * 3600, "ttlSecondsAfterFinished": BACKUP_TTL_S,
                 "template": {"metadata": {"labels": labels}, "spec": pod}},
    }


def cost_labels(labels: Mapping[str, str]) -> dict[str, str]:
    """``business_unit: Retail & Co`` → ``odooplane.io/business-unit: Retail-Co``: a label value
    (63 characters at most, letters, digits, '-', '_' and '.', starting and ending with one of the
    first two); an empty value is left out."""
    out = {}
    for key, value in sorted(labels.items()):
        cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", value)[:63].strip("-_.")
        if cleaned:
            out[COST_LABEL_PREFIX + key.replace("_", "-")] = cleaned
    return out
