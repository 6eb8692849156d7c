"""``odooplane kubernetes apply``: the estate's manifests applied to a cluster by server-side apply
(field manager ``odooplane``), in dependency order, after checking that every Secret they need
exists (Secrets are never applied from placeholders: they come from a secret manager, or from
``kubectl create secret``). ``--dry-run`` asks the API server what it would store (``dryRun=All``)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from odooplane.actions import estate_file
from odooplane.actions.access import guard
from odooplane.actions.render import render_estate
from odooplane.clock import wait_until
from odooplane.drivers import registry
from odooplane.errors import PermanentError, TemporaryError, UsageError
from odooplane.estate.validate import ValidEstate
from odooplane.operations import guardrails as guardrail_checks

# Applied in this order (a Namespace before what it holds, a Cluster before its Databases, a
# Service and its configuration before the Deployment, routes last).
ORDER = ("Namespace", "NetworkPolicy", "ConfigMap", "PersistentVolumeClaim", "ObjectStore", "Cluster", "Pooler",
         "ScheduledBackup", "Database", "Service", "Deployment", "PodDisruptionBudget", "HorizontalPodAutoscaler",
         "Middleware", "TLSOption", "Certificate", "IngressRoute")
UNSYNCED = ("secrets/", "jobs/", "argocd/")


@dataclass
class KubeApplyResult:
    dry_run: bool
    applied: list[registry.Applied] = field(default_factory=list)
    missing_secrets: list[str] = field(default_factory=list)  # namespace/name
    session_users: list[str] = field(default_factory=list)  # Redis ACL users made or checked (server/user)

    def counts(self) -> dict[str, int]:
        out = {"created": 0, "changed": 0, "unchanged": 0}
        for item in self.applied:
            out[item.outcome] += 1
        return out


@dataclass(frozen=True)
class Connected:
    valid: ValidEstate
    objects: list[dict[str, Any]]  # the synced tree, in ORDER
    api: registry.ApiServer
    jobs: list[dict[str, Any]] = field(default_factory=list)  # the one-shot Jobs (jobs/)


def connect(path: Path | None, right: str, *, context: str | None, kubeconfig: str | None,
             server: registry.ApiServer | None) -> Connected:
    """The estate at ``path`` (it runs on Kubernetes and the caller may ``right`` it), its synced
    objects, and its cluster's API server."""
    valid = estate_file.load(path)
    if valid.estate.platform.driver != "kubernetes":
        raise UsageError(f"{valid.path}: platform.driver is {valid.estate.platform.driver}, not kubernetes "
                         "(odooplane apply and status serve the other drivers)")
    ctx = estate_file.context(valid.path)
    try:
        guard(ctx, right)
        if right == "estate.apply":
            guardrail_checks.gate(ctx, what="apply")
    finally:
        ctx.close()
    _ctx, _desired, rendered = render_estate(valid, "kubernetes")
    try:
        api = server or registry.kubernetes_api(context=context or valid.estate.platform.kubernetes.context,
                                                config_file=kubeconfig)
    except Exception as exc:  # the kubeconfig's own errors (missing file, unknown context)
        raise UsageError(f"no usable kubeconfig: {exc}",
                         hint="set KUBECONFIG, --kubeconfig or platform.kubernetes.context") from exc
    jobs = [doc for name, text in sorted(rendered.files.items()) if name.startswith("jobs/")
            for doc in yaml.safe_load_all(text) if doc]
    return Connected(valid, synced_objects(rendered.files), api, jobs)


@contextmanager
def talking(what: str) -> Iterator[None]:
    """The API server's refusals as PermanentError, an unreachable one as TemporaryError."""
    try:
        yield
    except registry.ApiError as exc:
        raise PermanentError(f"kubernetes {what}: {exc}") from exc
    except (OSError, registry.TransportError) as exc:
        raise TemporaryError(f"kubernetes {what}: the API server cannot be reached ({exc})") from exc


def wait_ready(path: Path | None, *, timeout: float, context: str | None = None, kubeconfig: str | None = None,
               server: registry.ApiServer | None = None, interval: float = 2.0) -> KubeStatus:
    """Poll ``status`` until everything is ready and synced or ``timeout`` passes; return the last one
    (PermanentError naming what is not ready when the time is up)."""
    last: list[KubeStatus] = []

    def ready() -> bool:
        last.append(status(path, context=context, kubeconfig=kubeconfig, server=server))
        return last[-1].ready

    if wait_until(ready, timeout=timeout, interval=interval):
        return last[-1]
    pending = [f"{o.kind}/{o.namespace}/{o.name} ({o.detail})" for o in last[-1].objects if not o.ready]
    pending += [f"Application/{a['name']} ({a['sync']}, {a['health']})" for a in last[-1].applications
                if a["sync"] != "Synced" or a["health"] != "Healthy"]
    raise PermanentError(f"not ready after {timeout:.0f} s: {', '.join(pending[:10])}"
                         f"{' …' if len(pending) > 10 else ''}")


def synced_objects(files: dict[str, str]) -> list[dict[str, Any]]:
    """The objects of the synced tree (not secrets/, jobs/, argocd/), in ``ORDER``."""
    objects = []
    for name, text in sorted(files.items()):
        if name.startswith(UNSYNCED) or not name.endswith(".yaml") or name.endswith("kustomization.yaml"):
            continue
        objects += [doc for doc in yaml.safe_load_all(text) if doc]
    rank = {kind: i for i, kind in enumerate(ORDER)}
    return sorted(objects, key=lambda o: rank.get(str(o["kind"]), len(ORDER)))


def _secret_refs(obj: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(namespace, name) of every Secret ``obj`` needs that it does not create itself."""
    ns = str(obj["metadata"].get("namespace", ""))
    spec = obj.get("spec", {})
    if obj["kind"] == "Deployment":
        pod = spec["template"]["spec"]
        for volume in pod.get("volumes", []):
            if "secret" in volume:
                yield ns, str(volume["secret"]["secretName"])
        for pull in pod.get("imagePullSecrets", []):
            yield ns, str(pull["name"])
    elif obj["kind"] == "Cluster":
        for role in spec.get("managed", {}).get("roles", []):
            yield ns, str(role["passwordSecret"]["name"])
    elif obj["kind"] == "ObjectStore":
        for ref in spec["configuration"].get("s3Credentials", {}).values():
            yield ns, str(ref["name"])
    elif obj["kind"] == "IngressRoute" and "secretName" in spec.get("tls", {}):
        yield ns, str(spec["tls"]["secretName"])


def needed_secrets(objects: Iterable[dict[str, Any]]) -> list[tuple[str, str]]:
    """The Secrets the objects need and nothing of the tree makes (cert-manager makes a Certificate's)."""
    objects = list(objects)
    made = {(str(o["metadata"]["namespace"]), str(o["spec"]["secretName"])) for o in objects
            if o["kind"] == "Certificate"}
    return sorted({ref for obj in objects for ref in _secret_refs(obj)} - made)


def apply(path: Path | None, *, dry_run: bool, context: str | None = None, kubeconfig: str | None = None,
          server: registry.ApiServer | None = None) -> KubeApplyResult:
    """Apply the estate's synced tree; refuse (nothing applied) when a Secret it needs is missing,
    unless ``dry_run`` (which reports them)."""
    connected = connect(path, "estate.apply", context=context, kubeconfig=kubeconfig, server=server)
    objects, api = connected.objects, connected.api
    result = KubeApplyResult(dry_run=dry_run)
    namespaces = [o for o in objects if o["kind"] == "Namespace"]
    with talking("apply"):
        # Namespaces first, whatever else is missing: the Secrets to create live in them.
        absent = set()
        for obj in namespaces:
            if dry_run and api.get(obj) is None:  # a dry run cannot place anything in a namespace to be
                absent.add(str(obj["metadata"]["name"]))
                result.applied.append(registry.Applied("Namespace", None, str(obj["metadata"]["name"]), "created"))
            else:
                result.applied.append(api.apply(obj, dry_run=dry_run))
        for ns, name in needed_secrets(objects):
            if ns in absent or api.get({"apiVersion": "v1", "kind": "Secret",
                                        "metadata": {"namespace": ns, "name": name}}) is None:
                result.missing_secrets.append(f"{ns}/{name}")
        if result.missing_secrets and not dry_run:
            raise PermanentError(
                f"{len(result.missing_secrets)} Secret(s) the manifests need do not exist: "
                f"{', '.join(result.missing_secrets[:10])}{' …' if len(result.missing_secrets) > 10 else ''}; "
                "only the namespaces were applied",
                hint="create them from your secret manager (render --out writes their shape under secrets/), "
                     "then apply again")
        if not dry_run:  # what the stateless pods log in to Redis as, before anything uses it
            result.session_users = ensure_session_users(connected.valid.path)
        for obj in objects:
            if obj["kind"] == "Namespace":
                continue
            meta = obj["metadata"]
            if meta.get("namespace") in absent:  # what a dry run can say without the server
                result.applied.append(registry.Applied(str(obj["kind"]), meta["namespace"], str(meta["name"]),
                                                       "created"))
                continue
            result.applied.append(api.apply(obj, dry_run=dry_run))
        # What `down` stopped comes back (hibernated Clusters, autoscaled Deployments at zero).
        from odooplane.actions.kubernetes_ops import wake

        woken = wake(api, [o for o in objects if o["metadata"].get("namespace") not in absent], dry_run=dry_run)
        names = {(a.kind, a.namespace, a.name) for a in woken}
        result.applied = [registry.Applied(a.kind, a.namespace, a.name, "changed")
                          if (a.kind, a.namespace, a.name) in names and a.outcome == "unchanged" else a
                          for a in result.applied]
    return result


def ensure_session_users(path: Path) -> list[str]:
    """The Redis ACL user of every dedicated environment and pool whose sessions are in Redis
    (``stateless.sessions``), made or brought back to its password (the state store's, which its
    Secret carries) and key prefix, as ``apply`` does on the other drivers; ``server/user`` each."""
    from odooplane.operations import provision
    from odooplane.operations.desired import stateless_settings
    from odooplane.services import redis_acl

    ctx = estate_file.context(path)
    try:
        made: list[str] = []
        owners = [(p.stateless, f"pool/{p.name}", p.slug) for p in ctx.valid.pools]
        owners += [(e.stateless, f"env/{e.ref}", e.ref.slug) for e in ctx.valid.environments if e.pool is None]
        for value, prefix, slug in owners:
            if value is None or not value.sessions:
                continue
            settings = stateless_settings(ctx, value, secret_prefix=prefix, slug=slug, create=True)
            if settings is None or settings.sessions is None:
                continue
            user = settings.sessions
            try:
                provision.ensure_sessions(ctx, user)
            except redis_acl.RedisError as exc:
                raise TemporaryError(f"monitoring.redis.{user.server} ({user.host}:{user.port}) did not take the "
                                     f"session user {user.user}: {exc}; nothing but the namespaces was applied",
                                     delay=10) from None
            made.append(f"{user.server}/{user.user}")
        return made
    finally:
        ctx.close()


@dataclass(frozen=True)
class ObjectStatus:
    kind: str
    namespace: str
    name: str
    ready: bool | None  # None: not there
    detail: str


@dataclass
class KubeStatus:
    objects: list[ObjectStatus] = field(default_factory=list)  # Deployments and CloudNativePG Clusters
    applications: list[dict[str, str]] = field(default_factory=list)  # Argo CD: name, sync, health, revision

    @property
    def ready(self) -> bool:
        return all(o.ready for o in self.objects) and all(
            a["sync"] == "Synced" and a["health"] == "Healthy" for a in self.applications)


def _deployment_status(obj: dict[str, Any] | None, wanted: int) -> tuple[bool | None, str]:
    if obj is None:
        return None, "absent"
    status = obj.get("status", {})
    ready = int(status.get("readyReplicas") or 0)
    current = (int(status.get("observedGeneration") or 0) >= int(obj.get("metadata", {}).get("generation") or 0)
               and int(status.get("updatedReplicas") or 0) >= wanted)
    return ready >= wanted and current, f"{ready}/{wanted} ready" + ("" if current else ", rolling out")


def _cluster_status(obj: dict[str, Any] | None, wanted: int) -> tuple[bool | None, str]:
    if obj is None:
        return None, "absent"
    status = obj.get("status", {})
    ready = int(status.get("readyInstances") or 0)
    phase = str(status.get("phase") or "unknown")
    return ready >= wanted and phase == "Cluster in healthy state", f"{ready}/{wanted} instances, {phase}"


def status(path: Path | None, *, context: str | None = None, kubeconfig: str | None = None,
           server: registry.ApiServer | None = None) -> KubeStatus:
    """What runs of the estate's Deployments and CloudNativePG Clusters, and its Argo CD Applications'
    sync and health (when ``gitops`` is set)."""
    connected = connect(path, "estate.read", context=context, kubeconfig=kubeconfig, server=server)
    valid, objects, api = connected.valid, connected.objects, connected.api
    settings = valid.estate.platform.kubernetes
    out = KubeStatus()
    floors = {(o["metadata"]["namespace"], o["spec"]["scaleTargetRef"]["name"]): int(o["spec"]["minReplicas"])
              for o in objects if o["kind"] == "HorizontalPodAutoscaler"}
    with talking("status"):
        for obj in objects:
            kind, meta = str(obj["kind"]), obj["metadata"]
            if kind == "Deployment":  # an autoscaled one: at least its autoscaler's minimum
                wanted = int(obj["spec"].get("replicas") or floors.get((meta["namespace"], meta["name"]), 1))
                ready, detail = _deployment_status(api.get(obj), wanted)
            elif kind == "Cluster":
                ready, detail = _cluster_status(api.get(obj), int(obj["spec"]["instances"]))
            else:
                continue
            out.objects.append(ObjectStatus(kind, str(meta["namespace"]), str(meta["name"]), ready, detail))
        if settings.gitops is not None:
            out.applications = _applications(valid, api)
    return out


def _applications(valid: ValidEstate, api: registry.ApiServer) -> list[dict[str, str]]:
    gitops = valid.estate.platform.kubernetes.gitops
    assert gitops is not None
    out = []
    for app in api.list("argoproj.io/v1alpha1", "Application", gitops.argocd_namespace,
                        label_selector=f"app.kubernetes.io/part-of={valid.estate.platform.name}"):
        st = app.get("status", {})
        out.append({"name": str(app["metadata"]["name"]),
                    "sync": str(st.get("sync", {}).get("status") or "Unknown"),
                    "health": str(st.get("health", {}).get("status") or "Unknown"),
                    "revision": str(st.get("sync", {}).get("revision") or "")})
    return out


def gitops_status(path: Path | None, *, context: str | None = None, kubeconfig: str | None = None,
                  server: registry.ApiServer | None = None) -> list[dict[str, str]]:
    """The estate's Argo CD Applications: sync, health, revision."""
    connected = connect(path, "estate.read", context=context, kubeconfig=kubeconfig, server=server)
    if connected.valid.estate.platform.kubernetes.gitops is None:
        raise UsageError(f"{connected.valid.path}: platform.kubernetes.gitops is not set (no Argo CD Applications "
                         "are rendered)")
    with talking("gitops status"):
        return _applications(connected.valid, connected.api)
