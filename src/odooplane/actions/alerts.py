"""``alerts render``: the monitoring configuration of an estate — Prometheus rules tiered by
severity, the Alertmanager routing, a scrape configuration and a Grafana dashboard — written to
a directory and optionally checked with promtool and amtool."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from odooplane.actions import estate_file
from odooplane.errors import OdooplaneError, UsageError
from odooplane.estate import durations
from odooplane.estate.validate import ValidEstate
from odooplane.files import atomic_write
from odooplane.render import alerts, dashboard, prometheus

FILES = ("rules.yml", "alertmanager.yml", "prometheus.yml", "dashboard.json")


class CheckFailed(OdooplaneError):
    """promtool or amtool refused a rendered file."""


@dataclass(frozen=True)
class Rendered:
    directory: Path
    files: dict[str, Path]
    environments: int
    checked: list[str]


def monitored(valid: ValidEstate) -> list[alerts.MonitoredEnv]:
    return [alerts.MonitoredEnv(tenant=e.ref.tenant, environment=e.ref.env, tier=e.labels.tier, stage=e.stage,
                                pool=e.pool or "", business_unit=e.labels.business_unit or "")
            for e in valid.environments]


def settings(valid: ValidEstate) -> alerts.AlertSettings:
    t = valid.estate.monitoring.thresholds
    return alerts.AlertSettings(
        connection_ratio=t.connection_ratio, cron_lag_seconds=int(durations.parse(t.cron_lag).total_seconds()),
        certificate_days=t.certificate_days, edge_5xx_ratio=t.edge_5xx_ratio, disk_free_ratio=t.disk_free_ratio,
        activity_drop_ratio=t.activity_drop_ratio, activity_min_baseline=t.activity_min_baseline,
        runbook_url=t.runbook_url)


def render(valid: ValidEstate) -> dict[str, str]:
    """The four files' text by name."""
    envs = monitored(valid)
    platform = valid.estate.platform
    receivers = valid.estate.monitoring.receivers
    return {
        "rules.yml": alerts.render_rules(envs, settings(valid)),
        "alertmanager.yml": alerts.render_alertmanager(
            {"page": receivers.page, "ticket": receivers.ticket, "info": receivers.info}),
        "prometheus.yml": prometheus.render_prometheus(prometheus.ScrapeInputs(
            fleet=platform.name, exporter=f"127.0.0.1:{platform.metrics_port}",
            edge_api=f"127.0.0.1:{platform.edge.api_port}", rule_file="rules.yml")),
        "dashboard.json": json.dumps(dashboard.render_dashboard(platform.name, envs), indent=2) + "\n",
    }


def check(directory: Path) -> list[str]:
    """Run promtool (config and rules) and amtool on the rendered files; return what ran."""
    ran = []
    for tool, argv, package in (
        ("promtool", ["check", "config", str(directory / "prometheus.yml")], "prometheus"),
        ("amtool", ["check-config", str(directory / "alertmanager.yml")], "prometheus-alertmanager"),
    ):
        binary = shutil.which(tool)
        if binary is None:
            raise UsageError(f"--check needs {tool} (Debian package {package})")
        done = subprocess.run([binary, *argv], capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0:
            raise CheckFailed(f"{tool} {argv[0]} refused the rendered files:\n{(done.stdout + done.stderr).strip()}")
        ran.append(f"{tool} {' '.join(argv[:2]) if tool == 'promtool' else argv[0]}")
    return ran


def run(path: Path | None, *, output: Path | None = None, run_checks: bool = False) -> Rendered:
    valid = estate_file.load(path)
    texts = render(valid)
    directory = output or valid.data_dir / "monitoring"
    directory.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, text in texts.items():
        # Alertmanager's file holds the receivers' webhook URLs (tokens, often): owner only.
        atomic_write(directory / name, text, mode=0o600 if name == "alertmanager.yml" else 0o644)
        files[name] = directory / name
    checked = check(directory) if run_checks else []
    return Rendered(directory, files, len(valid.environments), checked)
