"""A recording HTTP server on loopback that answers the official ``kubernetes`` client the way an
API server does for what Odooplane sends: objects stored by path (server-side apply PATCH, POST to
a collection), a resourceVersion that moves only when an object changes, ``dryRun=All`` storing
nothing, lists of a collection with a label selector, and pod logs (``timestamps``, ``tailLines``,
``sinceTime``). Every request is recorded. No Kubernetes API server can run on these machines;
what the tests assert is what the client sends and what the verbs make of the answers."""

from __future__ import annotations

import copy
import datetime as dt
import json
import shutil
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s_client

from odooplane.drivers.registry import ApiServer

REFERENCE = Path(__file__).parents[2] / "examples" / "kubernetes" / "estate.yaml"
PLURALS = {"pods", "backups", "applications", "deployments", "clusters", "objectstores", "secrets", "jobs"}


class Recorder:
    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}
        self.requests: list[dict[str, Any]] = []
        self.logs: dict[str, list[str]] = {}  # "<namespace>/<pod>/<container>" -> timestamped lines
        self.on_get: Callable[[str, dict[str, Any]], None] | None = None  # a controller's work on a read
        self.foreign: dict[str, dict[str, Any]] = {}  # path -> fields other field managers set (merge patches)
        self.version = 0
        self.lock = threading.Lock()

    def add_pod(self, namespace: str, name: str, labels: dict[str, str], *, containers: tuple[str, ...] = ("odoo",),
                ready: bool = True) -> None:
        self.objects[f"/api/v1/namespaces/{namespace}/pods/{name}"] = {
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {"containers": [{"name": c} for c in containers]},
            "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}

    def log(self, namespace: str, pod: str, container: str, at: dt.datetime, line: str) -> None:
        stamp = at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"
        self.logs.setdefault(f"{namespace}/{pod}/{container}", []).append(f"{stamp} {line}")


def _matches(labels: dict[str, str], selector: str) -> bool:
    for term in filter(None, selector.split(",")):
        key, _, value = term.partition("=")
        if labels.get(key) != value:
            return False
    return True


def _merge(target: dict[str, Any], patch: dict[str, Any]) -> None:
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def _fill(target: dict[str, Any], other: dict[str, Any]) -> None:
    for key, value in other.items():
        if key not in target:
            target[key] = value
        elif isinstance(value, dict) and isinstance(target[key], dict):
            _fill(target[key], value)


def _handler(recorder: Recorder) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, body: dict[str, Any] | str) -> None:
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain" if isinstance(body, str) else "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _record(self, method: str, **extra: Any) -> tuple[urllib.parse.SplitResult, dict[str, str]]:
            url = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(url.query))
            recorder.requests.append({"method": method, "path": url.path, "query": query,
                                      "authorization": self.headers.get("Authorization"), **extra})
            return url, query

        def do_GET(self) -> None:
            with recorder.lock:
                url, query = self._record("GET")
                parts = url.path.split("/")
                if parts[-1] == "log" and parts[-3] == "pods":  # .../namespaces/<ns>/pods/<pod>/log
                    lines = recorder.logs.get(f"{parts[-4]}/{parts[-2]}/{query.get('container', '')}", [])
                    if "sinceTime" in query:
                        lines = [ln for ln in lines if ln[:19] >= query["sinceTime"][:19]]
                    if "tailLines" in query:
                        lines = lines[-int(query["tailLines"]):] if int(query["tailLines"]) else []
                    self._send(200, "".join(f"{ln}\n" for ln in lines))
                    return
                if url.path not in recorder.objects and parts[-1] in PLURALS:  # a list
                    items = [o for p, o in sorted(recorder.objects.items()) if p.rsplit("/", 1)[0] == url.path
                             and _matches(o["metadata"].get("labels", {}), query.get("labelSelector", ""))]
                    self._send(200, {"kind": "List", "items": items})
                    return
                found = recorder.objects.get(url.path)
                if found is not None and recorder.on_get is not None:
                    recorder.on_get(url.path, found)
            if found is None:
                self._send(404, {"kind": "Status", "message": "not found", "code": 404})
            else:
                self._send(200, found)

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with recorder.lock:
                url, _ = self._record("POST", body=body, content_type=self.headers["Content-Type"])
                target = f"{url.path}/{body['metadata']['name']}"
                if target in recorder.objects:
                    self._send(409, {"kind": "Status", "message": "already exists", "code": 409})
                    return
                recorder.version += 1
                stored = copy.deepcopy(body)
                stored["metadata"]["resourceVersion"] = str(recorder.version)
                recorder.objects[target] = stored
            self._send(201, stored)

        def do_PATCH(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with recorder.lock:
                url, query = self._record("PATCH", body=body, content_type=self.headers["Content-Type"])
                before = recorder.objects.get(url.path)
                if self.headers["Content-Type"] == "application/merge-patch+json":  # RFC 7386
                    if before is None:
                        self._send(404, {"kind": "Status", "message": "not found", "code": 404})
                        return
                    _merge(before, body)
                    _merge(recorder.foreign.setdefault(url.path, {}), body)
                    recorder.version += 1
                    before["metadata"]["resourceVersion"] = str(recorder.version)
                    self._send(200, before)
                    return
                stored = copy.deepcopy(body)
                # Server-side apply (forced): the applied fields are the applier's; the fields another
                # manager set (its merge patches) that the applied object does not set stay.
                _fill(stored, copy.deepcopy(recorder.foreign.get(url.path, {})))
                old_version = before["metadata"]["resourceVersion"] if before else None
                same = before is not None and {**before, "metadata": {
                    k: v for k, v in before["metadata"].items() if k != "resourceVersion"}} == {
                    **stored, "metadata": {k: v for k, v in stored["metadata"].items() if k != "resourceVersion"}}
                if same:
                    stored["metadata"]["resourceVersion"] = old_version
                else:
                    recorder.version += 1
                    stored["metadata"]["resourceVersion"] = old_version if query.get("dryRun") else str(
                        recorder.version)
                if not query.get("dryRun"):
                    recorder.objects[url.path] = stored
            self._send(201 if before is None else 200, stored)

    return Handler


@pytest.fixture
def recorder() -> Iterator[tuple[Recorder, str]]:
    rec = Recorder()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(rec))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield rec, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def api(url: str) -> ApiServer:
    configuration = k8s_client.Configuration(host=url)
    configuration.api_key = {"BearerToken": "test-token"}
    configuration.api_key_prefix = {"BearerToken": "Bearer"}
    return ApiServer(k8s_client.ApiClient(configuration))


@pytest.fixture
def estate(tmp_path: Path) -> Path:
    target = tmp_path / "estate" / "estate.yaml"
    target.parent.mkdir()
    shutil.copy(REFERENCE, target)
    return target


def kubeconfig(tmp_path: Path, url: str, token: str) -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "test",
        "clusters": [{"name": "test", "cluster": {"server": url}}],
        "users": [{"name": "test", "user": {"token": token}}],
        "contexts": [{"name": "test", "context": {"cluster": "test", "user": "test"}}]}))
    return path


def add_secrets(rec: Recorder, missing: list[str]) -> None:
    for ref in missing:
        ns, name = ref.split("/")
        rec.objects[f"/api/v1/namespaces/{ns}/secrets/{name}"] = {"apiVersion": "v1", "kind": "Secret",
                                                                  "metadata": {"name": name, "namespace": ns,
                                                                               "resourceVersion": "0"}}
