"""Server-side apply of rendered objects through the official ``kubernetes`` client.

Each object is sent as ``PATCH <its path>`` with ``Content-Type: application/apply-patch+yaml``,
``fieldManager=odooplane`` and ``force=true`` (Odooplane owns the fields it renders; another
manager's fields stay theirs), optionally ``dryRun=All`` (the server validates and answers what it
would store, nothing is stored). Whether an object changed is read from its ``resourceVersion``
before and after. Paths are computed from a fixed table of the kinds Odooplane renders — no
discovery round trips."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import urllib3

FIELD_MANAGER = "odooplane"

# kind -> (plural, namespaced)
RESOURCES: Mapping[str, tuple[str, bool]] = {
    "Namespace": ("namespaces", False),
    "Pod": ("pods", True),
    "Backup": ("backups", True),
    "ConfigMap": ("configmaps", True),
    "Secret": ("secrets", True),
    "Service": ("services", True),
    "PersistentVolumeClaim": ("persistentvolumeclaims", True),
    "Deployment": ("deployments", True),
    "Job": ("jobs", True),
    "PodDisruptionBudget": ("poddisruptionbudgets", True),
    "HorizontalPodAutoscaler": ("horizontalpodautoscalers", True),
    "NetworkPolicy": ("networkpolicies", True),
    "IngressRoute": ("ingressroutes", True),
    "Middleware": ("middlewares", True),
    "TLSOption": ("tlsoptions", True),
    "Certificate": ("certificates", True),
    "Cluster": ("clusters", True),
    "Database": ("databases", True),
    "Pooler": ("poolers", True),
    "ScheduledBackup": ("scheduledbackups", True),
    "ObjectStore": ("objectstores", True),
    "ApplicationSet": ("applicationsets", True),
    "Application": ("applications", True),
}

Outcome = Literal["created", "changed", "unchanged"]


class TransportError(Exception):
    """The API server could not be reached."""


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"API server answered {status}: {message}")
        self.status = status


@dataclass(frozen=True)
class Applied:
    kind: str
    namespace: str | None
    name: str
    outcome: Outcome


def path(obj: Mapping[str, Any]) -> str:
    """The REST path of ``obj`` (``/api/v1/...`` for the core group, ``/apis/<group>/<version>/...``)."""
    kind = str(obj["kind"])
    if kind not in RESOURCES:
        raise ValueError(f"{kind}: not a kind Odooplane applies")
    plural, namespaced = RESOURCES[kind]
    api_version = str(obj["apiVersion"])
    prefix = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    meta = obj["metadata"]
    if namespaced:
        if not meta.get("namespace"):
            raise ValueError(f"{kind}/{meta['name']}: a namespaced object without a namespace")
        return f"{prefix}/namespaces/{meta['namespace']}/{plural}/{meta['name']}"
    return f"{prefix}/{plural}/{meta['name']}"


class ApiServer:
    """Requests to one API server with a configured ``kubernetes.client.ApiClient``."""

    def __init__(self, api_client: Any) -> None:
        self.api = api_client

    @classmethod
    def from_kubeconfig(cls, context: str | None = None, config_file: str | None = None) -> ApiServer:
        from kubernetes import client, config

        configuration = client.Configuration()
        # The client reads $KUBECONFIG once, when it is imported: read it now, as kubectl does.
        config_file = config_file or os.environ.get("KUBECONFIG") or None
        config.load_kube_config(config_file=config_file, context=context,  # type: ignore[no-untyped-call]
                                client_configuration=configuration)
        return cls(client.ApiClient(configuration))

    def _call(self, method: str, resource: str, *, query: list[tuple[str, str]] | None = None,
              body: Any = None, content_type: str | None = None) -> tuple[int, dict[str, Any] | None]:
        status, raw = self._raw(method, resource, query=query, body=body, content_type=content_type,
                                accept="application/json")
        try:
            data = json.loads(raw) if raw else None
        except ValueError:  # a proxy's or a load balancer's page
            data = {"message": raw[:200].decode(errors="replace")}
        return status, data

    def _raw(self, method: str, resource: str, *, query: list[tuple[str, str]] | None = None, body: Any = None,
             content_type: str | None = None, accept: str = "*/*", timeout: float | None = None,
             ) -> tuple[int, bytes]:
        headers = {"Accept": accept}
        if content_type:
            headers["Content-Type"] = content_type
        serialized = self.api.param_serialize(method=method, resource_path=resource, query_params=query or [],
                                              header_params=headers, body=body, auth_settings=["BearerToken"])
        try:
            response = self.api.call_api(*serialized, _request_timeout=timeout)
        except urllib3.exceptions.HTTPError as exc:  # connection refused, TLS, timeouts (after retries)
            raise TransportError(str(exc)) from exc
        response.read()
        return int(response.status), bytes(response.data or b"")

    def get(self, obj: Mapping[str, Any]) -> dict[str, Any] | None:
        status, data = self._call("GET", path(obj))
        if status == 404:
            return None
        if status != 200:
            raise ApiError(status, _message(data))
        return data

    def list(self, api_version: str, kind: str, namespace: str, *, label_selector: str | None = None
             ) -> list[dict[str, Any]]:
        """The objects of ``kind`` in ``namespace`` (with these labels)."""
        plural, _ = RESOURCES[kind]
        prefix = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
        query = [("labelSelector", label_selector)] if label_selector else []
        status, data = self._call("GET", f"{prefix}/namespaces/{namespace}/{plural}", query=query)
        if status == 404:  # the kind is not installed (no Argo CD here)
            return []
        if status != 200:
            raise ApiError(status, _message(data))
        return list((data or {}).get("items", []))

    def create(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """POST ``obj`` to its collection (a one-off object such as a Backup: never re-applied)."""
        collection = path(obj).rsplit("/", 1)[0]
        status, data = self._call("POST", collection, query=[("fieldManager", FIELD_MANAGER)], body=dict(obj),
                                  content_type="application/json")
        if status not in (200, 201):
            raise ApiError(status, _message(data))
        return data or {}

    def merge_patch(self, obj: Mapping[str, Any], patch: Mapping[str, Any], *, manager: str) -> dict[str, Any]:
        """A JSON merge patch of ``obj`` (a restart annotation, a replica count), as ``manager``."""
        status, data = self._call("PATCH", path(obj), query=[("fieldManager", manager)], body=dict(patch),
                                  content_type="application/merge-patch+json")
        if status != 200:
            raise ApiError(status, _message(data))
        return data or {}

    def pod_log(self, namespace: str, pod: str, *, container: str, since_seconds: int | None = None,
                since_time: str | None = None, tail_lines: int | None = None) -> str:
        """A container's log lines, each prefixed with its RFC 3339 time (``timestamps=true``)."""
        query = [("container", container), ("timestamps", "true")]
        if since_seconds is not None:
            query.append(("sinceSeconds", str(max(1, since_seconds))))
        if since_time is not None:
            query.append(("sinceTime", since_time))
        if tail_lines is not None:
            query.append(("tailLines", str(tail_lines)))
        status, raw = self._raw("GET", f"/api/v1/namespaces/{namespace}/pods/{pod}/log", query=query)
        if status == 400 and b"waiting to start" in raw:  # a container not started yet: no lines
            return ""
        if status != 200:
            try:
                message = _message(json.loads(raw))
            except ValueError:
                message = raw[:200].decode(errors="replace")
            raise ApiError(status, message)
        return raw.decode(errors="replace")

    def apply(self, obj: Mapping[str, Any], *, dry_run: bool = False, manager: str = FIELD_MANAGER) -> Applied:
        """Server-side apply ``obj``; say whether it was created, changed or already so. ``manager``
        is the field manager (another one's fields are not removed by the next apply of ours)."""
        before = self.get(obj)
        query = [("fieldManager", manager), ("force", "true")]
        if dry_run:
            query.append(("dryRun", "All"))
        status, data = self._call("PATCH", path(obj), query=query, body=dict(obj),
                                  content_type="application/apply-patch+yaml")
        if status not in (200, 201):
            raise ApiError(status, _message(data))
        meta = obj["metadata"]
        outcome: Outcome = "created" if before is None else (
            "unchanged" if _same(before, data or {}, dry_run=dry_run) else "changed")
        return Applied(str(obj["kind"]), meta.get("namespace"), str(meta["name"]), outcome)


_SERVER_FIELDS = ("managedFields", "resourceVersion", "generation", "creationTimestamp", "uid")


def _same(before: dict[str, Any], after: dict[str, Any], *, dry_run: bool) -> bool:
    """Whether applying changed nothing: the resourceVersion moves only when something was stored;
    a dry run stores nothing, so its answer is compared with what was there, field by field."""
    if not dry_run:
        return bool(before.get("metadata", {}).get("resourceVersion") ==
                    after.get("metadata", {}).get("resourceVersion"))

    def content(obj: dict[str, Any]) -> dict[str, Any]:
        meta = {k: v for k, v in obj.get("metadata", {}).items() if k not in _SERVER_FIELDS}
        return {**{k: v for k, v in obj.items() if k not in ("metadata", "status")}, "metadata": meta}

    return content(before) == content(after)


def _message(data: dict[str, Any] | None) -> str:
    if isinstance(data, dict) and data.get("message"):
        return str(data["message"])
    return "no message"
