"""The worker's Prometheus exporter (loopback): the latest health sweep as gauges labelled by
tenant, environment, pool, business unit, tier and stage — never a secret. The same small HTTP
server accepts Traefik's OTLP trace exports (and discards them): Traefik's tracing is what puts a
trace id in every access-log line and a ``traceparent`` header on every request to Odoo."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from odooplane.operations.health import FleetHealth

logger = logging.getLogger(__name__)
ENV_LABELS = ["tenant", "environment", "pool", "business_unit", "tier", "stage"]


class FleetCollector(Collector):
    def __init__(self) -> None:
        self.fleet: FleetHealth | None = None
        self.lock = threading.Lock()

    def update(self, fleet: FleetHealth) -> None:
        with self.lock:
            self.fleet = fleet

    def collect(self) -> Iterator[Metric]:
        with self.lock:
            fleet = self.fleet
        if fleet is None:
            return
        families: dict[str, GaugeMetricFamily] = {}

        def family(name: str, extra: list[str]) -> GaugeMetricFamily:
            key = f"odooplane_{name}"
            if key not in families:
                families[key] = GaugeMetricFamily(key, f"Odooplane probe: {name.replace('_', ' ')}",
                                                  labels=[*ENV_LABELS, *extra])
            return families[key]

        status_values = {"ok": 0, "unknown": 1, "warning": 2, "critical": 3}
        for env in fleet.environments:
            base = [env.labels()[k] for k in ENV_LABELS]
            for name, value in sorted(env.metrics.items()):
                family(name, []).add_metric(base, value)
            family("env_status", []).add_metric(base, status_values[env.status])
            for name, labels, value in env.labelled:
                keys = sorted(labels)
                family(name, keys).add_metric([*base, *(labels[k] for k in keys)], value)
        yield from families.values()
        yield from _guardrails(fleet)
        disk = GaugeMetricFamily("odooplane_disk_free_ratio", "Free share of the data directory's disk",
                                 labels=["mount"])
        disk.add_metric(["data"], fleet.host["disk_free_ratio"])
        yield disk
        sweep = GaugeMetricFamily("odooplane_health_sweep_seconds", "Duration of the last health sweep")
        sweep.add_metric([], fleet.sweep_s)
        yield sweep
        stamp = GaugeMetricFamily("odooplane_health_sweep_timestamp_seconds", "When the last sweep ran")
        stamp.add_metric([], fleet.at.timestamp())
        yield stamp


def serve(collector: FleetCollector, *, port: int, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """Serve /metrics (and the OTLP sink) in a background thread; return the server."""
    registry = CollectorRegistry()
    registry.register(collector)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] != "/metrics":
                self.send_error(404)
                return
            body = generate_latest(registry)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            if self.path != "/v1/traces":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="exporter", daemon=True).start()
    return server


def _guardrails(fleet: FleetHealth) -> Iterator[Metric]:
    """One series per finding of a rule that applies: 1 where it is violated and no waiver covers it."""
    envs = {e.target: [e.labels()[k] for k in ENV_LABELS] for e in fleet.environments}
    violated = GaugeMetricFamily("odooplane_guardrail_violated", "A guardrail is violated, unwaived (1) or not (0)",
                                 labels=[*ENV_LABELS, "rule", "rule_severity"])
    waived = GaugeMetricFamily("odooplane_guardrail_waived", "A guardrail violation is covered by a waiver",
                               labels=[*ENV_LABELS, "rule", "rule_severity"])
    for f in fleet.guardrails:
        base = envs.get(f.target)
        if base is None or f.status == "not-checked":
            continue
        violated.add_metric([*base, f.rule, f.severity], 1.0 if f.violated else 0.0)
        waived.add_metric([*base, f.rule, f.severity], 1.0 if f.status == "waived" else 0.0)
    yield violated
    yield waived
