"""The rendered alerting rules and Alertmanager configuration, checked by the real tools.

``promtool test rules`` feeds series and asserts, alert by alert, what fires (with which labels
and annotations) and what stays quiet; ``amtool`` checks the configuration and its routing; a
real Alertmanager shows that a paging outage inhibits the tickets of the same environment.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from odooplane.render import alerts, dashboard
from odooplane.render.alerts import MonitoredEnv

pytestmark = pytest.mark.integration

PROMTOOL = shutil.which("promtool")
AMTOOL = shutil.which("amtool")
ALERTMANAGER = shutil.which("prometheus-alertmanager")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed (Debian package `prometheus`)")
needs_amtool = pytest.mark.skipif(
    AMTOOL is None, reason="amtool is not installed (Debian package `prometheus-alertmanager`)")
needs_alertmanager = pytest.mark.skipif(
    ALERTMANAGER is None, reason="prometheus-alertmanager is not installed (Debian package `prometheus-alertmanager`)")

ESTATE = [
    MonitoredEnv("acme", "prod", "production", "production", business_unit="retail"),
    MonitoredEnv("acme", "staging", "production", "staging", business_unit="retail"),
    MonitoredEnv("acme", "dr", "mission-critical", "dr", business_unit="retail"),
    MonitoredEnv("beta", "prod", "standard", "production", pool="shared18"),
    MonitoredEnv("beta", "dev", "standard", "development", pool="shared18"),
    # A business unit that looks like a template: it must reach the alert verbatim.
    MonitoredEnv("gamma", "prod", "pilot", "production", pool="shared18", business_unit="R&D {{ weird }}"),
]
BY_NAME = {f"{e.tenant}/{e.environment}": e for e in ESTATE}


def env_labels(name: str, **extra: str) -> dict[str, str]:
    env = BY_NAME[name]
    labels = {"tenant": env.tenant, "environment": env.environment, "pool": env.pool,
              "business_unit": env.business_unit, "tier": env.tier, "stage": env.stage, **extra}
    return {k: v for k, v in labels.items() if v}  # Prometheus has no empty label values


def series(metric: str, labels: dict[str, str], values: str) -> dict[str, str]:
    inner = ",".join(f"{k}={json.dumps(v)}" for k, v in labels.items())
    return {"series": f"{metric}{{{inner}}}", "values": values}


def fired(name: str, severity: str, summary: str, description: str, **extra: str) -> dict[str, Any]:
    return {"exp_labels": {**env_labels(name, **extra), "severity": severity},
            "exp_annotations": {"summary": summary, "description": description}}


def down(name: str, severity: str, minutes: int) -> dict[str, Any]:
    env = BY_NAME[name]
    return fired(name, severity, f"{name} is down",
                 f"{name} ({env.stage}, tier {env.tier}) has not answered /web/health with 200 through the edge "
                 f"for {minutes} minutes (odooplane_env_up = 0).")


def quiet(alertname: str, eval_time: str) -> dict[str, Any]:
    return {"eval_time": eval_time, "alertname": alertname, "exp_alerts": []}


def outages() -> dict[str, Any]:
    """Who is paged and who gets a ticket when an environment is down; who is not monitored."""
    return {
        "interval": "1m",
        "input_series": [
            series("odooplane_env_up", env_labels("acme/prod"), "0x20"),
            series("odooplane_env_up", env_labels("acme/dr"), "0x20"),
            series("odooplane_env_up", env_labels("acme/staging"), "0x20"),  # production tier, staging stage
            series("odooplane_env_up", env_labels("beta/prod"), "0x20"),  # production stage, standard tier
            series("odooplane_env_up", env_labels("beta/dev"), "1x20"),  # up: nothing
            # gamma/prod: declared in the estate, no series at all
        ],
        "alert_rule_test": [
            quiet("OdooDown", "1m"),
            {"eval_time": "2m", "alertname": "OdooDown",
             "exp_alerts": [down("acme/prod", "page", 2), down("acme/dr", "page", 2)]},
            {"eval_time": "5m", "alertname": "OdooDown",
             "exp_alerts": [down("acme/prod", "page", 2), down("acme/dr", "page", 2),
                            down("acme/staging", "ticket", 5), down("beta/prod", "ticket", 5)]},
            quiet("OdooMetricsMissing", "9m"),
            {"eval_time": "10m", "alertname": "OdooMetricsMissing", "exp_alerts": [fired(
                "gamma/prod", "ticket", "gamma/prod: no metrics",
                "Prometheus has had no odooplane_env_up series for gamma/prod for 10 minutes although the estate "
                "declares it: the exporter is down or no longer sees it, and no other alert can fire for it.")]},
        ],
    }


def backups() -> dict[str, Any]:
    """RPO: old backup → page; young backup, no objective, or a brand-new environment → nothing."""
    rpo = "3600x300"
    return {
        "interval": "1m",
        "input_series": [
            series("odooplane_backup_rpo_seconds", env_labels("acme/prod"), rpo),
            series("odooplane_backup_last_success_timestamp_seconds", env_labels("acme/prod"), "0+60x300"),  # now
            series("odooplane_backup_rpo_seconds", env_labels("beta/prod"), rpo),
            series("odooplane_backup_last_success_timestamp_seconds", env_labels("beta/prod"), "0x300"),  # at 0
            series("odooplane_backup_rpo_seconds", env_labels("gamma/prod"), rpo),  # never backed up
            series("odooplane_backup_last_success_timestamp_seconds", env_labels("beta/dev"), "0x300"),  # no RPO
        ],
        "alert_rule_test": [
            quiet("BackupOlderThanRPO", "30m"),  # beta's backup is 30 min old; gamma is within its grace
            {"eval_time": "3h", "alertname": "BackupOlderThanRPO", "exp_alerts": [
                fired("beta/prod", "page", "beta/prod: last backup older than its RPO",
                      "The last successful backup of beta/prod is 3h 0m 0s old, beyond its recovery point objective: "
                      "a failure now loses more data than agreed."),
                fired("gamma/prod", "page", "gamma/prod: last backup older than its RPO",
                      "gamma/prod has no successful backup on record, beyond its recovery point objective: "
                      "a failure now loses more data than agreed."),
            ]},
        ],
    }


def connections() -> dict[str, Any]:
    return {
        "interval": "1m",
        "input_series": [
            series("odooplane_pg_connections", env_labels("acme/prod"), "95x20"),
            series("odooplane_pg_connection_limit", env_labels("acme/prod"), "100x20"),
            series("odooplane_pg_connections", env_labels("beta/prod"), "50x20"),
            series("odooplane_pg_connection_limit", env_labels("beta/prod"), "100x20"),
            series("odooplane_pg_connections", env_labels("gamma/prod"), "0x20"),  # datconnlimit 0: no ratio
            series("odooplane_pg_connection_limit", env_labels("gamma/prod"), "0x20"),
        ],
        "alert_rule_test": [
            quiet("PostgresNearConnectionLimit", "4m"),
            {"eval_time": "5m", "alertname": "PostgresNearConnectionLimit", "exp_alerts": [fired(
                "acme/prod", "page", "acme/prod: PostgreSQL connections at 95% of the limit",
                "acme/prod uses 95% of its PostgreSQL connection limit (threshold 90%); at the limit new Odoo "
                "workers, cron threads and logins fail to connect.")]},
        ],
    }


def tickets() -> dict[str, Any]:
    """One environment breaks every ticket threshold, another stays just inside them."""
    bad, good = env_labels("acme/prod"), env_labels("beta/prod")
    return {
        "interval": "1m",
        "input_series": [
            series("odooplane_cron_lag_seconds", bad, "7200x120"),
            series("odooplane_cron_lag_seconds", good, "3000x120"),
            series("odooplane_tls_certificate_expiry_timestamp_seconds", {**bad, "hostname": "erp.acme.example"},
                   "864000x120"),  # 10 days after the start
            series("odooplane_tls_certificate_expiry_timestamp_seconds", {**good, "hostname": "beta.example"},
                   "2592000x120"),  # 30 days
            series("odooplane_restore_verification_max_age_seconds", bad, "86400x120"),
            series("odooplane_restore_verified_last_timestamp_seconds", bad, "-100000x120"),
            series("odooplane_restore_verification_max_age_seconds", good, "86400x120"),
            series("odooplane_restore_verified_last_timestamp_seconds", good, "0+60x120"),
            series("odooplane_edge_5xx_ratio", bad, "0.2x120"),
            series("odooplane_edge_5xx_ratio", good, "0.01x120"),
            series("odooplane_pg_long_running_queries", bad, "2x120"),
            series("odooplane_pg_long_running_queries", good, "0x120"),
            series("odooplane_pg_lock_waits", bad, "7x120"),
            series("odooplane_pg_lock_waits", good, "2x120"),
            series("odooplane_process_restarts_total", bad, "0+1x120"),  # a restart a minute
            series("odooplane_process_restarts_total", good, "5x120"),
            series("odooplane_pg_xid_age", bad, "1500000000x120"),
            series("odooplane_pg_xid_age", good, "200000000x120"),
        ],
        "alert_rule_test": [
            {"eval_time": "2h", "alertname": "CronLag", "exp_alerts": [fired(
                "acme/prod", "ticket", "acme/prod: scheduled actions are 2h 0m 0s late",
                "The most overdue active scheduled action (ir_cron) of acme/prod should have run 2h 0m 0s ago "
                "(threshold 1h): cron workers are stuck, disabled or overloaded.")]},
            {"eval_time": "2h", "alertname": "CertificateExpiringSoon", "exp_alerts": [fired(
                "acme/prod", "ticket", "acme/prod: TLS certificate of erp.acme.example expires soon",
                "The TLS certificate of erp.acme.example (acme/prod) expires in 9d 22h 0m 0s (threshold 14 days): "
                "its renewal is not happening.", hostname="erp.acme.example")]},
            {"eval_time": "2h", "alertname": "RestoreVerificationStale", "exp_alerts": [fired(
                "acme/prod", "ticket", "acme/prod: restore verification is stale",
                "The last verified restore of acme/prod is 1d 5h 46m 40s old, older than its verification policy "
                "allows: nobody knows whether the backups restore.")]},
            {"eval_time": "2h", "alertname": "Edge5xxHigh", "exp_alerts": [fired(
                "acme/prod", "ticket", "acme/prod: 20% of requests fail with 5xx",
                "20% of the requests to acme/prod were answered 5xx at the edge over 5 minutes, for 10 minutes "
                "(threshold 5%).")]},
            {"eval_time": "2h", "alertname": "LongRunningQueries", "exp_alerts": [fired(
                "acme/prod", "ticket", "acme/prod: 2 PostgreSQL queries running for over 5 minutes",
                "The database of acme/prod has had queries running for more than 5 minutes for 15 minutes "
                "(now 2, threshold 1); they hold locks, connections and block vacuum.")]},
            {"eval_time": "2h", "alertname": "LockWaits", "exp_alerts": [fired(
                "acme/prod", "ticket", "acme/prod: 7 PostgreSQL lock waits",
                "Sessions of the database of acme/prod have been waiting for locks for 10 minutes (now 7 waiting, "
                "threshold 5): users see hanging screens and serialization retries.")]},
            {"eval_time": "2h", "alertname": "OdooRestartingOften", "exp_alerts": [fired(
                "acme/prod", "ticket", "acme/prod: Odoo restarted 60 times in an hour",
                "The Odoo processes of acme/prod restarted 60 times in the last hour (threshold 3): a crash loop, "
                "memory limits or a failing health check.")]},
            {"eval_time": "2h", "alertname": "PostgresXidAgeHigh", "exp_alerts": [fired(
                "acme/prod", "ticket", "acme/prod: transaction ID age 1.5G",
                "The database of acme/prod has transaction IDs 1.5G old (threshold 1,000,000,000); PostgreSQL "
                "stops accepting writes near 2.1G. Autovacuum cannot freeze: look for long transactions, prepared "
                "transactions or stale replication slots.")]},
            # 'for' keeps a fresh breach quiet
            quiet("CronLag", "10m"),
            quiet("LockWaits", "5m"),
            quiet("PostgresXidAgeHigh", "30m"),
        ],
    }


def never_verified() -> dict[str, Any]:
    """A verification policy but no verified restore: a ticket once the grace (a week) is over."""
    return {
        "evaluation_interval": "1h",  # a week of data: evaluate hourly, the series are hourly
        "interval": "1h",
        "input_series": [
            series("odooplane_restore_verification_max_age_seconds", env_labels("acme/prod"), "604800x240"),
        ],
        "alert_rule_test": [
            quiet("RestoreVerificationStale", "6d"),
            {"eval_time": "8d", "alertname": "RestoreVerificationStale", "exp_alerts": [fired(
                "acme/prod", "ticket", "acme/prod: restore verification is stale",
                "No backup of acme/prod has ever been proven by a test restore, older than its verification policy "
                "allows: nobody knows whether the backups restore.")]},
        ],
    }


def business_activity() -> dict[str, Any]:
    """A drop inside business hours → ticket; outside hours, for a quiet tenant, or a mild dip → nothing."""
    so, am = {"model": "sale.order"}, {"model": "account.move"}
    return {
        "interval": "1m",
        "input_series": [
            series("odooplane_business_hours", env_labels("acme/prod"), "1x60"),
            series("odooplane_business_documents_last_hour", env_labels("acme/prod", **so), "2x60"),
            series("odooplane_business_documents_baseline", env_labels("acme/prod", **so), "100x60"),
            series("odooplane_business_documents_last_hour", env_labels("acme/prod", **am), "50x60"),  # a dip
            series("odooplane_business_documents_baseline", env_labels("acme/prod", **am), "100x60"),
            series("odooplane_business_hours", env_labels("beta/prod"), "0x60"),  # night
            series("odooplane_business_documents_last_hour", env_labels("beta/prod", **so), "0x60"),
            series("odooplane_business_documents_baseline", env_labels("beta/prod", **so), "100x60"),
            series("odooplane_business_hours", env_labels("gamma/prod"), "1x60"),
            series("odooplane_business_documents_last_hour", env_labels("gamma/prod", **so), "0x60"),
            series("odooplane_business_documents_baseline", env_labels("gamma/prod", **so), "5x60"),  # quiet
        ],
        "alert_rule_test": [
            quiet("BusinessActivityDrop", "20m"),
            {"eval_time": "40m", "alertname": "BusinessActivityDrop", "exp_alerts": [fired(
                "acme/prod", "ticket", "acme/prod: few sale.order documents this hour",
                "Only 2 sale.order documents were created in acme/prod in the last hour, under 10% of the usual for "
                "this hour of the week, inside business hours: users may be unable to work although health checks "
                "pass.", model="sale.order")]},
        ],
    }


def redis() -> dict[str, Any]:
    """Evictions → ticket at once; a Redis nearly full for 15 min → ticket; no maxmemory → nothing."""
    mib = 1024**2
    return {
        "interval": "1m",
        "input_series": [
            series("odooplane_redis_evicted_keys_total", env_labels("acme/prod"), "0x10 0+25x10"),
            series("odooplane_redis_used_memory_bytes", env_labels("acme/prod"), f"{95 * mib}x30"),
            series("odooplane_redis_maxmemory_bytes", env_labels("acme/prod"), f"{100 * mib}x30"),
            series("odooplane_redis_evicted_keys_total", env_labels("beta/prod"), "7x30"),  # old evictions only
            series("odooplane_redis_used_memory_bytes", env_labels("beta/prod"), f"{500 * mib}x30"),
            series("odooplane_redis_maxmemory_bytes", env_labels("beta/prod"), "0x30"),  # unlimited
        ],
        "alert_rule_test": [
            quiet("RedisEvicting", "10m"),
            {"eval_time": "12m", "alertname": "RedisEvicting", "exp_alerts": [fired(
                "acme/prod", "ticket", "acme/prod: its Redis evicts keys",
                "The Redis server acme/prod uses evicted 25 keys in 30 minutes: sessions or queued jobs stored "
                "there are being lost (raise maxmemory or move it).")]},
            quiet("RedisMemoryHigh", "14m"),
            {"eval_time": "15m", "alertname": "RedisMemoryHigh", "exp_alerts": [fired(
                "acme/prod", "ticket", "acme/prod: its Redis is 95% full",
                "The Redis server acme/prod uses holds 95% of its maxmemory for 15 minutes (threshold 90%); "
                "evictions come next.")]},
        ],
    }


def capacity() -> dict[str, Any]:
    mib, gib = 1024**2, 1024**3
    return {
        "evaluation_interval": "10m",
        "interval": "10m",
        "input_series": [
            {"series": 'odooplane_disk_free_ratio{mount="/srv",instance="host1"}', "values": "0.05x60"},
            {"series": 'odooplane_disk_free_ratio{mount="/",instance="host1"}', "values": "0.5x60"},
            # loses 1 % of the disk every 10 minutes
            {"series": 'odooplane_disk_free_ratio{mount="/data",instance="host1"}', "values": "0.9-0.01x60"},
            series("odooplane_pg_database_size_bytes", env_labels("acme/prod"), f"{2 * gib}+{10 * mib}x60"),
            series("odooplane_pg_database_size_bytes", env_labels("beta/prod"), f"{100 * mib}+{10 * mib}x60"),
            series("odooplane_pg_database_size_bytes", env_labels("gamma/prod"), f"{50 * gib}x60"),
        ],
        "alert_rule_test": [
            {"eval_time": "40m", "alertname": "DiskFreeLow", "exp_alerts": [{
                "exp_labels": {"mount": "/srv", "instance": "host1", "severity": "info"},
                "exp_annotations": {
                    "summary": "Disk /srv on host1: 5% free",
                    "description": "Disk /srv on host1 has 5% free (threshold 10%); databases, filestores and "
                                   "backups share it."}}]},
            {"eval_time": "2h", "alertname": "DiskFillPredicted", "exp_alerts": [{
                "exp_labels": {"mount": "/data", "instance": "host1", "severity": "info"},
                "exp_annotations": {
                    "summary": "Disk /data on host1 fills up within 7 days",
                    "description": "At the rate of the last day, disk /data on host1 runs out of space within 7 days "
                                   "(predicted free ratio -930%)."}}]},
            quiet("DatabaseGrowthFast", "5h"),
            {"eval_time": "7h", "alertname": "DatabaseGrowthFast", "exp_alerts": [fired(
                "acme/prod", "info", "acme/prod: database predicted at 44.6GiB in 30 days",
                "At the rate of the last week, the database of acme/prod grows to 44.6GiB within 30 days, over 2 "
                "times its size now: plan disk, backup windows and restore times (RTO).")]},
        ],
    }


@pytest.fixture
def rule_file(tmp_path: Path) -> Path:
    path = tmp_path / "odooplane-rules.yml"
    path.write_text(alerts.render_rules(ESTATE))
    return path


def run(*argv: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(a) for a in argv], check=False, capture_output=True, text=True, timeout=120)
    if check:
        assert done.returncode == 0, f"{argv[0]} failed:\n{done.stdout}\n{done.stderr}"
    return done


@needs_promtool
def test_rendered_rules_pass_promtool_check(rule_file: Path) -> None:
    out = run(PROMTOOL or "promtool", "check", "rules", rule_file).stdout
    assert "SUCCESS" in out


@needs_promtool
@pytest.mark.parametrize(
    "scenario", [outages, backups, connections, tickets, never_verified, business_activity, redis, capacity],
    ids=lambda f: f.__name__)
def test_alerts_fire_and_stay_quiet_as_designed(rule_file: Path, scenario: Any) -> None:
    test = scenario()
    test_file = rule_file.parent / "odooplane-rules.test.yml"
    test_file.write_text(yaml.safe_dump({"rule_files": [rule_file.name],
                                         "evaluation_interval": test.pop("evaluation_interval", "1m"),
                                         "tests": [test]}, sort_keys=False))
    run(PROMTOOL or "promtool", "test", "rules", test_file)


@needs_promtool
def test_promtool_notices_a_wrong_expectation(rule_file: Path) -> None:
    """The harness itself: a staging outage expected as a page must fail the test."""
    scenario = outages()
    scenario["alert_rule_test"] = [{"eval_time": "5m", "alertname": "OdooDown", "exp_alerts": [
        down("acme/prod", "page", 2), down("acme/dr", "page", 2),
        down("acme/staging", "page", 2), down("beta/prod", "ticket", 5)]}]
    test_file = rule_file.parent / "wrong.test.yml"
    test_file.write_text(yaml.safe_dump({"rule_files": [rule_file.name], "tests": [scenario]}))
    assert run(PROMTOOL or "promtool", "test", "rules", test_file, check=False).returncode != 0


@needs_promtool
def test_dashboard_queries_are_valid_promql(tmp_path: Path) -> None:
    """Every panel and variable query, with the variables set to "All", parses as PromQL."""
    data = dashboard.render_dashboard("Acme Group", ESTATE)
    exprs = [t["expr"] for p in data["panels"] for t in p["targets"]]
    exprs += [v["query"]["query"].removeprefix("label_values(").rsplit(",", 1)[0]
              for v in data["templating"]["list"] if v["type"] == "query"]
    rules = [{"record": f"odooplane:dashboard:q{n}",
              "expr": e.replace("$tier", ".*").replace("$business_unit", ".*").replace("$tenant", ".*")}
             for n, e in enumerate(exprs)]
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    assert "$" not in path.read_text()
    run(PROMTOOL or "promtool", "check", "rules", path)


RECEIVERS = {"page": "https://pager.example/hooks/odooplane", "ticket": "http://127.0.0.1:9/tickets", "info": None}


@pytest.fixture
def am_file(tmp_path: Path) -> Path:
    path = tmp_path / "alertmanager.yml"
    path.write_text(alerts.render_alertmanager(RECEIVERS))
    path.chmod(0o600)
    return path


@needs_amtool
def test_alertmanager_config_passes_amtool_check(am_file: Path) -> None:
    out = run(AMTOOL or "amtool", "check-config", am_file).stdout
    assert "SUCCESS" in out and "2 inhibit rules" in out


@needs_amtool
@pytest.mark.parametrize(("labels", "receiver"), [
    (["severity=page", "alertname=OdooDown", "tenant=acme", "environment=prod"], "odooplane-page"),
    (["severity=ticket", "alertname=CronLag", "tenant=acme", "environment=prod"], "odooplane-ticket"),
    (["severity=info", "alertname=DiskFreeLow", "mount=/srv"], "odooplane-info"),
    (["alertname=SomethingElse"], "odooplane-ticket"),  # no severity: not lost
])
def test_alertmanager_routes_by_severity(am_file: Path, labels: list[str], receiver: str) -> None:
    out = run(AMTOOL or "amtool", "config", "routes", "test", f"--config.file={am_file}", *labels).stdout
    assert out.split() == [receiver]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def alertmanager(am_file: Path, tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    log = (tmp_path / "alertmanager.log").open("wb")
    proc = subprocess.Popen(
        [ALERTMANAGER or "prometheus-alertmanager", f"--config.file={am_file}",
         f"--storage.path={tmp_path / 'am-data'}", f"--web.listen-address=127.0.0.1:{port}",
         "--cluster.listen-address="],
        stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"Alertmanager did not start:\n{(tmp_path / 'alertmanager.log').read_text()}")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@needs_alertmanager
def test_paging_outage_inhibits_tickets_of_the_same_environment(alertmanager: str) -> None:
    def alert(name: str, severity: str, env: str | None, **extra: str) -> dict[str, Any]:
        labels = {"alertname": name, "severity": severity, **(env_labels(env) if env else {}), **extra}
        return {"labels": labels, "annotations": {"summary": "test"}}

    sent = [
        alert("OdooDown", "page", "acme/prod"),
        alert("CronLag", "ticket", "acme/prod"),  # consequence of the outage: inhibited
        alert("CronLag", "ticket", "acme/staging"),  # another environment: not inhibited
        alert("OdooDown", "ticket", "beta/dev"),  # an outage that is only a ticket …
        alert("Edge5xxHigh", "ticket", "beta/dev"),  # … still inhibits its consequences
        alert("DatabaseGrowthFast", "info", "acme/prod"),  # info is never inhibited
    ]
    assert httpx.post(f"{alertmanager}/api/v2/alerts", json=sent, timeout=5).status_code == 200
    expected = {
        ("OdooDown", "acme/prod"): False, ("CronLag", "acme/prod"): True, ("CronLag", "acme/staging"): False,
        ("OdooDown", "beta/dev"): False, ("Edge5xxHigh", "beta/dev"): True, ("DatabaseGrowthFast", "acme/prod"): False,
    }
    got: dict[tuple[str, str], bool] = {}
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        listed = httpx.get(f"{alertmanager}/api/v2/alerts", timeout=5).json()
        got = {(a["labels"]["alertname"], f"{a['labels']['tenant']}/{a['labels']['environment']}"):
               bool(a["status"]["inhibitedBy"]) for a in listed}
        if got == expected:
            break
        time.sleep(0.2)
    assert got == expected
