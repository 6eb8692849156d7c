"""The verbs that act on an estate running on Kubernetes, as API calls:

- ``logs``: an environment's lines from the pod logs API — its Odoo pods' (a pooled environment's
  own lines out of its pool's pods), its CloudNativePG instances' (the JSON records of its
  database) and the edge's (Traefik's JSON access log on stdout, the requests its IngressRoutes'
  routers served) — merged in time order; ``--follow`` polls ``sinceTime``.
- ``health``: each environment's web Deployment (ready replicas against its rendered count), its
  managed cluster (CloudNativePG's instances and phase) and Odoo's own ``/web/health`` through
  the endpoint of its Service: in-cluster DNS when Odooplane runs in the cluster, else a
  port-forward to one of its ready pods (the API server's pod portforward subresource).
- ``pitr backup`` / ``pitr info`` / ``pitr restore-cluster``: a CloudNativePG ``Backup``
  (Barman Cloud plugin) now, the backups and recovery window of a cluster, and point-in-time
  recovery into a new Cluster.

Every state reported is read from the API server at that moment: a backup is "completed" only
when its Backup says so.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from odooplane.actions import logs as logs_action
from odooplane.actions.kubernetes import Connected, connect, talking
from odooplane.clock import wait_until
from odooplane.drivers import registry
from odooplane.errors import NotFound, PermanentError, UsageError
from odooplane.estate.models import ManagedCluster
from odooplane.estate.resolve import DesiredEnvironment, EnvRef

ODOO_CONTAINER = "odoo"
POSTGRES_CONTAINER = "postgres"
HTTP_PORT = 8069
_STAMP = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?Z ?(.*)$")


def _environment(connected: Connected, target: str) -> DesiredEnvironment:
    try:
        ref = EnvRef.parse(target)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    env = connected.valid.environment(ref)
    if env is None:
        raise NotFound(f"{target}: no such environment in {connected.valid.path}")
    return env


def placement(connected: Connected, env: DesiredEnvironment) -> tuple[str, str]:
    return registry.kubernetes_placement(connected.valid.estate.platform.kubernetes, tenant=env.ref.tenant,
                                         env=env.ref.env, pool=env.pool)


# -- logs -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PodLogSource:
    """The pods of one selector and how to read an environment's lines out of their logs."""

    name: str  # odoo, edge, postgres
    namespace: str
    selector: str
    container: str | None  # None: the pod's first container
    parse: Callable[[str], logs_action.LogLine | None]
    filtered: bool  # the parser keeps only some lines (a pool's tenant, a database, routers)


def cnpg_parser(database: str | None) -> Callable[[str], logs_action.LogLine | None]:
    """CloudNativePG's instance log: JSON lines, PostgreSQL's own as ``logger: postgres`` records
    (csvlog fields); with ``database`` only its sessions' records."""

    def parse(line: str) -> logs_action.LogLine | None:
        entry = logs_action.json_object(line)
        if entry is None:
            return None
        record = entry.get("record") if entry.get("logger") == "postgres" else None
        if not isinstance(record, dict):
            if database:  # the instance manager's own lines belong to no database
                return None
            return logs_action.LogLine("postgres", None, str(entry.get("level") or "info"),
                                       str(entry.get("msg") or line))
        if database and record.get("database_name") != database:
            return None
        severity = str(record.get("error_severity") or "LOG")
        at = None
        try:
            at = dt.datetime.strptime(str(record.get("log_time", ""))[:23], "%Y-%m-%d %H:%M:%S.%f").replace(
                tzinfo=dt.UTC)
        except ValueError:
            pass
        text = (f"{record.get('log_time', '')} [{record.get('process_id', '')}] "
                f"{record.get('user_name') or ''}@{record.get('database_name') or ''} {severity}:  "
                f"{record.get('message', '')}")
        return logs_action.LogLine("postgres", at, logs_action.PG_LEVELS.get(severity, "info"), text)

    return parse


def traefik_router(namespace: str, route: str, match: str) -> str:
    """The router name Traefik's Kubernetes CRD provider gives one route of an IngressRoute:
    ``Normalize("<namespace>-<name>-<first 10 bytes of sha256(match), hex>") + "@kubernetescrd"``
    (Normalize joins the runs of letters and digits with one ``-``)."""
    raw = f"{namespace}-{route}-{hashlib.sha256(match.encode()).hexdigest()[:20]}"
    return "-".join(re.findall(r"[^\W_]+", raw)) + "@kubernetescrd"


def edge_router_parser(routers: set[str]) -> Callable[[str], logs_action.LogLine | None]:
    """Traefik's JSON access log, only the requests these routers served."""
    every = logs_action.edge_parser(None)

    def parse(line: str) -> logs_action.LogLine | None:
        entry = logs_action.json_object(line)
        if entry is None or str(entry.get("RouterName", "")) not in routers:
            return None
        return every(line)

    return parse


def pod_sources(connected: Connected, target: str, wanted: tuple[str, ...]) -> list[PodLogSource]:
    settings = connected.valid.estate.platform.kubernetes
    edge_selector = ",".join(f"{k}={v}" for k, v in sorted(settings.edge_labels.items()))
    if target == "edge":
        return [PodLogSource("edge", settings.edge_namespace, edge_selector, None, logs_action.edge_parser(None),
                             False)]
    env = _environment(connected, target)
    namespace, base = placement(connected, env)
    out: list[PodLogSource] = []
    if "odoo" in wanted:
        out.append(PodLogSource("odoo", namespace, f"{registry.KUBERNETES_LABEL_INSTANCE}={base}", ODOO_CONTAINER,
                                logs_action.odoo_parser(env.database if env.pool else None), env.pool is not None))
    if "edge" in wanted:
        own = registry.kubernetes_placement(settings, tenant=env.ref.tenant, env=env.ref.env, pool=None)[1]
        routers = {traefik_router(namespace, str(o["metadata"]["name"]), str(r["match"]))
                   for o in connected.objects if o["kind"] == "IngressRoute" and o["metadata"]["namespace"] == namespace
                   and o["metadata"]["name"] in (own, f"{own}-tls") for r in o["spec"]["routes"]}
        out.append(PodLogSource("edge", settings.edge_namespace, edge_selector, None, edge_router_parser(routers),
                                True))
    if "postgres" in wanted and isinstance(env.cluster, ManagedCluster):
        out.append(PodLogSource("postgres", settings.namespace, f"cnpg.io/cluster={env.cluster_name}",
                                POSTGRES_CONTAINER, cnpg_parser(env.database), True))
    return out


def stamped(raw: str) -> tuple[dt.datetime | None, str]:
    """(the API server's time of the line, the line) of a ``timestamps=true`` log line."""
    found = _STAMP.match(raw)
    if found is None:
        return None, raw
    at = dt.datetime.fromisoformat(found.group(1)).replace(tzinfo=dt.UTC)
    if found.group(2):
        at = at.replace(microsecond=int(found.group(2)[:6].ljust(6, "0")))
    return at, found.group(3)


def _container(pod: dict[str, Any], wanted: str | None) -> str:
    containers = [str(c["name"]) for c in pod.get("spec", {}).get("containers", [])]
    if wanted in containers:
        return str(wanted)
    return containers[0] if containers else str(wanted or "")


@dataclass
class _Reader:
    """Reads the sources' pods, remembering per pod the newest line time it returned (follow)."""

    api: registry.ApiServer
    sources: list[PodLogSource]
    query: logs_action.LogQuery
    seen: dict[str, tuple[dt.datetime, set[str]]] = field(default_factory=dict)  # pod -> newest time, its lines

    def read(self, *, first: bool) -> list[tuple[dt.datetime, int, logs_action.LogLine]]:
        now = dt.datetime.now(dt.UTC)
        out: list[tuple[dt.datetime, int, logs_action.LogLine]] = []
        query = self.query
        for index, source in enumerate(self.sources):
            # The server keeps only the last lines when every line counts; else they are filtered here.
            tail = query.lines if first and query.lines and not (
                source.filtered or query.grep or query.level or query.request_id) else None
            for pod in self.api.list("v1", "Pod", source.namespace, label_selector=source.selector):
                name = f"{source.namespace}/{pod['metadata']['name']}"
                newest = self.seen.get(name)
                since_time = newest[0].strftime("%Y-%m-%dT%H:%M:%SZ") if newest else None
                since = int(query.since.total_seconds()) if query.since and first else None
                try:
                    text = self.api.pod_log(source.namespace, str(pod["metadata"]["name"]),
                                            container=_container(pod, source.container), since_seconds=since,
                                            since_time=since_time, tail_lines=tail)
                except registry.ApiError as exc:
                    if exc.status in (400, 404):  # gone since it was listed (a rollout), or has no log to give
                        continue
                    raise
                last = dt.datetime.min.replace(tzinfo=dt.UTC)
                for raw in text.splitlines():
                    stamp, content = stamped(raw)
                    key = raw
                    if newest and stamp is not None and (stamp < newest[0] or (stamp == newest[0]
                                                                               and key in newest[1])):
                        continue  # returned by an earlier read (sinceTime has whole seconds)
                    if stamp is not None:
                        if newest is None or stamp > newest[0]:
                            newest = (stamp, {key})
                        else:
                            newest[1].add(key)
                    line = source.parse(content)
                    if line is None:
                        continue
                    if line.at is None and stamp is not None:
                        line = logs_action.LogLine(line.source, stamp, line.level, line.text)
                    last = line.at or last
                    if logs_action.keep(line, query, now):
                        out.append((last, index, line))
                if newest is not None:
                    self.seen[name] = newest
        out.sort(key=lambda item: (item[0], item[1]))
        return out


def logs(path: Path | None, target: str, query: logs_action.LogQuery, *, sources: str | None = None,
         context: str | None = None, kubeconfig: str | None = None, server: registry.ApiServer | None = None,
         ) -> tuple[list[logs_action.LogLine], Callable[[], Iterator[logs_action.LogLine]]]:
    """The kept lines of ``target`` now, and a generator of the lines that follow (``--follow``)."""
    logs_action.check(query)
    wanted = logs_action.parse_sources(sources, request_id=query.request_id)
    connected = connect(path, "fleet.read", context=context, kubeconfig=kubeconfig, server=server)
    found = pod_sources(connected, target, wanted)
    reader = _Reader(connected.api, found, query)
    with talking("logs"):
        kept = [item[2] for item in reader.read(first=True)]

    def follow(poll: float = 2.0) -> Iterator[logs_action.LogLine]:
        while True:
            time.sleep(poll)  # the pause between two reads of the API server, not a synchronisation
            with talking("logs"):
                for _, _, line in reader.read(first=False):
                    yield line

    return (kept[-query.lines:] if query.lines else kept), follow


# -- health ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok, warning, critical, unknown
    detail: str


@dataclass
class EnvHealth:
    target: str
    placement: str
    tier: str
    checks: list[Check] = field(default_factory=list)

    @property
    def status(self) -> str:
        order = ("ok", "unknown", "warning", "critical")
        return max((c.status for c in self.checks), key=order.index, default="unknown")

    @property
    def failing(self) -> list[Check]:
        return [c for c in self.checks if c.status != "ok"]


class Probe(Protocol):
    """GET ``path`` of the Service ``namespace``/``service`` (with ``headers``: a pool's trusted
    database header) -> (HTTP status, body); status 0 when nothing answered."""

    def __call__(self, namespace: str, service: str, path: str, /,
                 headers: Mapping[str, str] | None = None) -> tuple[int, str]: ...


def in_cluster_probe(namespace: str, service: str, path: str, /,
                     headers: Mapping[str, str] | None = None) -> tuple[int, str]:
    """GET through the Service's cluster DNS name (Odooplane in the cluster: its pods are the
    control plane the NetworkPolicies let in)."""
    request = urllib.request.Request(f"http://{service}.{namespace}.svc:{HTTP_PORT}{path}",
                                     headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - http:// built here
            return int(response.status), response.read(2048).decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return int(exc.code), ""
    except OSError as exc:
        return 0, str(exc)


def port_forward_probe(api: registry.ApiServer) -> Probe:
    """GET through a port-forward to one ready pod of the Service (the kubelet's stream: it does not
    pass through the NetworkPolicies that keep everyone but the edge out)."""

    def probe(namespace: str, service: str, path: str, /,
              headers: Mapping[str, str] | None = None) -> tuple[int, str]:
        from kubernetes import client
        from kubernetes.stream import portforward

        component = service.rsplit("-", 1)[-1]
        base = service[: -len(component) - 1]
        pods = [p for p in api.list("v1", "Pod", namespace, label_selector=(
            f"{registry.KUBERNETES_LABEL_INSTANCE}={base},{registry.KUBERNETES_LABEL_COMPONENT}={component}"))
            if any(c.get("type") == "Ready" and c.get("status") == "True"
                   for c in p.get("status", {}).get("conditions", []))]
        if not pods:
            return 0, "no ready pod to forward to"
        core = client.CoreV1Api(api.api)
        try:
            forward = portforward(core.connect_get_namespaced_pod_portforward, pods[0]["metadata"]["name"],
                                  namespace, ports=str(HTTP_PORT))
        except Exception as exc:  # the websocket upgrade refused or failed: said, per Service
            reason = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
            return 0, f"port-forward to {pods[0]['metadata']['name']} failed: {reason}"
        try:
            sock = forward.socket(HTTP_PORT)
            sock.settimeout(5)
            extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items() if "\n" not in k + v)
            sock.sendall(f"GET {path} HTTP/1.0\r\nHost: localhost\r\n{extra}\r\n".encode())
            chunks = []
            while True:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                chunks.append(chunk)
            head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
            status_line = head.split(b"\r\n", 1)[0].split()
            return (int(status_line[1]) if len(status_line) > 1 else 0), body[:2048].decode(errors="replace")
        except OSError as exc:
            return 0, str(exc)
        finally:
            forward.close()

    return probe


def default_probe(api: registry.ApiServer) -> Probe:
    """How the control plane asks Odoo: in-cluster Service DNS when it runs in the cluster (falling
    back to a port-forward), a port-forward through the API server otherwise."""
    forward = port_forward_probe(api)
    if not os.environ.get("KUBERNETES_SERVICE_HOST"):
        return forward

    def probe(namespace: str, service: str, path: str, /,
              headers: Mapping[str, str] | None = None) -> tuple[int, str]:
        # A pod of the cluster without the control plane's label is kept out by the NetworkPolicy.
        code, body = in_cluster_probe(namespace, service, path, headers)
        return (code, body) if code else forward(namespace, service, path, headers)

    return probe


def health(path: Path | None, *, tenant: str | None = None, context: str | None = None,
           kubeconfig: str | None = None, server: registry.ApiServer | None = None,
           probe: Probe | None = None) -> list[EnvHealth]:
    """Every environment's (or ``tenant``'s) web Deployment, managed cluster and ``/web/health``."""
    connected = connect(path, "fleet.read", context=context, kubeconfig=kubeconfig, server=server)
    api, settings = connected.api, connected.valid.estate.platform.kubernetes
    probe = probe or default_probe(api)
    rendered = {(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]): o for o in connected.objects}
    out: list[EnvHealth] = []
    probed: dict[tuple[str, str], tuple[int, str]] = {}  # a pool's Service answers once for its tenants
    with talking("health"):
        for env in connected.valid.environments:
            if tenant and env.ref.tenant != tenant:
                continue
            namespace, base = placement(connected, env)
            result = EnvHealth(str(env.ref), env.placement, env.labels.tier or "-")
            out.append(result)
            deployment = rendered.get(("Deployment", namespace, f"{base}-http"))
            if deployment is None:
                result.checks.append(Check("deployment", "unknown", f"{base}-http is not in the rendered manifests"))
                continue
            hpa = rendered.get(("HorizontalPodAutoscaler", namespace, f"{base}-http"))
            wanted = int(deployment["spec"].get("replicas") or (hpa["spec"]["minReplicas"] if hpa else 1))
            observed = api.get(deployment)
            ready = int((observed or {}).get("status", {}).get("readyReplicas") or 0)
            if observed is None:
                result.checks.append(Check("deployment", "critical", f"{base}-http does not exist (apply)"))
            else:
                result.checks.append(Check("deployment", "ok" if ready >= wanted else "critical" if ready == 0
                                           else "warning", f"{ready}/{wanted} ready"))
            if isinstance(env.cluster, ManagedCluster):
                cluster = rendered.get(("Cluster", settings.namespace, env.cluster_name))
                state = api.get(cluster) if cluster else None
                if state is None:
                    result.checks.append(Check("postgres", "critical", f"Cluster {env.cluster_name} does not exist"))
                else:
                    st = state.get("status", {})
                    healthy = st.get("phase") == "Cluster in healthy state"
                    result.checks.append(Check("postgres", "ok" if healthy else "critical" if not st.get(
                        "readyInstances") else "warning",
                        f"{st.get('readyInstances') or 0}/{cluster['spec']['instances'] if cluster else '?'} "
                        f"instances, {st.get('phase') or 'unknown'}"))
            if observed is None or ready == 0:
                result.checks.append(Check("http", "critical", "no ready pod to answer /web/health"))
                continue
            key = (namespace, f"{base}-http")
            if key not in probed:
                probed[key] = probe(namespace, f"{base}-http", "/web/health")
            code, body = probed[key]
            answered = code == 200 and '"pass"' in body
            result.checks.append(Check("http", "ok" if answered else "critical",
                                       f"/web/health answered {code}" if code else f"/web/health: {body}"))
    return out


# -- point-in-time recovery (CloudNativePG) --------------------------------------------------------

def _pitr_cluster(connected: Connected, cluster: str) -> None:
    declared = connected.valid.estate.clusters.get(cluster)
    if not isinstance(declared, ManagedCluster):
        raise NotFound(f"{cluster}: no managed cluster of that name in {connected.valid.path}")
    if declared.pitr is None:
        raise UsageError(f"clusters.{cluster}: has no pitr (no object store receives its WAL and base backups)")


def _backup_row(obj: dict[str, Any]) -> dict[str, Any]:
    st = obj.get("status", {})
    return {"name": obj["metadata"]["name"], "phase": st.get("phase") or "pending",
            "backup_id": st.get("backupId"), "started": st.get("startedAt"), "stopped": st.get("stoppedAt"),
            "begin_wal": st.get("beginWal"), "end_wal": st.get("endWal"), "error": st.get("error")}


def pitr_backup(path: Path | None, cluster: str, *, wait: float = 3600, context: str | None = None,
                kubeconfig: str | None = None, server: registry.ApiServer | None = None,
                interval: float = 5.0, now: dt.datetime | None = None) -> dict[str, Any]:
    """Create a CloudNativePG Backup of ``cluster`` and wait up to ``wait`` seconds for it to
    complete (0: return once created, its phase as the server says)."""
    connected = connect(path, "backups.run", context=context, kubeconfig=kubeconfig, server=server)
    _pitr_cluster(connected, cluster)
    settings = connected.valid.estate.platform.kubernetes
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%d%H%M%S")
    try:
        obj = registry.kubernetes_backup(cluster, name=f"{cluster}-{stamp}", settings=settings,
                                         estate=connected.valid.estate.platform.name)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    last: list[dict[str, Any]] = []
    with talking("pitr backup"):
        last.append(connected.api.create(obj))

        def finished() -> bool:
            last.append(connected.api.get(obj) or {**obj, "status": {"phase": "deleted",
                                                                      "error": "the Backup disappeared"}})
            return _backup_row(last[-1])["phase"] in ("completed", "failed", "deleted")

        if wait and not wait_until(finished, timeout=wait, interval=interval):
            raise PermanentError(f"Backup {obj['metadata']['name']} not completed after {wait:.0f} s "
                                 f"(phase {_backup_row(last[-1])['phase']}); it goes on in the cluster")
    row = _backup_row(last[-1])
    if row["phase"] in ("failed", "deleted"):
        raise PermanentError(f"Backup {row['name']} failed: {row['error'] or 'no reason given'}")
    return row


@dataclass
class PitrInfo:
    cluster: str
    backups: list[dict[str, Any]]
    first_recoverability_point: str | None
    last_successful_backup: str | None


def pitr_info(path: Path | None, cluster: str, *, context: str | None = None, kubeconfig: str | None = None,
              server: registry.ApiServer | None = None) -> PitrInfo:
    """The cluster's Backups (newest last) and its recovery window (the ObjectStore's status)."""
    connected = connect(path, "backups.read", context=context, kubeconfig=kubeconfig, server=server)
    _pitr_cluster(connected, cluster)
    ns = connected.valid.estate.platform.kubernetes.namespace
    with talking("pitr info"):
        backups = [b for b in connected.api.list("postgresql.cnpg.io/v1", "Backup", ns)
                   if b.get("spec", {}).get("cluster", {}).get("name") == cluster]
        store = connected.api.get({"apiVersion": "barmancloud.cnpg.io/v1", "kind": "ObjectStore",
                                   "metadata": {"namespace": ns, "name": f"{cluster}-backups"}})
    window = ((store or {}).get("status", {}).get("serverRecoveryWindow") or {}).get(cluster, {})
    rows = sorted((_backup_row(b) for b in backups),  # started ones oldest first, then those to start
                  key=lambda r: (r["started"] is None, r["started"] or "", r["name"]))
    return PitrInfo(cluster, rows, window.get("firstRecoverabilityPoint"), window.get("lastSuccessfulBackupTime"))


RECOVERY_MANAGER = "odooplane-recovery"  # the bootstrap's field manager: apply never removes it


def restore_cluster(path: Path | None, source: str, into: str, *, at: str | None, context: str | None = None,
                    kubeconfig: str | None = None, server: registry.ApiServer | None = None) -> dict[str, Any]:
    """Create the Cluster ``into`` (declared in the estate, not yet on the cluster) bootstrapped from
    ``source``'s backups up to ``at`` (RFC 3339; None: the end of the archived WAL)."""
    connected = connect(path, "estate.apply", context=context, kubeconfig=kubeconfig, server=server)
    _pitr_cluster(connected, source)
    if into == source:
        raise UsageError(f"--to {into}: recovery makes a new cluster; name another one declared in the estate")
    if not isinstance(connected.valid.estate.clusters.get(into), ManagedCluster):
        raise UsageError(f"--to {into}: declare it under clusters (kind: managed) first, so apply keeps running it")
    target_time = None
    if at:
        try:
            moment = dt.datetime.fromisoformat(at)
        except ValueError as exc:
            raise UsageError(f"--at {at!r}: an ISO time, like 2026-12-01T10:30:00Z") from exc
        if moment.tzinfo is None:
            raise UsageError(f"--at {at!r}: say its time zone (Z or +01:00): the cluster's clock is UTC")
        target_time = moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    settings = connected.valid.estate.platform.kubernetes
    declared = next((o for o in connected.objects if o["kind"] == "Cluster" and o["metadata"]["name"] == into), None)
    obj = registry.kubernetes_recovery_cluster(source, into=into, target_time=target_time, settings=settings,
                                               estate=connected.valid.estate.platform.name, declared=declared)
    store = next((o for o in connected.objects if o["kind"] == "ObjectStore"
                  and o["metadata"]["name"] == f"{into}-backups"), None)  # NEW archives its own WAL there
    with talking("pitr restore-cluster"):
        existing = connected.api.get(obj)
        if existing is not None:
            recovery = existing.get("spec", {}).get("bootstrap", {}).get("recovery", {})
            if recovery != obj["spec"]["bootstrap"]["recovery"]:
                raise PermanentError(f"Cluster {settings.namespace}/{into} exists already and is not this recovery: "
                                     "recovery only bootstraps a new one (delete it first, or name another)")
            return {"cluster": into, "namespace": settings.namespace, "source": source, "target_time": target_time,
                    "outcome": "already recovering"}  # a re-run: the same recovery was created before
        if store is not None:
            connected.api.apply(store)
        connected.api.apply(obj, manager=RECOVERY_MANAGER)
    return {"cluster": into, "namespace": settings.namespace, "source": source, "target_time": target_time,
            "outcome": "created"}


# -- one-shot Odoo commands as Jobs ---------------------------------------------------------------

RESTART_MANAGER = "odooplane-restart"  # the restart annotation's field manager: apply leaves it
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"  # what `kubectl rollout restart` sets


@dataclass
class InitResult:
    target: str
    job: str
    namespace: str
    outcome: str  # succeeded, already succeeded, created or running (not waited for)
    restarted: list[str] = field(default_factory=list)  # Deployments rolled (their registries reload)


def job_state(job: dict[str, Any] | None) -> str:
    """absent, active, succeeded or failed, from a Job's status (and its conditions)."""
    if job is None:
        return "absent"
    st = job.get("status", {})
    conditions = {c.get("type"): c.get("status") for c in st.get("conditions", []) or []}
    if int(st.get("succeeded") or 0) > 0 or conditions.get("Complete") == "True":
        return "succeeded"
    if int(st.get("failed") or 0) > 0 or conditions.get("Failed") == "True":
        return "failed"
    return "active"


def job_condition(job: dict[str, Any]) -> str:
    """Why the Job failed, as its Failed condition says."""
    for condition in job.get("status", {}).get("conditions", []) or []:
        if condition.get("type") == "Failed":
            return str(condition.get("message") or condition.get("reason") or "failed")
    return "failed (no log)"


def job_failure(api: registry.ApiServer, job: dict[str, Any]) -> str:
    """Why the Job failed: the cause in its pod's Odoo log (as on the other drivers), else its condition."""
    from odooplane.services import odoo_commands

    meta = job["metadata"]
    pods = api.list("v1", "Pod", str(meta["namespace"]), label_selector=f"job-name={meta['name']}")
    for pod in pods[-1:]:
        text = api.pod_log(str(meta["namespace"]), str(pod["metadata"]["name"]), container=ODOO_CONTAINER)
        reason = odoo_commands.lines_summary([stamped(raw)[1] for raw in text.splitlines()])
        if reason:
            return reason
        # Odooplane's own step after Odoo's (an init Job's identity): the error its last line says.
        names = [c.get("name") for c in job["spec"]["template"]["spec"].get("containers", [])]
        if registry.KUBERNETES_IDENTITY_CONTAINER in names:
            text = api.pod_log(str(meta["namespace"]), str(pod["metadata"]["name"]),
                               container=registry.KUBERNETES_IDENTITY_CONTAINER)
            for raw in reversed(text.splitlines()):
                try:
                    said = json.loads(stamped(raw)[1])
                except ValueError:
                    continue
                if isinstance(said, dict) and said.get("error"):
                    return f"identity step: {said['error']}"
    return job_condition(job)


IDENTITY_MANAGER = "odooplane-identity"  # the field manager of the identity Secrets
INIT_MANAGER = "odooplane-init"  # a dedicated environment's replicas, 0 while its database is made


def identity_secret(job: dict[str, Any], admin_password: str, *, anonymize_salt: str | None = None
                    ) -> dict[str, Any] | None:
    """The Secret the identity step of ``job`` reads (its volume ``identity`` names it): the
    pbkdf2 hash of ``admin_password`` (and a clone's ``anonymize_salt``). None when the Job has no
    identity step."""
    from odooplane.services import passwords

    pod = job["spec"]["template"]["spec"]
    volume = next((v for v in pod.get("volumes", []) if v["name"] == "identity" and "secret" in v), None)
    if volume is None:
        return None
    hashed = passwords.hash_password(admin_password, rounds=passwords.GENERATED_ROUNDS)
    return registry.kubernetes_identity_secret(str(volume["secret"]["secretName"]), str(job["metadata"]["namespace"]),
                                               admin_password_hash=hashed, anonymize_salt=anonymize_salt)


def admin_password(path: Path | None, env: DesiredEnvironment) -> str:
    """The environment's admin password, as the state store keeps it (made now if it has none;
    ``odooplane credentials`` reveals it)."""
    from odooplane.actions import estate_file
    from odooplane.operations.desired import secret_name

    ctx = estate_file.context(path)
    try:
        return ctx.secrets.get_or_create(secret_name(env, "admin_user_password"))
    finally:
        ctx.close()


def init(path: Path | None, target: str, *, wait: float = 3600, context: str | None = None,
         kubeconfig: str | None = None, server: registry.ApiServer | None = None, interval: float = 2.0,
         now: dt.datetime | None = None) -> InitResult:
    """Run the environment's rendered init Job (``odoo -i base,<modules> --stop-after-init`` on its
    new database) once; wait for it, then restart what serves the environment (a threaded cron
    server loads its databases' registries at start). A Job that succeeded is not run again; a
    failed one is reported with Odoo's reason and left for inspection."""
    connected = connect(path, "tenants.create", context=context, kubeconfig=kubeconfig, server=server)
    env = _environment(connected, target)
    job = next((j for j in connected.jobs if j["metadata"].get("annotations", {}).get(
        "odooplane.io/target") == str(env.ref)), None)
    if job is None:
        raise NotFound(f"{target}: no init Job is rendered for it (its database is not one Odooplane makes)")
    name = str(job["metadata"]["name"])
    result = InitResult(str(env.ref), name, str(job["metadata"]["namespace"]), "created")
    api = connected.api
    last: list[dict[str, Any] | None] = []
    hint = f"fix the cause, then `kubectl -n {result.namespace} delete job {name}` and run init again"
    with talking("init"):
        existing = api.get(job)
        state = job_state(existing)
        if state == "failed":
            raise PermanentError(f"Job {result.namespace}/{name} failed: {job_failure(api, existing or job)}",
                                 hint=hint)
        from odooplane.actions.kubernetes_restore import deployments, desired_replicas

        serving = deployments(connected, env)
        if state == "absent":
            secret = identity_secret(job, admin_password(connected.valid.path, env))
            if secret is not None:  # what the Job's identity step reads: first
                api.apply(secret, manager=IDENTITY_MANAGER)
            if env.pool is None:  # nothing serves the database until it has its own identity
                for obj in serving:
                    if api.get(obj) is not None:
                        api.merge_patch(obj, {"spec": {"replicas": 0}}, manager=INIT_MANAGER)
            api.create(job)
        elif state == "active":
            result.outcome = "running"
        if state != "succeeded":
            if not wait:
                return result

            def finished() -> bool:
                last.append(api.get(job))
                return job_state(last[-1]) in ("succeeded", "failed")

            if not wait_until(finished, timeout=wait, interval=interval):
                raise PermanentError(f"Job {result.namespace}/{name} not finished after {wait:.0f} s; it goes on in "
                                     "the cluster (run init again to wait for it and restart what serves)")
            existing = last[-1]
            if job_state(existing) == "failed":
                raise PermanentError(f"Job {result.namespace}/{name} failed: {job_failure(api, existing or job)}",
                                     hint=hint)
        result.outcome = "succeeded" if state != "succeeded" else "already succeeded"
        # Restart what serves it, unless restarted since the Job completed (a run after a timeout, a kill).
        completed = str((existing or {}).get("status", {}).get("completionTime") or "")
        stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
        for obj in serving:
            meta = obj["metadata"]
            seen = api.get(obj)
            if seen is None:
                continue
            if env.pool is None and int(seen.get("spec", {}).get("replicas", 1) or 0) == 0:  # stopped for init
                api.merge_patch(obj, {"spec": {"replicas": desired_replicas(connected, obj)}}, manager=INIT_MANAGER)
            restarted = str(seen.get("spec", {}).get("template", {}).get("metadata", {}).get("annotations", {}).get(
                RESTARTED_AT) or "")
            if restarted and (not completed or restarted >= completed):
                continue  # restarted since the database was made
            api.merge_patch(obj, {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}},
                            manager=RESTART_MANAGER)
            result.restarted.append(str(meta["name"]))
    return result


# -- down: Odoo scaled to zero, clusters hibernated (data kept) -------------------------------------

DOWN_MANAGER = "odooplane-down"  # the zero replicas and the hibernation annotation
HIBERNATION = "cnpg.io/hibernation"  # CloudNativePG's declarative hibernation: pods go, PVCs stay


@dataclass
class DownResult:
    stopped: list[str] = field(default_factory=list)  # namespace/Deployment, 0 replicas observed
    hibernated: list[str] = field(default_factory=list)  # namespace/Cluster, its hibernation condition True
    pending: list[str] = field(default_factory=list)  # asked, not yet so when the wait ended

    @property
    def ok(self) -> bool:
        return not self.pending


def _hibernated(cluster: dict[str, Any] | None) -> bool:
    conditions = (cluster or {}).get("status", {}).get("conditions", []) or []
    return any(c.get("type") == HIBERNATION and c.get("status") == "True" for c in conditions)


def down(path: Path | None, *, wait: float = 300, context: str | None = None, kubeconfig: str | None = None,
         server: registry.ApiServer | None = None, interval: float = 2.0) -> DownResult:
    """Stop the estate on its cluster and keep every byte: each Deployment scaled to 0 (an
    autoscaler does not scale a Deployment up from 0), each CloudNativePG Cluster hibernated
    (``cnpg.io/hibernation=on``: its pods deleted, its volumes kept), both under the field manager
    ``odooplane-down``; then wait up to ``wait`` seconds until the cluster says so. ``apply`` wakes
    the estate again."""
    connected = connect(path, "estate.apply", context=context, kubeconfig=kubeconfig, server=server)
    api = connected.api
    deployments = [o for o in connected.objects if o["kind"] == "Deployment"]
    clusters = [o for o in connected.objects if o["kind"] == "Cluster"]
    asked: list[dict[str, Any]] = []
    with talking("down"):
        for obj in deployments:  # Odoo first, then what it uses
            if api.get(obj) is not None:
                api.merge_patch(obj, {"spec": {"replicas": 0}}, manager=DOWN_MANAGER)
                asked.append(obj)
        for obj in clusters:
            if api.get(obj) is not None:
                api.merge_patch(obj, {"metadata": {"annotations": {HIBERNATION: "on"}}}, manager=DOWN_MANAGER)
                asked.append(obj)
        result = DownResult()

        def settled() -> bool:
            result.stopped, result.hibernated, result.pending = [], [], []
            for obj in asked:
                seen = api.get(obj)
                where = f"{obj['metadata']['namespace']}/{obj['metadata']['name']}"
                if obj["kind"] == "Deployment":
                    running = int((seen or {}).get("status", {}).get("replicas") or 0)
                    (result.stopped if running == 0 else result.pending).append(where)
                else:
                    (result.hibernated if seen is None or _hibernated(seen) else result.pending).append(where)
            return not result.pending

        wait_until(settled, timeout=wait, interval=interval)
    return result


def wake(api: registry.ApiServer, objects: list[dict[str, Any]], *, dry_run: bool) -> list[registry.Applied]:
    """What ``down`` did, undone (``apply`` runs it after applying): hibernated Clusters woken (the
    annotation removed), autoscaled Deployments at 0 brought back to their autoscaler's minimum
    (server-side apply gives the others their rendered count). Under ``dry_run`` only reported."""
    minimum = {(o["metadata"]["namespace"], o["spec"]["scaleTargetRef"]["name"]): int(o["spec"]["minReplicas"])
               for o in objects if o["kind"] == "HorizontalPodAutoscaler"}
    out = []
    for obj in objects:
        meta = obj["metadata"]
        if obj["kind"] == "Cluster":
            seen = api.get(obj)
            if seen is None or seen.get("metadata", {}).get("annotations", {}).get(HIBERNATION) != "on":
                continue
            patch: dict[str, Any] = {"metadata": {"annotations": {HIBERNATION: None}}}
        elif obj["kind"] == "Deployment" and "replicas" not in obj["spec"]:
            seen = api.get(obj)
            if seen is None or seen.get("spec", {}).get("replicas") != 0:
                continue
            patch = {"spec": {"replicas": minimum.get((meta["namespace"], meta["name"]), 1)}}
        else:
            continue
        if not dry_run:
            api.merge_patch(obj, patch, manager=DOWN_MANAGER)
        out.append(registry.Applied(str(obj["kind"]), meta.get("namespace"), str(meta["name"]), "changed"))
    return out
