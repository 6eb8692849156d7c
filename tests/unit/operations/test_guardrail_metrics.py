"""The worker's exporter turns the guardrail findings of its sweep into series: 1 for an unwaived
violation, 0 otherwise; waived ones are counted apart; rules that were not checked are left out."""

from __future__ import annotations

import datetime as dt

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from odooplane.estate.guardrails import Finding
from odooplane.operations.health import EnvHealth, FleetHealth
from odooplane.worker.exporter import FleetCollector


def test_guardrail_series() -> None:
    env = EnvHealth("acme/prod", "acme", "prod", "production", "dedicated", "", "retail", "standard")
    fleet = FleetHealth(dt.datetime(2026, 12, 7, tzinfo=dt.UTC), [env], {"disk_free_ratio": 0.5})
    fleet.guardrails = [
        Finding("restore-proven", "high", "acme/prod", "fail", "m", "f"),
        Finding("regulated-isolated", "critical", "acme/prod", "waived", "m", "f", waiver=3),
        Finding("production-backed-up", "high", "acme/prod", "pass", "m", "f"),
        Finding("tls-valid", "medium", "acme/prod", "not-checked", "m", "f"),
        Finding("restore-proven", "high", "gone/prod", "fail", "m", "f"),  # not swept by this worker
    ]
    collector = FleetCollector()
    collector.update(fleet)
    registry = CollectorRegistry()
    registry.register(collector)
    samples = {(s.name, s.labels["environment"], s.labels["rule"], s.labels["rule_severity"]): s.value
               for family in text_string_to_metric_families(generate_latest(registry).decode())
               for s in family.samples if s.name.startswith("odooplane_guardrail")}
    assert samples == {
        ("odooplane_guardrail_violated", "prod", "restore-proven", "high"): 1.0,
        ("odooplane_guardrail_waived", "prod", "restore-proven", "high"): 0.0,
        ("odooplane_guardrail_violated", "prod", "regulated-isolated", "critical"): 0.0,
        ("odooplane_guardrail_waived", "prod", "regulated-isolated", "critical"): 1.0,
        ("odooplane_guardrail_violated", "prod", "production-backed-up", "high"): 0.0,
        ("odooplane_guardrail_waived", "prod", "production-backed-up", "high"): 0.0,
    }
