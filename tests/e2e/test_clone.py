"""Clones end to end: production copied into staging is neutralized and proven safe before it is
served; its mail, sent through Odoo's own API, lands in the staging catcher and nowhere else; a copy
that fails the proof is never served and staging keeps what it had; anonymization keeps logins."""

from __future__ import annotations

import json
import os
import time
import xmlrpc.client
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.support.estate import TestEstate, make_estate, unique
from tests.support.rpc import xmlrpc_call

pytestmark = pytest.mark.e2e


def db(database: str) -> psycopg.Connection[Any]:
    return psycopg.connect(os.environ["ODOOPLANE_TEST_PG"].rsplit("/", 1)[0] + f"/{database}", autocommit=True)


def param(database: str, key: str) -> str | None:
    with db(database) as conn:
        row = conn.execute("SELECT value FROM ir_config_parameter WHERE key = %s", (key,)).fetchone()
    return None if row is None else str(row[0])


def credentials(estate: TestEstate, target: str) -> dict[str, str]:
    return dict(json.loads(estate.cli("credentials", target, "-f", str(estate.path), "--json").stdout))


def send_mail(estate: TestEstate, host: str, database: str, password: str, subject: str) -> object:
    base = f"http://127.0.0.1:{estate.data['platform']['edge']['http_port']}"
    uid = xmlrpc_call(base, host, "/xmlrpc/2/common", "authenticate", database, "admin", password, {})
    assert isinstance(uid, int) and not isinstance(uid, bool), uid
    mail_id = xmlrpc_call(base, host, "/xmlrpc/2/object", "execute_kw", database, uid, password, "mail.mail",
                          "create", [{"subject": subject, "email_to": "customer@example.com",
                                      "email_from": "shop@example.com", "body_html": "<p>your order</p>"}])
    assert isinstance(mail_id, int), mail_id
    return xmlrpc_call(base, host, "/xmlrpc/2/object", "execute_kw", database, uid, password, "mail.mail", "send",
                       [[mail_id]])


def caught(estate: TestEstate, target: str, subject: str, timeout: float = 30) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        found = json.loads(estate.cli("mail", target, "-f", str(estate.path), "--json").stdout)
        if any(m["subject"] == subject for m in found) or time.monotonic() > deadline:
            return list(found)
        time.sleep(0.3)


@pytest.fixture
def shop(tmp_path: Path) -> Any:
    t = unique("c")
    estate = make_estate(tmp_path, {t: {"environments": {
        "prod": {"modules": ["mail"], "backup": False},
        "staging": {"stage": "staging", "modules": ["mail"], "backup": False},
        "dev": {"stage": "development", "backup": False}}}})
    estate.cli("apply", str(estate.path), "-q")
    try:
        yield estate, t
    finally:
        estate.cli("down", "-f", str(estate.path), "--purge", "--yes", check=False)


def test_clone_neutralizes_routes_and_catches_mail(shop: Any) -> None:
    estate, t = shop
    prod, staging = f"{t}_prod", f"{t}_staging"
    with db(prod) as conn:  # production talks to the world
        conn.execute("INSERT INTO ir_mail_server (name, smtp_host, smtp_port, smtp_user, smtp_pass, smtp_encryption, "
                     "smtp_authentication, sequence, active) VALUES ('Office 365', 'smtp.office365.example', 587, "
                     "'shop@example.com', 'hunter2', 'starttls', 'login', 1, true)")
        conn.execute("UPDATE ir_cron SET active = true")
        conn.execute("INSERT INTO res_partner (name, email, active) VALUES ('Ada Customer', 'ada@example.com', true)")

    done = estate.cli("clone", f"{t}/prod", f"{t}/staging", "-f", str(estate.path), "--yes", "--json")
    result = json.loads(done.stdout)
    assert result["checks"]["verified"] is True and result["in_place"] is True
    port = result["checks"]["mail_catcher_port"]

    with db(staging) as conn:
        servers = conn.execute("SELECT smtp_host, smtp_port, coalesce(smtp_pass, '') FROM ir_mail_server "
                               "WHERE active").fetchall()
        assert servers == [("127.0.0.1", port, "")]
        assert conn.execute("SELECT count(*) FROM ir_mail_server WHERE smtp_pass = 'hunter2'").fetchone() == (0,)
        active_crons = {r[0] for r in conn.execute(
            "SELECT d.name FROM ir_cron c LEFT JOIN ir_model_data d ON d.model = 'ir.cron' AND d.res_id = c.id "
            "WHERE c.active").fetchall()}
        assert active_crons <= {"autovacuum_job"}, active_crons
        assert conn.execute("SELECT count(*) FROM res_partner WHERE email = 'ada@example.com'").fetchone() == (1,)
    assert param(staging, "database.is_neutralized") in ("True", "true", "1")
    assert param(staging, "database.uuid") != param(prod, "database.uuid")
    assert param(staging, "database.secret") != param(prod, "database.secret")
    assert f"{t}-staging" in str(param(staging, "web.base.url"))
    with db(prod) as conn:  # production was only read
        assert conn.execute("SELECT count(*) FROM ir_mail_server WHERE active AND smtp_pass = 'hunter2'"
                            ).fetchone() == (1,)
    assert param(prod, "database.is_neutralized") in (None, "False", "false")

    # Mail sent by the clone through Odoo's own API lands in its catcher, and nowhere else.
    creds = credentials(estate, f"{t}/staging")
    sent = send_mail(estate, f"{t}-staging.localhost", staging, creds["password"], "Order S00042")
    # Real Odoo 18's mail.mail.send() returns None, which XML-RPC cannot marshal (a Fault after sending).
    assert sent is True or (isinstance(sent, xmlrpc.client.Fault) and "None" in sent.faultString), sent
    messages = caught(estate, f"{t}/staging", "Order S00042")
    assert [m["to"] for m in messages if m["subject"] == "Order S00042"] == [["customer@example.com"]]
    assert json.loads(estate.cli("mail", f"{t}/dev", "-f", str(estate.path), "--json").stdout) == []
    with db(staging) as conn:
        # The simulator keeps the subject on mail_mail; real Odoo on the linked mail_message.
        has_subject = conn.execute("SELECT 1 FROM information_schema.columns WHERE table_name = 'mail_mail' "
                                   "AND column_name = 'subject'").fetchone()
        query = ("SELECT state FROM mail_mail WHERE subject = %s" if has_subject else
                 "SELECT mm.state FROM mail_mail mm JOIN mail_message m ON m.id = mm.mail_message_id "
                 "WHERE m.subject = %s")
        assert conn.execute(query, ("Order S00042",)).fetchone() == ("sent",)
    refused = estate.cli("mail", f"{t}/prod", "-f", str(estate.path), check=False)
    assert refused.returncode == 2 and "delivered, not caught" in refused.stderr

    status = {r["target"]: r for r in estate.status()["environments"]}
    assert status[f"{t}/staging"]["health"] == "ok"
    evidence = json.loads(estate.cli("evidence", "-f", str(estate.path), "--kind", "clone", "--json").stdout)
    assert [e["target"] for e in evidence] == [f"{t}/staging"]
    checked = json.loads(estate.cli("policy", "check", f"{t}/staging", "-f", str(estate.path), "--json",
                                    check=False).stdout)
    assert {(f["rule"], f["status"]) for f in checked["findings"]} >= {("non-production-neutralized", "pass")}


def test_unsafe_copy_is_never_served_and_bad_targets_are_refused(shop: Any) -> None:
    estate, t = shop
    prod, staging = f"{t}_prod", f"{t}_staging"
    with db(staging) as conn:
        conn.execute("INSERT INTO res_partner (name, active) VALUES ('staging-before', true)")
    with db(prod) as conn:
        # A custom module's trigger that keeps every cron running defeats neutralization.
        conn.execute("CREATE FUNCTION keep_crons() RETURNS trigger LANGUAGE plpgsql AS "
                     "$$ BEGIN NEW.active := true; RETURN NEW; END $$")
        conn.execute("CREATE TRIGGER keep_crons BEFORE UPDATE ON ir_cron FOR EACH ROW EXECUTE FUNCTION keep_crons()")
        conn.execute("UPDATE ir_cron SET active = true")
    failed = estate.cli("clone", f"{t}/prod", f"{t}/staging", "-f", str(estate.path), "--yes", check=False)
    assert failed.returncode == 1, failed.stderr
    assert "not safe to serve" in failed.stderr and "cron" in failed.stderr
    with db(staging) as conn:  # staging kept its own data and still serves
        assert conn.execute("SELECT count(*) FROM res_partner WHERE name = 'staging-before'").fetchone() == (1,)
    with db("postgres") as conn:
        left = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (f"{staging}__%",)).fetchall()
    assert left == []
    status = {r["target"]: r for r in estate.status()["environments"]}
    assert status[f"{t}/staging"]["health"] == "ok"

    into_prod = estate.cli("clone", f"{t}/staging", f"{t}/prod", "-f", str(estate.path), "--yes", check=False)
    assert into_prod.returncode == 2 and "production" in into_prod.stderr
    unknown = estate.cli("clone", f"{t}/prod", f"{t}/nope", "-f", str(estate.path), "--yes", check=False)
    assert unknown.returncode == 3 and f"{t}/nope" in unknown.stderr


def test_anonymized_clone_keeps_logins(shop: Any) -> None:
    estate, t = shop
    prod, dev = f"{t}_prod", f"{t}_dev"
    with db(prod) as conn:
        conn.execute("INSERT INTO res_partner (name, email, phone, active) "
                     "VALUES ('Grace Client', 'grace@example.com', '+33 1 23 45 67 89', true)")
    estate.cli("clone", f"{t}/prod", f"{t}/dev", "-f", str(estate.path), "--yes", "--anonymize")
    with db(dev) as conn:
        assert conn.execute("SELECT count(*) FROM res_partner WHERE email = 'grace@example.com' "
                            "OR name = 'Grace Client' OR phone LIKE '+33%%'").fetchone() == (0,)
    creds = credentials(estate, f"{t}/dev")
    base = f"http://127.0.0.1:{estate.data['platform']['edge']['http_port']}"
    uid = xmlrpc_call(base, f"{t}-dev.localhost", "/xmlrpc/2/common", "authenticate", dev, "admin",
                      creds["password"], {})
    assert isinstance(uid, int) and not isinstance(uid, bool) and uid > 0, uid
