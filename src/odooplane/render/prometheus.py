"""Render the Prometheus server configuration that scrapes an estate (pure function): the
worker's exporter (every probe, per environment) and Traefik's own metrics, with the generated
rule file and the Alertmanager it sends to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml


@dataclass(frozen=True)
class ScrapeInputs:
    fleet: str  # the estate's platform name, the 'fleet' label of every series
    exporter: str  # host:port of the worker's /metrics
    edge_api: str  # host:port of Traefik's metrics entry point
    rule_file: str
    alertmanager: str = "127.0.0.1:9093"
    interval_s: int = 30


def render_prometheus(inputs: ScrapeInputs) -> str:
    """Return prometheus.yml: two jobs, the rules, the Alertmanager."""
    config: dict[str, Any] = {
        "global": {"scrape_interval": f"{inputs.interval_s}s", "evaluation_interval": f"{inputs.interval_s}s",
                   "external_labels": {"fleet": inputs.fleet}},
        "rule_files": [inputs.rule_file],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [inputs.alertmanager]}]}]},
        "scrape_configs": [
            {"job_name": "odooplane", "static_configs": [{"targets": [inputs.exporter]}]},
            {"job_name": "odooplane-edge", "static_configs": [{"targets": [inputs.edge_api]}]},
        ],
    }
    return "# Rendered by Odooplane (odooplane alerts render).\n" + yaml.safe_dump(config, sort_keys=False)
