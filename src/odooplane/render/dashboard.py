"""Render the Grafana dashboard of a fleet (a pure function: data in, JSON-ready dict out).

One dashboard for the whole estate: stats on top (environments up, down, not reporting, firing
pages and tickets), then one time series per concern (latency, backup age, cron lag, connection
use, 5xx ratio). Template variables ``tier``, ``business_unit`` and ``tenant`` narrow every panel;
they are queried from the exporter's series so they follow what runs, each one filtered by the
variables before it. The estate's environments give the "declared" count the exporter's coverage
is compared with.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from typing import Any

from odooplane.render.alerts import AlertInputInvalid, MonitoredEnv, check_envs

SCHEMA_VERSION = 39
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
# ".*" (not Grafana's default list of values) so that "All" also matches an empty business unit.
SELECTOR = 'tier=~"$tier",business_unit=~"$business_unit",tenant=~"$tenant"'
BY_ENV = "{{tenant}}/{{environment}}"


def render_dashboard(fleet_name: str, envs: Iterable[MonitoredEnv]) -> dict[str, Any]:
    """Given the fleet's name and its environments, return a Grafana dashboard (JSON model).

    The uid is derived from the fleet name, so re-importing replaces the same dashboard.
    Raise AlertInputInvalid for an empty or multi-line fleet name or unusable environments.
    """
    if not isinstance(fleet_name, str) or not fleet_name.strip() or any(ord(ch) < 32 for ch in fleet_name):
        raise AlertInputInvalid("dashboard: the fleet name must be a non-empty single line")
    declared = len(check_envs(envs))
    panels = _panels(declared)
    for number, panel in enumerate(panels, start=1):
        panel["id"] = number
    return {
        "id": None,
        "uid": _uid(fleet_name),
        "title": f"Odooplane — {fleet_name}",
        "description": f"Fleet overview of {fleet_name}: {declared} environments declared in the estate.",
        "tags": ["odooplane"],
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,  # shared crosshair: an incident lines up across panels
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "refresh": "1m",
        "time": {"from": "now-24h", "to": "now"},
        "timepicker": {},
        "annotations": {"list": [{
            "builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"}, "enable": True, "hide": True,
            "iconColor": "rgba(0, 211, 255, 1)", "name": "Annotations & Alerts", "type": "dashboard",
        }]},
        "links": [],
        "templating": {"list": [
            {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
             "current": {}, "hide": 0, "refresh": 1, "regex": "", "options": []},
            _variable("tier", "Tier", "odooplane_env_up"),
            _variable("business_unit", "Business unit", 'odooplane_env_up{tier=~"$tier"}'),
            _variable("tenant", "Tenant", 'odooplane_env_up{tier=~"$tier",business_unit=~"$business_unit"}'),
        ]},
        "panels": panels,
    }


def _uid(fleet_name: str) -> str:
    # Grafana uids are at most 40 characters: 10 + 21 + 1 + 8. The digest keeps two fleets whose
    # names only differ in punctuation or past the slug's end apart.
    slug = re.sub(r"[^a-z0-9]+", "-", fleet_name.lower())[:21].strip("-") or "fleet"
    digest = hashlib.sha256(fleet_name.encode()).hexdigest()[:8]
    return f"odooplane-{slug}-{digest}"


def _variable(name: str, label: str, series: str) -> dict[str, Any]:
    query = f"label_values({series}, {name})"
    return {
        "name": name, "label": label, "type": "query", "datasource": DATASOURCE,
        "query": {"query": query, "refId": f"{name}-values"}, "definition": query,
        "multi": True, "includeAll": True, "allValue": ".*",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "refresh": 2, "sort": 1, "hide": 0, "regex": "", "options": [],
    }


def _target(expr: str, legend: str = BY_ENV, ref: str = "A", *, instant: bool = False) -> dict[str, Any]:
    target: dict[str, Any] = {"refId": ref, "datasource": DATASOURCE, "expr": expr, "legendFormat": legend}
    if instant:
        target["instant"] = True
        target["range"] = False
    return target


def _steps(*steps: tuple[float | None, str]) -> dict[str, Any]:
    return {"mode": "absolute", "steps": [{"color": color, "value": value} for value, color in steps]}


def _stat(title: str, targets: list[dict[str, Any]], grid: tuple[int, int, int, int], *,
          thresholds: dict[str, Any], description: str, mappings: list[dict[str, Any]] | None = None,
          text_mode: str = "value") -> dict[str, Any]:
    return {
        "type": "stat", "title": title, "description": description, "datasource": DATASOURCE,
        "gridPos": _grid(grid), "targets": targets,
        "fieldConfig": {"defaults": {"thresholds": thresholds, "mappings": mappings or [], "unit": "none",
                                     "color": {"mode": "thresholds"}},
                        "overrides": []},
        "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                    "colorMode": "background", "graphMode": "none", "justifyMode": "auto",
                    "orientation": "auto", "textMode": text_mode},
    }


def _series(title: str, expr: str, grid: tuple[int, int, int, int], *, unit: str, description: str,
            thresholds: dict[str, Any], legend: str = BY_ENV) -> dict[str, Any]:
    return {
        "type": "timeseries", "title": title, "description": description, "datasource": DATASOURCE,
        "gridPos": _grid(grid), "targets": [_target(expr, legend)],
        "fieldConfig": {"defaults": {"unit": unit, "thresholds": thresholds, "color": {"mode": "palette-classic"},
                                     "custom": {"thresholdsStyle": {"mode": "dashed"}, "spanNulls": False}},
                        "overrides": []},
        "options": {"legend": {"displayMode": "table", "placement": "right", "calcs": ["lastNotNull", "max"],
                               "sortBy": "Max", "sortDesc": True},
                    "tooltip": {"mode": "multi", "sort": "desc"}},
    }


def _grid(grid: tuple[int, int, int, int]) -> dict[str, int]:
    x, y, w, h = grid
    return {"x": x, "y": y, "w": w, "h": h}


def _panels(declared: int) -> list[dict[str, Any]]:
    green, red = "green", "red"
    alerts = 'ALERTS{{alertstate="firing",severity="{severity}",{selector}}}'
    return [
        _stat("Up", [_target(f"sum(odooplane_env_up{{{SELECTOR}}}) or vector(0)", "up", instant=True)],
              (0, 0, 4, 4), thresholds=_steps((None, green)),
              description="Environments answering /web/health through the edge."),
        _stat("Down", [_target(f"count(odooplane_env_up{{{SELECTOR}}} == 0) or vector(0)", "down", instant=True)],
              (4, 0, 4, 4), thresholds=_steps((None, green), (1, red)),
              description="Environments not answering /web/health through the edge."),
        _stat("Not reporting", [_target(f"{declared} - (count(odooplane_env_up) or vector(0))", "missing",
                                        instant=True)],
              (8, 0, 4, 4), thresholds=_steps((None, green), (1, "orange")),
              description=f"Environments declared in the estate ({declared}) without metrics (whole fleet, "
                          "ignores the filters)."),
        _stat("Pages firing", [_target(f"count({alerts.format(severity='page', selector=SELECTOR)}) or vector(0)",
                                       "pages", instant=True)],
              (12, 0, 6, 4), thresholds=_steps((None, green), (1, red)),
              description="Alerts of severity page firing now (Prometheus ALERTS series)."),
        _stat("Tickets firing",
              [_target(f"count({alerts.format(severity='ticket', selector=SELECTOR)}) or vector(0)", "tickets",
                       instant=True)],
              (18, 0, 6, 4), thresholds=_steps((None, green), (1, "orange")),
              description="Alerts of severity ticket firing now."),
        _stat("Environments", [_target(f"odooplane_env_up{{{SELECTOR}}}", BY_ENV, instant=True)],
              (0, 4, 24, 6), thresholds=_steps((None, red), (1, green)), text_mode="value_and_name",
              mappings=[{"type": "value", "options": {"0": {"text": "DOWN", "index": 0},
                                                      "1": {"text": "UP", "index": 1}}}],
              description="Each environment's health through the edge."),
        _series("Login latency (edge)",
                f'odooplane_env_http_latency_seconds{{{SELECTOR},path="/web/login",via="edge"}}',
                (0, 10, 12, 8), unit="s", thresholds=_steps((None, green), (2, red)),
                description="Time to answer /web/login through the edge (what users wait for)."),
        _series("Backup age", f"time() - odooplane_backup_last_success_timestamp_seconds{{{SELECTOR}}}",
                (12, 10, 12, 8), unit="s", thresholds=_steps((None, green), (86400, red)),
                description="Time since each environment's last successful backup (alert: older than its RPO)."),
        _series("Cron lag", f"odooplane_cron_lag_seconds{{{SELECTOR}}}", (0, 18, 12, 8), unit="s",
                thresholds=_steps((None, green), (3600, red)),
                description="How late the most overdue active scheduled action (ir_cron) is."),
        _series("PostgreSQL connections used",
                f"odooplane_pg_connections{{{SELECTOR}}} / (odooplane_pg_connection_limit{{{SELECTOR}}} > 0)",
                (12, 18, 12, 8), unit="percentunit", thresholds=_steps((None, green), (0.9, red)),
                description="Connections in use over the database's limit (or the cluster's max_connections)."),
        _series("Edge 5xx ratio", f"odooplane_edge_5xx_ratio{{{SELECTOR}}}", (0, 26, 24, 8), unit="percentunit",
                thresholds=_steps((None, green), (0.05, red)),
                description="Share of requests answered 5xx at the edge over 5 minutes."),
    ]
