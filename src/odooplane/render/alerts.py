"""Render the Prometheus alerting rules and the Alertmanager configuration (pure functions).

Three severities, one rule group each: ``page`` wakes somebody up (an outage or a broken
objective of a production environment), ``ticket`` is work for office hours, ``info`` is a
capacity trend sent as a daily digest. The rules read the metrics of Odooplane's exporter
(documented in docs/alerts.md); every per-environment series carries the labels ``tenant``,
``environment``, ``pool``, ``business_unit``, ``tier`` and ``stage``, so the alerts carry them too
and tiering is decided by label matchers, not by one rule per environment. The environments of
the estate are only needed to notice the ones the exporter stopped reporting: an absent series
fires nothing, which is the silent failure worst suited to a monitoring system.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

import yaml

from odooplane.errors import ExitCode, OdooplaneError

# The estate's vocabulary, repeated here because renderers and the estate are independent layers
# (import-linter); a unit test keeps both in step with odooplane.estate.models.
Tier = Literal["pilot", "standard", "production", "mission-critical"]
Stage = Literal["production", "staging", "development", "training", "dr"]
_NAME_RE = re.compile(r"^[a-z](?:[a-z0-9]|-(?=[a-z0-9]))*$")  # the estate's tenant/environment names

SEVERITIES = ("page", "ticket", "info")
ENV_LABELS = ("tenant", "environment", "pool", "business_unit", "tier", "stage")
# OdooDown pages only for environments users depend on now; everything else is a ticket.
PAGE_TIERS = ("production", "mission-critical")
PAGE_STAGES = ("production", "dr")
RECEIVER_PREFIX = "odooplane-"


class AlertInputInvalid(OdooplaneError):
    """The environments, thresholds or receivers given to a renderer are unusable."""

    exit_code = ExitCode.INVALID


@dataclass(frozen=True)
class MonitoredEnv:
    """One environment of the estate, with the label values its metrics carry."""

    tenant: str
    environment: str
    tier: Tier
    stage: Stage
    pool: str = ""  # "" when dedicated
    business_unit: str = ""


@dataclass(frozen=True)
class AlertSettings:
    """Thresholds; the defaults suit a typical Odoo fleet (docs/alerts.md says why)."""

    connection_ratio: float = 0.9
    cron_lag_seconds: int = 3600
    certificate_days: int = 14
    edge_5xx_ratio: float = 0.05
    disk_free_ratio: float = 0.1
    activity_drop_ratio: float = 0.1
    # A quiet tenant creating 3 orders an hour is not "dropping" when it creates none.
    activity_min_baseline: float = 20.0
    long_running_queries: int = 1
    lock_waits: int = 5
    restarts_per_hour: int = 3
    redis_memory_ratio: float = 0.9
    xid_age: int = 1_000_000_000  # PostgreSQL refuses writes at about 2.1e9
    disk_fill_days: int = 7
    database_growth_factor: float = 2.0
    database_growth_days: int = 30
    database_growth_min_bytes: int = 1024**3
    # How long an environment with an objective may exist without any backup / verified restore.
    first_backup_grace_seconds: int = 3600
    first_verification_grace_seconds: int = 7 * 86400
    runbook_url: str | None = None  # e.g. https://wiki.example/odooplane/alerts (anchor = alert name)


def check_settings(settings: AlertSettings) -> None:
    """Raise AlertInputInvalid naming every unusable threshold of ``settings``."""
    problems: list[str] = []
    for name in ("connection_ratio", "edge_5xx_ratio", "disk_free_ratio", "activity_drop_ratio", "redis_memory_ratio"):
        value = getattr(settings, name)
        if not (isinstance(value, int | float) and 0 < value <= 1):
            problems.append(f"{name} must be a ratio in (0, 1] (got {value!r})")
    for name in ("cron_lag_seconds", "certificate_days", "long_running_queries", "lock_waits", "restarts_per_hour",
                 "xid_age", "disk_fill_days", "database_growth_days", "first_backup_grace_seconds",
                 "first_verification_grace_seconds"):
        value = getattr(settings, name)
        if not (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
            problems.append(f"{name} must be a whole number ≥ 1 (got {value!r})")
    for name in ("activity_min_baseline", "database_growth_min_bytes"):
        value = getattr(settings, name)
        if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
            problems.append(f"{name} must be a number ≥ 0 (got {value!r})")
    if not (isinstance(settings.database_growth_factor, int | float) and settings.database_growth_factor > 1):
        problems.append(f"database_growth_factor must be > 1 (got {settings.database_growth_factor!r})")
    if settings.runbook_url is not None and not _is_http_url(settings.runbook_url):
        problems.append("runbook_url must be an http(s) URL without credentials")
    if problems:
        raise AlertInputInvalid("alert settings: " + "; ".join(problems))


def check_envs(envs: Iterable[MonitoredEnv]) -> list[MonitoredEnv]:
    """Return ``envs`` sorted by tenant/environment; raise AlertInputInvalid naming every bad one."""
    problems: list[str] = []
    seen: set[tuple[str, str]] = set()
    tiers, stages = get_args(Tier), get_args(Stage)
    result = sorted(envs, key=lambda e: (e.tenant, e.environment))
    for env in result:
        bad = [f"{what} {value!r} is not a lowercase DNS label"
               for what, value in (("tenant", env.tenant), ("environment", env.environment))
               if not (isinstance(value, str) and _NAME_RE.match(value))]
        if bad:
            problems.extend(bad)
            continue
        where = f"{env.tenant}/{env.environment}"
        if (env.tenant, env.environment) in seen:
            problems.append(f"{where}: listed twice")
        seen.add((env.tenant, env.environment))
        if env.tier not in tiers:
            problems.append(f"{where}: tier {env.tier!r} is not one of {', '.join(tiers)}")
        if env.stage not in stages:
            problems.append(f"{where}: stage {env.stage!r} is not one of {', '.join(stages)}")
        for field in ("pool", "business_unit"):
            value = getattr(env, field)
            if not isinstance(value, str) or any(ord(ch) < 32 for ch in value):
                problems.append(f"{where}: {field} must be text without control characters")
    if problems:
        raise AlertInputInvalid("monitored environments: " + "; ".join(problems))
    return result


# -- rules ---------------------------------------------------------------------------------------

WHO = "{{ $labels.tenant }}/{{ $labels.environment }}"
PAGE_SELECTOR = f'tier=~"{"|".join(PAGE_TIERS)}",stage=~"{"|".join(PAGE_STAGES)}"'


def render_rules(envs: Iterable[MonitoredEnv], settings: AlertSettings | None = None) -> str:
    """Given the estate's environments and thresholds, return a Prometheus rule file (YAML).

    Groups ``odooplane-page``, ``odooplane-ticket`` and ``odooplane-info``; every alert has a
    ``severity`` label, the environment labels (host-level disk alerts: ``mount`` instead) and
    ``summary``/``description`` annotations. Raise AlertInputInvalid on unusable input.
    """
    settings = settings or AlertSettings()
    check_settings(settings)
    checked = check_envs(envs)
    page = _page_rules(settings)
    ticket = _ticket_rules(settings) + [_metrics_missing(env) for env in checked]
    info = _info_rules(settings)
    if settings.runbook_url:
        for rules in (page, ticket, info):
            for rule in rules:
                rule["annotations"]["runbook_url"] = f"{settings.runbook_url}#{rule['alert'].lower()}"
    return _dump({"groups": [{"name": "odooplane-page", "rules": page}, {"name": "odooplane-ticket", "rules": ticket},
                             {"name": "odooplane-info", "rules": info}]})


def _alert(name: str, expr: str, *, for_: int, severity: str, summary: str, description: str,
           labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    rule: dict[str, Any] = {"alert": name, "expr": expr, "for": _duration(for_)}
    rule["labels"] = {"severity": severity, **(labels or {})}
    rule["annotations"] = {"summary": summary, "description": description}
    return rule


def _page_rules(s: AlertSettings) -> list[dict[str, Any]]:
    return [
        _alert(
            "OdooDown", f"odooplane_env_up{{{PAGE_SELECTOR}}} == 0", for_=120, severity="page",
            summary=f"{WHO} is down",
            description=f"{WHO} ({{{{ $labels.stage }}}}, tier {{{{ $labels.tier }}}}) has not answered /web/health "
                        "with 200 through the edge for 2 minutes (odooplane_env_up = {{ $value }}).",
        ),
        _alert(
            "BackupOlderThanRPO",
            # The second branch: an objective but no backup on record at all (value -1), once the
            # objective has existed for the grace period, so a brand-new environment is not paged.
            "(time() - odooplane_backup_last_success_timestamp_seconds) > odooplane_backup_rpo_seconds\n"
            "or\n"
            "(\n"
            "  (odooplane_backup_rpo_seconds * 0 - 1)\n"
            "    unless odooplane_backup_last_success_timestamp_seconds\n"
            f") and (odooplane_backup_rpo_seconds offset {_duration(s.first_backup_grace_seconds)})",
            for_=300, severity="page",
            summary=f"{WHO}: last backup older than its RPO",
            description=f"{{{{ if lt $value 0.0 }}}}{WHO} has no successful backup on record"
                        f"{{{{ else }}}}The last successful backup of {WHO} is {{{{ $value | humanizeDuration }}}} old"
                        "{{ end }}, beyond its recovery point objective: a failure now loses more data than agreed.",
        ),
        _alert(
            "PostgresNearConnectionLimit",
            f"odooplane_pg_connections / (odooplane_pg_connection_limit > 0) > {_num(s.connection_ratio)}",
            for_=300, severity="page",
            summary=f"{WHO}: PostgreSQL connections at {{{{ $value | humanizePercentage }}}} of the limit",
            description=f"{WHO} uses {{{{ $value | humanizePercentage }}}} of its PostgreSQL connection limit "
                        f"(threshold {_pct(s.connection_ratio)}); at the limit new Odoo workers, cron threads and "
                        "logins fail to connect.",
        ),
    ]


def _ticket_rules(s: AlertSettings) -> list[dict[str, Any]]:
    return [
        _alert(
            "OdooDown", f"(odooplane_env_up == 0) unless odooplane_env_up{{{PAGE_SELECTOR}}}", for_=300,
            severity="ticket",
            summary=f"{WHO} is down",
            description=f"{WHO} ({{{{ $labels.stage }}}}, tier {{{{ $labels.tier }}}}) has not answered /web/health "
                        "with 200 through the edge for 5 minutes (odooplane_env_up = {{ $value }}).",
        ),
        _alert(
            "CronLag", f"odooplane_cron_lag_seconds > {s.cron_lag_seconds}", for_=900, severity="ticket",
            summary=f"{WHO}: scheduled actions are {{{{ $value | humanizeDuration }}}} late",
            description=f"The most overdue active scheduled action (ir_cron) of {WHO} should have run "
                        f"{{{{ $value | humanizeDuration }}}} ago (threshold {_duration(s.cron_lag_seconds)}): "
                        "cron workers are stuck, disabled or overloaded.",
        ),
        _alert(
            "CertificateExpiringSoon",
            f"odooplane_tls_certificate_expiry_timestamp_seconds - time() < {s.certificate_days * 86400}",
            for_=900, severity="ticket",
            summary=f"{WHO}: TLS certificate of {{{{ $labels.hostname }}}} expires soon",
            description=f"The TLS certificate of {{{{ $labels.hostname }}}} ({WHO}) "
                        "{{ if le $value 0.0 }}has expired"
                        "{{ else }}expires in {{ $value | humanizeDuration }}{{ end }} "
                        f"(threshold {s.certificate_days} days): its renewal is not happening.",
        ),
        _alert(
            "RestoreVerificationStale",
            "(time() - odooplane_restore_verified_last_timestamp_seconds)\n"
            "  > odooplane_restore_verification_max_age_seconds\n"
            "or\n"
            "(\n"
            "  (odooplane_restore_verification_max_age_seconds * 0 - 1)\n"
            "    unless odooplane_restore_verified_last_timestamp_seconds\n"
            f") and (odooplane_restore_verification_max_age_seconds offset "
            f"{_duration(s.first_verification_grace_seconds)})",
            for_=1800, severity="ticket",
            summary=f"{WHO}: restore verification is stale",
            description=f"{{{{ if lt $value 0.0 }}}}No backup of {WHO} has ever been proven by a test restore"
                        f"{{{{ else }}}}The last verified restore of {WHO} is {{{{ $value | humanizeDuration }}}} old"
                        "{{ end }}, older than its verification policy allows: nobody knows whether the backups "
                        "restore.",
        ),
        _alert(
            "GuardrailViolated", 'odooplane_guardrail_violated{rule_severity=~"critical|high"} == 1', for_=900,
            severity="ticket",
            summary=f"{WHO} breaks guardrail {{{{ $labels.rule }}}}",
            description=f"{WHO} violates the {{{{ $labels.rule_severity }}}} guardrail {{{{ $labels.rule }}}} and no "
                        "approved waiver covers it (odooplane_guardrail_violated = {{ $value }}; odooplane policy "
                        "check says what it asks and how to fix it).",
        ),
        _alert(
            "Edge5xxHigh", f"odooplane_edge_5xx_ratio > {_num(s.edge_5xx_ratio)}", for_=600, severity="ticket",
            summary=f"{WHO}: {{{{ $value | humanizePercentage }}}} of requests fail with 5xx",
            description=f"{{{{ $value | humanizePercentage }}}} of the requests to {WHO} were answered 5xx at the "
                        f"edge over 5 minutes, for 10 minutes (threshold {_pct(s.edge_5xx_ratio)}).",
        ),
        _alert(
            "BusinessActivityDrop",
            "odooplane_business_documents_last_hour\n"
            f"  < {_num(s.activity_drop_ratio)} * odooplane_business_documents_baseline\n"
            f"and odooplane_business_documents_baseline >= {_num(s.activity_min_baseline)}\n"
            "and on (tenant, environment) (odooplane_business_hours == 1)",
            for_=1800, severity="ticket",
            summary=f"{WHO}: few {{{{ $labels.model }}}} documents this hour",
            description=f"Only {{{{ $value }}}} {{{{ $labels.model }}}} documents were created in {WHO} in the last "
                        f"hour, under {_pct(s.activity_drop_ratio)} of the usual for this hour of the week, inside "
                        "business hours: users may be unable to work although health checks pass.",
        ),
        _alert(
            "LongRunningQueries", f"odooplane_pg_long_running_queries >= {s.long_running_queries}", for_=900,
            severity="ticket",
            summary=f"{WHO}: {{{{ $value }}}} PostgreSQL queries running for over 5 minutes",
            description=f"The database of {WHO} has had queries running for more than 5 minutes for 15 minutes "
                        f"(now {{{{ $value }}}}, threshold {s.long_running_queries}); they hold locks, connections "
                        "and block vacuum.",
        ),
        _alert(
            "LockWaits", f"odooplane_pg_lock_waits >= {s.lock_waits}", for_=600, severity="ticket",
            summary=f"{WHO}: {{{{ $value }}}} PostgreSQL lock waits",
            description=f"Sessions of the database of {WHO} have been waiting for locks for 10 minutes "
                        f"(now {{{{ $value }}}} waiting, threshold {s.lock_waits}): users see hanging screens and "
                        "serialization retries.",
        ),
        _alert(
            "OdooRestartingOften",
            f"increase(odooplane_process_restarts_total[1h]) >= {s.restarts_per_hour}", for_=300, severity="ticket",
            summary=f"{WHO}: Odoo restarted {{{{ $value | humanize }}}} times in an hour",
            description=f"The Odoo processes of {WHO} restarted {{{{ $value | humanize }}}} times in the last hour "
                        f"(threshold {s.restarts_per_hour}): a crash loop, memory limits or a failing health check.",
        ),
        _alert(
            "RedisEvicting", "increase(odooplane_redis_evicted_keys_total[30m]) > 0", for_=0, severity="ticket",
            summary=f"{WHO}: its Redis evicts keys",
            description=f"The Redis server {WHO} uses evicted {{{{ $value | humanize }}}} keys in 30 minutes: "
                        "sessions or queued jobs stored there are being lost (raise maxmemory or move it).",
        ),
        _alert(
            "RedisMemoryHigh",
            f"odooplane_redis_used_memory_bytes / (odooplane_redis_maxmemory_bytes > 0) > {_num(s.redis_memory_ratio)}",
            for_=900, severity="ticket",
            summary=f"{WHO}: its Redis is {{{{ $value | humanizePercentage }}}} full",
            description=f"The Redis server {WHO} uses holds {{{{ $value | humanizePercentage }}}} of its maxmemory "
                        f"for 15 minutes (threshold {_pct(s.redis_memory_ratio)}); evictions come next.",
        ),
        _alert(
            "PostgresXidAgeHigh", f"odooplane_pg_xid_age > {s.xid_age}", for_=3600, severity="ticket",
            summary=f"{WHO}: transaction ID age {{{{ $value | humanize }}}}",
            description=f"The database of {WHO} has transaction IDs {{{{ $value | humanize }}}} old "
                        f"(threshold {s.xid_age:,}); PostgreSQL stops accepting writes near 2.1G. Autovacuum "
                        "cannot freeze: look for long transactions, prepared transactions or stale replication slots.",
        ),
    ]


def _metrics_missing(env: MonitoredEnv) -> dict[str, Any]:
    # absent() keeps only the equality matchers' labels; the rest come from the estate.
    selector = f"tenant={_promql_string(env.tenant)},environment={_promql_string(env.environment)}"
    labels = {"tenant": env.tenant, "environment": env.environment, "pool": _template_literal(env.pool),
              "business_unit": _template_literal(env.business_unit), "tier": env.tier, "stage": env.stage}
    # Prometheus drops empty label values (pool of a dedicated environment): so do we, for clarity.
    labels = {key: value for key, value in labels.items() if value}
    return _alert(
        "OdooMetricsMissing",
        # A sleeping environment (its schedule's) exports odooplane_env_asleep instead of odooplane_env_up.
        f"absent(odooplane_env_up{{{selector}}}) unless on(tenant, environment) "
        f"odooplane_env_asleep{{{selector}}} == 1", for_=600, severity="ticket",
        labels=labels,
        summary=f"{WHO}: no metrics",
        description=f"Prometheus has had no odooplane_env_up series for {WHO} for 10 minutes although the estate "
                    "declares it: the exporter is down or no longer sees it, and no other alert can fire for it.",
    )


def _info_rules(s: AlertSettings) -> list[dict[str, Any]]:
    where = "{{ $labels.mount }}{{ with $labels.instance }} on {{ . }}{{ end }}"
    growth_days = s.database_growth_days
    return [
        _alert(
            "DiskFreeLow", f"odooplane_disk_free_ratio < {_num(s.disk_free_ratio)}", for_=1800, severity="info",
            summary=f"Disk {where}: {{{{ $value | humanizePercentage }}}} free",
            description=f"Disk {where} has {{{{ $value | humanizePercentage }}}} free "
                        f"(threshold {_pct(s.disk_free_ratio)}); databases, filestores and backups share it.",
        ),
        _alert(
            "DiskFillPredicted",
            f"predict_linear(odooplane_disk_free_ratio[1d], {s.disk_fill_days * 86400}) < 0", for_=3600,
            severity="info",
            summary=f"Disk {where} fills up within {s.disk_fill_days} days",
            description=f"At the rate of the last day, disk {where} runs out of space within {s.disk_fill_days} days "
                        "(predicted free ratio {{ $value | humanizePercentage }}).",
        ),
        _alert(
            "DatabaseGrowthFast",
            f"predict_linear(odooplane_pg_database_size_bytes[7d], {growth_days * 86400})\n"
            f"  > {_num(s.database_growth_factor)} * odooplane_pg_database_size_bytes\n"
            f"and odooplane_pg_database_size_bytes > {s.database_growth_min_bytes}",
            for_=6 * 3600, severity="info",
            summary=f"{WHO}: database predicted at {{{{ $value | humanize1024 }}}}B in {growth_days} days",
            description=f"At the rate of the last week, the database of {WHO} grows to "
                        f"{{{{ $value | humanize1024 }}}}B within {growth_days} days, "
                        f"over {_num(s.database_growth_factor)} times its size now: "
                        "plan disk, backup windows and restore times (RTO).",
        ),
    ]


# -- alertmanager ----------------------------------------------------------------------------------

def render_alertmanager(receivers: Mapping[str, str | None]) -> str:
    """Given a webhook URL (or None) per severity, return an Alertmanager configuration (YAML).

    ``page`` is sent fast and repeated hourly; ``ticket`` is grouped by tenant and repeated daily;
    ``info`` is one daily digest. A severity without a URL (or missing from ``receivers``) goes to
    a receiver that notifies nobody: its alerts are still visible in Alertmanager. A paging
    OdooDown silences the ticket alerts of the same environment (they are its consequences).
    The URLs are written as given: the file is Alertmanager's own, write it mode 0600.
    Raise AlertInputInvalid for an unknown severity or an unusable URL (never echoing the URL).
    """
    problems = [f"receivers: unknown severity {key!r} (one of {', '.join(SEVERITIES)})"
                for key in receivers if key not in SEVERITIES]
    for severity in SEVERITIES:
        url = receivers.get(severity)
        if url is not None and not _is_http_url(url):
            problems.append(f"receivers[{severity!r}]: the webhook URL must be http(s)://host/… without "
                            "user:password@ or whitespace")
    if problems:
        raise AlertInputInvalid("; ".join(problems))

    def receiver(severity: str) -> dict[str, Any]:
        entry: dict[str, Any] = {"name": RECEIVER_PREFIX + severity}
        url = receivers.get(severity)
        if url is not None:
            # max_alerts 0: no limit; a digest must list every alert.
            entry["webhook_configs"] = [{"url": url, "send_resolved": severity != "info", "max_alerts": 0}]
        return entry

    def route(severity: str, *, group_by: list[str], wait: str, interval: str, repeat: str) -> dict[str, Any]:
        return {"receiver": RECEIVER_PREFIX + severity, "matchers": [f'severity="{severity}"'],
                "group_by": group_by, "group_wait": wait, "group_interval": interval, "repeat_interval": repeat}

    config = {
        "global": {"resolve_timeout": "5m"},
        "route": {
            # An alert without a known severity (another rule file) is not dropped: it becomes a ticket.
            "receiver": RECEIVER_PREFIX + "ticket",
            "group_by": ["tenant", "alertname"],
            "group_wait": "5m", "group_interval": "30m", "repeat_interval": "24h",
            "routes": [
                route("page", group_by=["alertname", "tenant", "environment"], wait="10s", interval="1m",
                      repeat="1h"),
                route("ticket", group_by=["tenant"], wait="5m", interval="30m", repeat="24h"),
                route("info", group_by=["severity"], wait="1h", interval="24h", repeat="24h"),
            ],
        },
        "inhibit_rules": [
            {"source_matchers": ['alertname="OdooDown"', 'severity="page"'],
             "target_matchers": ['severity="ticket"'],
             "equal": ["tenant", "environment"]},
            # The same for an environment whose outage is itself only a ticket.
            {"source_matchers": ['alertname="OdooDown"', 'severity="ticket"'],
             "target_matchers": ['severity="ticket"', 'alertname!="OdooDown"'],
             "equal": ["tenant", "environment"]},
        ],
        "receivers": [receiver(severity) for severity in SEVERITIES],
    }
    return _dump(config)


# -- helpers ---------------------------------------------------------------------------------------

def _is_http_url(url: str) -> bool:
    if not isinstance(url, str) or any(ch.isspace() for ch in url):
        return False
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError on a bad port)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and "@" not in parts.netloc


def _duration(seconds: int) -> str:
    """Return a Prometheus duration: 120 → '2m', 86400 → '1d'."""
    if seconds == 0:
        return "0s"
    for unit, size in (("w", 7 * 86400), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _num(value: float) -> str:
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


def _pct(ratio: float) -> str:
    return f"{ratio * 100:g}%"


def _promql_string(value: str) -> str:
    # JSON string escapes are a subset of PromQL's (Go) escapes.
    return json.dumps(value, ensure_ascii=False)


def _template_literal(value: str) -> str:
    # Rule label values are Go templates: a literal '{{' must not start an action.
    return value.replace("{{", '{{ "{{" }}')


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str_representer(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str_representer)


def _dump(config: Mapping[str, Any] | Sequence[Any]) -> str:
    header = "# Rendered by Odooplane: edits are overwritten by the next apply.\n"
    return header + yaml.dump(config, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True,
                              width=120)
