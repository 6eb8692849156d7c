"""Alerting rules, Alertmanager configuration and the Grafana dashboard: golden files pin the
text; the other tests state the rules the text must keep (promtool runs in tests/integration).
Regenerate with UPDATE_GOLDEN=1 after an intended change, and read the diff."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, get_args

import pytest
import yaml

from odooplane.estate import models
from odooplane.render import alerts, dashboard
from odooplane.render.alerts import AlertInputInvalid, AlertSettings, MonitoredEnv

GOLDEN = Path(__file__).parent / "golden"

ENVS = [
    MonitoredEnv("acme", "prod", "mission-critical", "production", business_unit="retail"),
    MonitoredEnv("acme", "staging", "mission-critical", "staging", business_unit="retail"),
    MonitoredEnv("beta", "prod", "standard", "production", pool="shared18"),
]
RECEIVERS = {"page": "https://pager.example/hooks/odooplane", "ticket": "https://tickets.example/hook", "info": None}


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text)
    assert path.read_text() == text, f"{name} differs from its golden file (UPDATE_GOLDEN=1 to accept)"


def rules_by_group(text: str) -> dict[str, list[dict[str, Any]]]:
    return {group["name"]: group["rules"] for group in yaml.safe_load(text)["groups"]}


# -- rules ---------------------------------------------------------------------------------------

def test_rules_golden() -> None:
    check_golden("alerts-rules.yml", alerts.render_rules(ENVS))


def test_rules_are_grouped_by_severity_with_the_documented_alerts() -> None:
    groups = rules_by_group(alerts.render_rules(ENVS))
    assert list(groups) == ["odooplane-page", "odooplane-ticket", "odooplane-info"]
    names = {group: {rule["alert"] for rule in rules} for group, rules in groups.items()}
    assert names["odooplane-page"] == {"OdooDown", "BackupOlderThanRPO", "PostgresNearConnectionLimit"}
    assert names["odooplane-ticket"] == {
        "OdooDown", "CronLag", "CertificateExpiringSoon", "RestoreVerificationStale", "GuardrailViolated",
        "Edge5xxHigh",
        "BusinessActivityDrop", "LongRunningQueries", "LockWaits", "OdooRestartingOften", "PostgresXidAgeHigh",
        "OdooMetricsMissing", "RedisEvicting", "RedisMemoryHigh"}
    assert names["odooplane-info"] == {"DiskFreeLow", "DiskFillPredicted", "DatabaseGrowthFast"}
    for group, rules in groups.items():
        for rule in rules:
            assert rule["labels"]["severity"] == group.removeprefix("odooplane-"), rule["alert"]
            assert rule["for"], rule["alert"]
            assert set(rule["annotations"]) == {"summary", "description"}, rule["alert"]
            text = rule["annotations"]["summary"] + rule["annotations"]["description"]
            if rule["alert"].startswith("Disk"):  # host-level: no environment
                assert "{{ $labels.mount }}" in text
            else:
                assert "{{ $labels.tenant }}/{{ $labels.environment }}" in text, rule["alert"]
            assert "$value" in text or rule["alert"] == "OdooMetricsMissing", rule["alert"]


def test_odoo_down_pages_only_production_stages_of_production_tiers() -> None:
    groups = rules_by_group(alerts.render_rules(ENVS))
    page = next(r for r in groups["odooplane-page"] if r["alert"] == "OdooDown")
    ticket = next(r for r in groups["odooplane-ticket"] if r["alert"] == "OdooDown")
    selector = 'tier=~"production|mission-critical",stage=~"production|dr"'
    assert page["expr"] == f"odooplane_env_up{{{selector}}} == 0" and page["for"] == "2m"
    assert ticket["expr"] == f"(odooplane_env_up == 0) unless odooplane_env_up{{{selector}}}"


def test_thresholds_come_from_settings() -> None:
    settings = AlertSettings(connection_ratio=0.8, cron_lag_seconds=1800, certificate_days=30, edge_5xx_ratio=0.1,
                             disk_free_ratio=0.2, activity_drop_ratio=0.25, activity_min_baseline=50)
    rules = {(r["alert"], r["labels"]["severity"]): r
             for rs in rules_by_group(alerts.render_rules([], settings)).values() for r in rs}
    assert rules["PostgresNearConnectionLimit", "page"]["expr"].endswith("> 0.8")
    assert "threshold 80%" in rules["PostgresNearConnectionLimit", "page"]["annotations"]["description"]
    assert rules["CronLag", "ticket"]["expr"] == "odooplane_cron_lag_seconds > 1800"
    assert "(threshold 30m)" in rules["CronLag", "ticket"]["annotations"]["description"]
    assert rules["CertificateExpiringSoon", "ticket"]["expr"].endswith(f"< {30 * 86400}")
    assert rules["Edge5xxHigh", "ticket"]["expr"] == "odooplane_edge_5xx_ratio > 0.1"
    assert rules["DiskFreeLow", "info"]["expr"] == "odooplane_disk_free_ratio < 0.2"
    activity = rules["BusinessActivityDrop", "ticket"]["expr"]
    assert "< 0.25 * odooplane_business_documents_baseline" in activity
    assert "odooplane_business_documents_baseline >= 50" in activity


def test_every_declared_environment_gets_a_metrics_missing_rule_with_its_labels() -> None:
    ticket = rules_by_group(alerts.render_rules(ENVS))["odooplane-ticket"]
    missing = [r for r in ticket if r["alert"] == "OdooMetricsMissing"]
    # A sleeping environment (odooplane_env_asleep == 1) exports no env_up on purpose: not missing.
    assert [r["expr"] for r in missing] == [
        f'absent(odooplane_env_up{{{sel}}}) unless on(tenant, environment) odooplane_env_asleep{{{sel}}} == 1'
        for sel in ('tenant="acme",environment="prod"', 'tenant="acme",environment="staging"',
                    'tenant="beta",environment="prod"')
    ]
    assert missing[2]["labels"] == {"severity": "ticket", "tenant": "beta", "environment": "prod",
                                    "pool": "shared18", "tier": "standard", "stage": "production"}


def test_label_values_cannot_inject_templates() -> None:
    env = MonitoredEnv("acme", "prod", "standard", "production", business_unit="R&D {{ .Secret }}")
    rule = rules_by_group(alerts.render_rules([env]))["odooplane-ticket"][-1]
    assert rule["labels"]["business_unit"] == 'R&D {{ "{{" }} .Secret }}'


def test_runbook_url_is_added_to_every_alert() -> None:
    text = alerts.render_rules([], AlertSettings(runbook_url="https://wiki.example/odooplane/alerts"))
    for rules in rules_by_group(text).values():
        for rule in rules:
            assert rule["annotations"]["runbook_url"] == f"https://wiki.example/odooplane/alerts#{rule['alert'].lower()}"


def test_unusable_settings_are_all_reported() -> None:
    with pytest.raises(AlertInputInvalid) as err:
        alerts.render_rules([], AlertSettings(connection_ratio=1.5, cron_lag_seconds=0, database_growth_factor=1))
    message = str(err.value)
    assert "connection_ratio" in message and "cron_lag_seconds" in message and "database_growth_factor" in message


@pytest.mark.parametrize(("env", "expected"), [
    (MonitoredEnv("Acme", "prod", "standard", "production"), "tenant 'Acme' is not a lowercase DNS label"),
    (MonitoredEnv("acme", "prod", "gold", "production"), "tier 'gold' is not one of"),  # type: ignore[arg-type]
    (MonitoredEnv("acme", "prod", "standard", "qa"), "stage 'qa' is not one of"),  # type: ignore[arg-type]
    (MonitoredEnv("acme", "prod", "standard", "production", pool="a\nb"), "pool must be text without control"),
])
def test_unusable_environments_are_refused(env: MonitoredEnv, expected: str) -> None:
    with pytest.raises(AlertInputInvalid, match=expected):
        alerts.render_rules([env])


def test_an_environment_listed_twice_is_refused() -> None:
    with pytest.raises(AlertInputInvalid, match="acme/prod: listed twice"):
        alerts.render_rules([ENVS[0], ENVS[0]])


def test_tiers_and_stages_match_the_estate_schema() -> None:
    assert get_args(alerts.Tier) == get_args(models.Tier)
    assert get_args(alerts.Stage) == get_args(models.Stage)


# -- alertmanager --------------------------------------------------------------------------------

def test_alertmanager_golden() -> None:
    check_golden("alertmanager.yml", alerts.render_alertmanager(RECEIVERS))


def test_alertmanager_routes_pages_fast_tickets_by_tenant_and_info_daily() -> None:
    config = yaml.safe_load(alerts.render_alertmanager(RECEIVERS))
    routes = {route["matchers"][0]: route for route in config["route"]["routes"]}
    page, ticket, info = routes['severity="page"'], routes['severity="ticket"'], routes['severity="info"']
    assert (page["group_wait"], page["repeat_interval"]) == ("10s", "1h")
    assert ticket["group_by"] == ["tenant"] and ticket["repeat_interval"] == "24h"
    assert info["group_interval"] == "24h" and info["repeat_interval"] == "24h"
    receivers = {r["name"]: r for r in config["receivers"]}
    assert receivers["odooplane-info"] == {"name": "odooplane-info"}  # None: notifies nobody
    assert receivers["odooplane-page"]["webhook_configs"][0]["url"] == RECEIVERS["page"]
    inhibit = config["inhibit_rules"][0]
    assert inhibit == {"source_matchers": ['alertname="OdooDown"', 'severity="page"'],
                       "target_matchers": ['severity="ticket"'], "equal": ["tenant", "environment"]}


def test_missing_severities_notify_nobody() -> None:
    config = yaml.safe_load(alerts.render_alertmanager({}))
    assert all(set(r) == {"name"} for r in config["receivers"])


def test_unknown_severity_is_refused() -> None:
    with pytest.raises(AlertInputInvalid, match="unknown severity 'critical'"):
        alerts.render_alertmanager({"critical": "https://x.example/"})


@pytest.mark.parametrize("url", ["https://user:s3cr3t@hooks.example/x", "ftp://hooks.example/x", "not a url",
                                 "https:///nohost", "https://hooks.example:99999/x"])
def test_unusable_webhook_urls_are_refused_without_echoing_them(url: str) -> None:
    with pytest.raises(AlertInputInvalid) as err:
        alerts.render_alertmanager({"page": url})
    assert "receivers['page']" in str(err.value)
    assert url not in str(err.value) and "s3cr3t" not in str(err.value)


# -- dashboard -----------------------------------------------------------------------------------

def test_dashboard_golden() -> None:
    data = dashboard.render_dashboard("Acme Group", ENVS)
    check_golden("dashboard.json", json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def test_dashboard_is_structurally_valid() -> None:
    data = json.loads(json.dumps(dashboard.render_dashboard("Acme Group", ENVS)))
    assert data["title"] == "Odooplane — Acme Group" and data["schemaVersion"] >= 36
    assert len(data["uid"]) <= 40
    ids = [panel["id"] for panel in data["panels"]]
    assert len(ids) == len(set(ids)) and all(isinstance(i, int) for i in ids)
    for panel in data["panels"]:
        grid = panel["gridPos"]
        assert set(grid) == {"x", "y", "w", "h"} and grid["x"] + grid["w"] <= 24, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["expr"] and target["refId"], panel["title"]
    variables = {v["name"]: v for v in data["templating"]["list"]}
    assert {"datasource", "tenant", "business_unit", "tier"} <= set(variables)
    assert variables["tenant"]["allValue"] == ".*"  # "All" also matches an empty business unit


def test_dashboard_panels_cover_the_fleet_overview_and_follow_the_filters() -> None:
    panels = dashboard.render_dashboard("Acme Group", ENVS)["panels"]
    exprs = " ".join(t["expr"] for p in panels for t in p["targets"])
    for metric in ("odooplane_env_up", "odooplane_env_http_latency_seconds",
                   "odooplane_backup_last_success_timestamp_seconds", "odooplane_cron_lag_seconds",
                   "odooplane_pg_connections", "odooplane_edge_5xx_ratio"):
        assert metric in exprs
    filtered = [t["expr"] for p in panels if p["title"] != "Not reporting" for t in p["targets"]]
    assert all('tenant=~"$tenant"' in expr for expr in filtered)
    not_reporting = next(p for p in panels if p["title"] == "Not reporting")
    assert not_reporting["targets"][0]["expr"].startswith("3 - ")


def test_dashboard_uid_is_stable_and_distinct_per_fleet() -> None:
    uid = dashboard.render_dashboard("Acme Group", [])["uid"]
    assert uid == dashboard.render_dashboard("Acme Group", ENVS)["uid"]
    assert uid != dashboard.render_dashboard("Acme group!", [])["uid"]
    assert len(dashboard.render_dashboard("x" * 200, [])["uid"]) <= 40


@pytest.mark.parametrize("name", ["", "   ", "two\nlines"])
def test_dashboard_refuses_unusable_fleet_names(name: str) -> None:
    with pytest.raises(AlertInputInvalid):
        dashboard.render_dashboard(name, ENVS)
