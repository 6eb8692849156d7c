"""Fleet health end to end: a real estate (PostgreSQL, Traefik with TLS, supervisord, the worker's
exporter, a throwaway Redis) is made sick on purpose — a blocked cron, lock waits, a business
that stops selling, a stale backup, certificates about to expire, Redis evictions, a stopped
Odoo — and each failure must show up three times: as a failing check of ``odooplane health``,
as a metric of the worker's exporter, and as an alert that promtool fires from those metrics."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis

from tests.support import alerting
from tests.support.estate import TestEstate, make_estate, unique
from tests.support.redis_server import throwaway_redis
from tests.support.services import free_port

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(alerting.PROMTOOL is None, reason="promtool is not installed (Debian prometheus)")]


def db_url(database: str) -> str:
    return os.environ["ODOOPLANE_TEST_PG"].rsplit("/", 1)[0] + f"/{database}"


def certificate(directory: Path, name: str, hostname: str, days: float) -> tuple[str, str]:
    """A self-signed certificate for ``hostname`` valid for ``days`` from now; (cert, key) paths."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path.name, key_path.name


def poll(what: str, probe: Callable[[], Any], *, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


@pytest.fixture
def sick(tmp_path: Path) -> Iterator[dict[str, Any]]:
    t = unique("h")
    main_host, other_host = f"{t}-prod.localhost", f"erp.{t}.example"
    with throwaway_redis(maxmemory="2mb", policy="allkeys-lru") as redis_port:
        estate = make_estate(tmp_path, {t: {
            "labels": {"tier": "production"},
            "business_hours": {"timezone": "UTC", "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                               "start": "00:00", "end": "23:59"},
            "redis": "cache",
            "environments": {"prod": {"hostnames": [main_host, other_host],
                                      "objectives": {"rpo": "2h", "rto": "1h"}}}}})
        good = certificate(tmp_path, "good", main_host, 90)
        expiring = certificate(tmp_path, "expiring", other_host, 5)
        estate.data["platform"]["edge"]["tls"] = {"https_port": free_port(), "certificates": [
            {"cert_file": good[0], "key_file": good[1]}, {"cert_file": expiring[0], "key_file": expiring[1]}]}
        estate.data["platform"]["health_interval_s"] = 5
        estate.data["monitoring"] = {"redis": {"cache": {"host": "127.0.0.1", "port": redis_port}}}
        estate.write()
        try:
            estate.cli("apply", str(estate.path), "-q")
            yield {"estate": estate, "tenant": t, "redis_port": redis_port, "hosts": (main_host, other_host)}
        finally:
            estate.cli("down", "-f", str(estate.path), "--purge", "--yes", check=False)


def health(estate: TestEstate, *, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    proc = estate.cli("health", "-f", str(estate.path), "--json", check=False, extra_env=env)
    assert proc.returncode in (0, 5, 6), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def checks(report: dict[str, Any], target: str) -> dict[str, list[dict[str, Any]]]:
    env = next(e for e in report["environments"] if e["target"] == target)
    out: dict[str, list[dict[str, Any]]] = {}
    for check in env["checks"]:
        out.setdefault(check["name"], []).append(check)
    return out


def test_induced_failures_fire_check_metric_and_alert(sick: dict[str, Any], tmp_path: Path) -> None:
    estate: TestEstate = sick["estate"]
    t: str = sick["tenant"]
    target, database = f"{t}/prod", f"{t}_prod"
    main_host, other_host = sick["hosts"]
    metrics_port = int(estate.data["platform"]["metrics_port"])

    # -- healthy baseline: up, routed, PostgreSQL fine, crons on time, certificates as issued ------
    estate.cli("backup", "run", target, "-f", str(estate.path), "--json")
    code, report = health(estate)
    found = checks(report, target)
    assert found["http"][0]["status"] == "ok" and found["route"][0]["status"] == "ok"
    assert found["pg_connections"][0]["status"] == "ok" and found["cron"][0]["status"] == "ok"
    assert found["backup"][0]["status"] == "ok" and found["redis"][0]["status"] == "ok"
    tls = {c["detail"].split(":")[0]: c for c in found["tls"]}
    assert tls[main_host]["status"] == "ok" and tls[other_host]["status"] == "warning"  # 5 days left
    assert 4 <= tls[other_host]["value"] <= 5
    rules = tmp_path / "monitoring"
    estate.cli("alerts", "render", "-f", str(estate.path), "-o", str(rules), "--check")
    baseline = poll("the exporter's first sweep", lambda: alerting.scrape(metrics_port) if alerting.value(
        alerting.scrape(metrics_port), "odooplane_env_up", tenant=t) == 1 else None)
    fired = alerting.firing(rules / "rules.yml", baseline)
    # Backed up but never proven to restore: the restore-proven guardrail (high) is broken, and says so.
    assert {a for a in fired if a[1] == t} == {("CertificateExpiringSoon", t, "prod"),
                                               ("GuardrailViolated", t, "prod")}, fired
    assert alerting.value(baseline, "odooplane_guardrail_violated", tenant=t, rule="restore-proven") == 1
    assert alerting.value(baseline, "odooplane_guardrail_violated", tenant=t, rule="production-backed-up") == 0

    # -- make it sick ------------------------------------------------------------------------------
    holder = psycopg.connect(db_url(database))  # holds a cron's row lock, as a stuck worker does
    waiters: list[threading.Thread] = []
    try:
        with psycopg.connect(db_url(database), autocommit=True) as conn:
            cron_id = conn.execute("SELECT min(id) FROM ir_cron WHERE active").fetchone()[0]  # type: ignore[index]
            conn.execute("UPDATE ir_cron SET nextcall = (now() AT TIME ZONE 'UTC') - interval '3 hours' "
                         "WHERE id = %s", (cron_id,))
            # A business that sells ~30 orders at this hour every week, and none this hour.
            conn.execute("CREATE TABLE IF NOT EXISTS sale_order (id serial PRIMARY KEY, create_date timestamp)")
            conn.execute("INSERT INTO sale_order (create_date) SELECT (now() AT TIME ZONE 'UTC') - "
                         "make_interval(weeks => w) - make_interval(mins => 20 + n) "
                         "FROM generate_series(1, 4) w, generate_series(1, 30) n")
        holder.execute("SELECT id FROM ir_cron WHERE id = %s FOR UPDATE", (cron_id,))

        def wait_for_lock() -> None:
            with psycopg.connect(db_url(database), autocommit=True) as conn:
                conn.execute("UPDATE ir_cron SET priority = priority WHERE id = %s", (cron_id,))

        for _ in range(5):
            waiters.append(threading.Thread(target=wait_for_lock, daemon=True))
            waiters[-1].start()
        # Redis under memory pressure evicts (maxmemory 2 MB, allkeys-lru).
        client = redis.Redis(host="127.0.0.1", port=sick["redis_port"])
        health(estate)  # a sweep that remembers the eviction counter before the pressure
        for i in range(200):
            client.set(f"session:{i}", os.urandom(32 * 1024))
        assert int(client.info("stats")["evicted_keys"]) > 0

        def lock_waits_seen() -> dict[str, Any] | None:
            _, rep = health(estate)
            return rep if "pg_lock_waits" in checks(rep, target) else None

        report = poll("5 lock waits", lock_waits_seen, timeout=60)
        found = checks(report, target)
        assert found["pg_lock_waits"][0]["value"] >= 5
        assert found["cron"][0]["status"] == "warning" and found["cron"][0]["value"] >= 3 * 3600 - 60
        activity = found["business_activity"][0]
        assert activity["status"] == "warning" and activity["value"] == 0 and "sale.order" in activity["detail"]
        assert found["redis_evictions"][0]["value"] > 0

        # The same metrics, three hours later: the newest backup is then older than its 2 h RPO.
        later = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
        code, report = health(estate, env={"ODOOPLANE_FAKE_NOW": later})
        assert code == 6 and report["status"] == "critical"
        assert checks(report, target)["backup"][0]["status"] == "critical"

        # The worker's exporter shows every one of them.
        def sick_metrics() -> list[alerting.Sample] | None:
            samples = alerting.scrape(metrics_port)
            ok = (alerting.value(samples, "odooplane_pg_lock_waits", tenant=t) or 0) >= 5 and \
                (alerting.value(samples, "odooplane_cron_lag_seconds", tenant=t) or 0) > 3600 and \
                alerting.value(samples, "odooplane_business_documents_last_hour", tenant=t,
                               model="sale.order") == 0 and \
                (alerting.value(samples, "odooplane_redis_evicted_keys_total", tenant=t) or 0) > 0
            return samples if ok else None

        samples = poll("the exporter to show the failures", sick_metrics)
        assert alerting.value(samples, "odooplane_business_documents_baseline", tenant=t, model="sale.order") == 30
        expiry = alerting.value(samples, "odooplane_tls_certificate_expiry_timestamp_seconds", tenant=t,
                                hostname=other_host)
        assert expiry is not None and 4 * 86400 < expiry - time.time() < 5 * 86400
        labels = {s.name: s.labels for s in samples if s.labels.get("tenant") == t}
        assert all("password" not in json.dumps(v).lower() for v in labels.values())

        fired = {a for a in alerting.firing(rules / "rules.yml", samples, later_s=3 * 3600) if a[1] == t}
        assert {("CronLag", t, "prod"), ("LockWaits", t, "prod"), ("BusinessActivityDrop", t, "prod"),
                ("BackupOlderThanRPO", t, "prod"), ("CertificateExpiringSoon", t, "prod")} <= fired, fired
    finally:
        holder.rollback()
        holder.close()
        for waiter in waiters:
            waiter.join(timeout=30)

    # -- stop the tenant's Odoo: down through the edge, critical, paged ------------------------------
    supervisor_conf = estate.data_dir / "supervisor" / "supervisord.conf"
    subprocess.run([sys.executable, "-m", "supervisor.supervisorctl", "-c", str(supervisor_conf), "stop",
                    f"odoo-{t}__prod"], check=True, capture_output=True, timeout=60)
    code, report = health(estate)
    assert code == 6
    http = checks(report, target)["http"][0]
    assert http["status"] == "critical" and http["value"] in (502, 503)
    assert "the process does not answer either" in http["detail"], http  # asked directly: Odoo, not the edge

    def outage_metrics() -> list[alerting.Sample] | None:
        scraped = alerting.scrape(metrics_port)
        return scraped if alerting.value(scraped, "odooplane_env_up", tenant=t) == 0 else None

    samples = poll("the exporter to see the outage", outage_metrics)
    assert ("OdooDown", t, "prod") in alerting.firing(rules / "rules.yml", samples)
