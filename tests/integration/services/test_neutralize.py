"""Neutralization guarantees and anonymization on databases the Odoo simulator creates, with real
PostgreSQL: seeded "production dirt" is reported by verify, Odoo's own neutralize leaves part of it
behind, enforce removes all of it; anonymization is deterministic and keeps logins usable.

Each module gets a throw-away login role (the simulator, like odoo-bin, refuses ``postgres``),
databases named ``neut_<random>``, a tmp data_dir; everything is dropped at the end. Simulator
processes are stopped by PID.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import xmlrpc.client
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from odooplane.errors import PermanentError
from odooplane.services import anonymize, mailcatcher, neutralize
from odooplane.services.postgres import ClusterConn
from tests.support.services import free_port

pytestmark = pytest.mark.integration

MODULES = "base,mail,payment,payment_stripe,iap,auth_oauth"
CATCHER = ("127.0.0.1", 2525)
SRC = str(Path(neutralize.__file__).resolve().parents[2])


def pg_url() -> str:
    return os.environ.get("ODOOPLANE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def admin_conn(dbname: str | None = None) -> psycopg.Connection[tuple[Any, ...]]:
    info = psycopg.conninfo.conninfo_to_dict(pg_url())
    if dbname:
        info["dbname"] = dbname
    return psycopg.connect(**info, autocommit=True, connect_timeout=5)  # type: ignore[arg-type]


@dataclass
class Env:
    role: str
    password: str
    host: str
    port: int
    cluster: ClusterConn
    tmp: Path
    databases: list[str] = field(default_factory=list)

    def conf(self, **extra: object) -> Path:
        values: dict[str, object] = {
            "db_host": self.host, "db_port": self.port, "db_user": self.role, "db_password": self.password,
            "data_dir": self.tmp / "data", "logfile": self.tmp / "odoo.log", "http_interface": "127.0.0.1",
            "sim_password_rounds": 1000, **extra}
        path = self.tmp / "odoo.conf"
        path.write_text("[options]\n" + "".join(f"{k} = {v}\n" for k, v in values.items()))
        return path

    def new_name(self) -> str:
        name = f"neut_{secrets.token_hex(5)}"
        self.databases.append(name)
        return name

    def sim(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
        env.pop("PGUSER", None)
        return subprocess.run([sys.executable, "-m", "odooplane.sim", *args], capture_output=True, text=True,
                              timeout=timeout, env=env, check=False)

    def create(self, modules: str = MODULES) -> str:
        name = self.new_name()
        result = self.sim("-c", str(self.conf()), "-d", name, "-i", modules, "--without-demo=all",
                          "--stop-after-init")
        log = self.tmp / "odoo.log"
        assert result.returncode == 0, result.stderr + (log.read_text() if log.exists() else "")
        return name

    def copy(self, source: str) -> str:
        name = self.new_name()
        with admin_conn() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {} OWNER {}").format(
                sql.Identifier(name), sql.Identifier(source), sql.Identifier(self.role)))
        return name

    def query(self, dbname: str, query: str, params: Any = None) -> list[tuple[Any, ...]]:
        with admin_conn(dbname) as conn:
            cursor = conn.execute(query, params)
            return cursor.fetchall() if cursor.description else []


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    try:
        with admin_conn() as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        pytest.skip(f"PostgreSQL at ODOOPLANE_TEST_PG does not answer: {exc}")
    info = psycopg.conninfo.conninfo_to_dict(pg_url())
    host, port = str(info.get("host") or ""), int(str(info.get("port") or 5432))
    made = Env(role=f"neut_role_{secrets.token_hex(4)}", password=secrets.token_hex(12), host=host, port=port,
               cluster=ClusterConn(name="test", host=host, port=port, user=str(info.get("user") or "postgres"),
                                   password=str(info["password"]) if info.get("password") else None),
               tmp=tmp_path_factory.mktemp("neutralize"))
    with admin_conn() as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN CREATEDB PASSWORD {}").format(
            sql.Identifier(made.role), sql.Literal(made.password)))
    try:
        yield made
    finally:
        with admin_conn() as conn:
            owned = {str(r[0]) for r in conn.execute(
                "SELECT datname FROM pg_database WHERE datdba = (SELECT oid FROM pg_roles WHERE rolname = %s)",
                (made.role,)).fetchall()}
            for name in owned | set(made.databases):
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(made.role)))


@pytest.fixture(scope="module")
def odoo_db(env: Env) -> str:
    """An initialised database with the brief's modules; tests work on copies of it."""
    return env.create()


def seed_production_dirt(env: Env, dbname: str) -> None:
    with admin_conn(dbname) as db:
        prod = db.execute(
            "INSERT INTO ir_mail_server (name, smtp_host, smtp_port, smtp_encryption, smtp_authentication,"
            " smtp_user, smtp_pass, active) VALUES ('prod smtp', 'smtp.example.com', 587, 'starttls', 'login',"
            " 'mailer@acme.example.com', 'hunter2', true) RETURNING id").fetchone()
        assert prod is not None
        db.execute("INSERT INTO mail_template (name, model, mail_server_id) VALUES ('{\"en_US\": \"Invoice\"}',"
                   " 'account.move', %s)", (prod[0],))
        db.execute("INSERT INTO fetchmail_server (name, active, server, server_type, \"user\", password)"
                   " VALUES ('inbox', true, 'imap.example.com', 'imap', 'inbox@acme.example.com', 'imap-pw')")
        db.execute("INSERT INTO iap_account (name, account_token) VALUES ('sms', 'abcdef0123456789')")
        db.execute("UPDATE payment_provider SET state = 'enabled', stripe_secret_key = 'sk_live_123',"
                   " stripe_publishable_key = 'pk_live_123', stripe_webhook_secret = 'whsec_123'"
                   " WHERE code = 'stripe'")
        db.execute("UPDATE payment_provider SET state = 'test', stripe_secret_key = 'sk_test_999'"
                   " WHERE name->>'en_US' = 'Demo'")
        db.execute("INSERT INTO res_users_apikeys (name, user_id, scope, index, key) VALUES ('ci', 2, NULL,"
                   " '0123abcd', '$pbkdf2-sha512$6000$x$y')")
        # 18 has no column for an OAuth client secret; add one, as a series or module that keeps it would
        db.execute("ALTER TABLE auth_oauth_provider ADD COLUMN client_secret varchar")
        db.execute("UPDATE auth_oauth_provider SET client_secret = 'oauth-secret', enabled = true"
                   " WHERE name = 'Google OAuth2'")
        db.execute("UPDATE res_users SET oauth_access_token = 'ya29.token' WHERE login = 'admin'")
        # auth_passkey (18, 19) is not simulated: its table as Odoo creates it
        db.execute("CREATE TABLE auth_passkey_key (id serial PRIMARY KEY, name varchar NOT NULL,"
                   " credential_identifier varchar NOT NULL UNIQUE, public_key varchar, sign_count integer,"
                   " create_uid integer, create_date timestamp, write_uid integer, write_date timestamp)")
        db.execute("INSERT INTO auth_passkey_key (name, credential_identifier, public_key, create_uid)"
                   " VALUES ('laptop', 'cred-1', 'pk', 2)")
        device = db.execute("INSERT INTO mail_push_device (partner_id, endpoint, keys) VALUES"
                            " (3, 'https://push.example.com/x', '{}') RETURNING id").fetchone()
        assert device is not None
        db.execute("INSERT INTO mail_push (mail_push_device_id, payload) VALUES (%s, '{}')", (device[0],))
        db.execute("INSERT INTO ir_config_parameter (key, value) VALUES ('mail.web_push_vapid_private_key', 'k')")
        db.execute("INSERT INTO ir_act_server (name, type, state, model_name, usage, webhook_url) VALUES"
                   " ('{\"en_US\": \"Notify CRM\"}', 'ir.actions.server', 'webhook', 'res.partner',"
                   " 'ir_actions_server', 'https://hooks.example.com/prod')")


def verify(env: Env, dbname: str) -> list[str]:
    return neutralize.verify(env.cluster, dbname, smtp_host=CATCHER[0], smtp_port=CATCHER[1])


def enforce(env: Env, dbname: str) -> neutralize.EnforceReport:
    return neutralize.enforce(env.cluster, dbname, smtp_host=CATCHER[0], smtp_port=CATCHER[1], series_major=18)


def has(failures: list[str], pattern: str) -> bool:
    return any(re.search(pattern, failure) for failure in failures)


DIRT = {  # what verify must name on a production copy -> a pattern of its message
    "active production mail server": r"mail server #\d+ 'prod smtp' \(smtp\.example\.com:587\) is active",
    "no catcher": r"no active mail server 'Odooplane mail catcher' pointing at 127\.0\.0\.1:2525",
    "mail server credentials": r"ir_mail_server #\d+ prod smtp holds credentials \(smtp_user, smtp_pass\)",
    "template forcing a server": r"1 mail_template record\(s\) force a mail server",
    "active crons": r"cron #\d+ 'Mail: Email Queue Manager' is active",
    "flag": r"database\.is_neutralized is not true \(missing\)",
    "fetchmail": r"incoming mail server #\d+ 'inbox' is active",
    "fetchmail password": r"fetchmail_server #\d+ inbox holds credentials \(password\)",
    "payment provider": r"payment_provider #\d+ \(stripe\) is 'enabled', not test or disabled",
    "API key": r"1 user API key\(s\) in res_users_apikeys",
    "OAuth provider": r"OAuth provider #\d+ 'Google OAuth2' is enabled",
    "OAuth secret": r"auth_oauth_provider #\d+ Google OAuth2 holds credentials \(client_secret\)",
    "OAuth token": r"res_users #2 admin holds credentials \(oauth_access_token\)",
    "IAP token": r"IAP account #\d+ 'sms' has a token without '\+disabled'",
    "passkey": r"1 passkey\(s\) in auth_passkey_key",
    "push devices": r"1 row\(s\) in mail_push_device",
    "push keys": r"ir_config_parameter 'mail\.web_push_vapid_private_key' is set",
    "webhook": r"server action #\d+ sends a webhook to a real URL",
}


def test_verify_names_every_guarantee_and_enforce_makes_the_copy_safe(env: Env, odoo_db: str) -> None:
    dbname = env.copy(odoo_db)
    seed_production_dirt(env, dbname)
    failures = verify(env, dbname)
    missing = [what for what, pattern in DIRT.items() if not has(failures, pattern)]
    assert not missing, f"verify did not report {missing}:\n" + "\n".join(failures)
    assert not any("sk_live" in f or "hunter2" in f or "abcdef0123456789" in f for f in failures)  # no secret shown

    report = enforce(env, dbname)
    assert verify(env, dbname) == []
    assert report.changes["mail catcher created"] == 1
    assert report.changes["crons deactivated"] >= 10
    assert report.changes["res_users_apikeys deleted"] == 1
    assert "delivery_carrier" in report.absent

    active = env.query(dbname, "SELECT name, smtp_host, smtp_port, smtp_encryption, smtp_user, smtp_pass"
                               " FROM ir_mail_server WHERE active")
    assert active == [("Odooplane mail catcher", "127.0.0.1", 2525, "none", None, None)]
    assert env.query(dbname, "SELECT smtp_user, smtp_pass FROM ir_mail_server WHERE name = 'prod smtp'") == [
        (None, None)]
    active_crons = env.query(dbname, "SELECT d.module || '.' || d.name FROM ir_cron c JOIN ir_model_data d"
                                     " ON d.res_id = c.id AND d.model = 'ir.cron' WHERE c.active")
    assert active_crons == [("base.autovacuum_job",)]
    assert env.query(dbname, "SELECT value FROM ir_config_parameter WHERE key = 'database.is_neutralized'") == [
        ("true",)]
    assert env.query(dbname, "SELECT active, password FROM fetchmail_server") == [(False, None)]
    assert env.query(dbname, "SELECT account_token FROM iap_account") == [("abcdef0123456789+disabled",)]
    providers = dict(env.query(dbname, "SELECT name->>'en_US', (state, stripe_secret_key, stripe_webhook_secret)"
                                       "::text FROM payment_provider WHERE name->>'en_US' IN ('Stripe', 'Demo')"))
    assert providers == {"Stripe": "(disabled,,)", "Demo": "(test,sk_test_999,)"}  # sandbox keys stay usable
    assert env.query(dbname, "SELECT bool_or(enabled), count(client_secret) FROM auth_oauth_provider") == [
        (False, 0)]
    for table in ("res_users_apikeys", "auth_passkey_key", "mail_push", "mail_push_device"):
        assert env.query(dbname, f"SELECT count(*) FROM {table}") == [(0,)], table
    assert env.query(dbname, "SELECT webhook_url FROM ir_act_server WHERE state = 'webhook'") == [
        ("neutralization - disable webhook",)]
    assert env.query(dbname, "SELECT count(mail_server_id) FROM mail_template") == [(0,)]
    # the catch-all settings are the copy's own business
    assert env.query(dbname, "SELECT count(*) FROM ir_config_parameter WHERE key IN"
                             " ('mail.catchall.domain', 'mail.default.from')") == env.query(
        odoo_db, "SELECT count(*) FROM ir_config_parameter WHERE key IN"
                 " ('mail.catchall.domain', 'mail.default.from')")

    # idempotent: a second run changes nothing and keeps exactly one catcher
    again = enforce(env, dbname)
    assert again.catcher_id == report.catcher_id
    assert not any(again.changes.values()), again.changes
    assert env.query(dbname, "SELECT count(*) FROM ir_mail_server WHERE name = 'Odooplane mail catcher'") == [(1,)]
    # a new catcher address updates the same server
    neutralize.enforce(env.cluster, dbname, smtp_host="10.0.0.5", smtp_port=1025, series_major=18)
    assert env.query(dbname, "SELECT id, smtp_host, smtp_port FROM ir_mail_server WHERE active") == [
        (report.catcher_id, "10.0.0.5", 1025)]
    assert has(verify(env, dbname), r"no active mail server 'Odooplane mail catcher' pointing at 127\.0\.0\.1:2525")


def test_odoo_neutralize_leaves_credentials_and_keys_that_enforce_removes(env: Env, odoo_db: str) -> None:
    dbname = env.copy(odoo_db)
    seed_production_dirt(env, dbname)
    result = env.sim("neutralize", "-c", str(env.conf()), "-d", dbname)
    assert result.returncode == 0, result.stderr
    failures = verify(env, dbname)
    left_behind = {  # Odoo's neutralize does not touch these
        "dummy server instead of a catcher": r"mail server #\d+ 'neutralization - disable emails' "
                                             r"\(invalid:1025\) is active",
        "no catcher": DIRT["no catcher"],
        "mail server credentials": DIRT["mail server credentials"],
        "fetchmail password": DIRT["fetchmail password"],
        "API key": DIRT["API key"],
        "OAuth secret": DIRT["OAuth secret"],
        "OAuth token": DIRT["OAuth token"],
        "passkey": DIRT["passkey"],
    }
    missing = [what for what, pattern in left_behind.items() if not has(failures, pattern)]
    assert not missing, f"expected Odoo's neutralize to leave {missing}:\n" + "\n".join(failures)
    handled_by_odoo = ["active crons", "flag", "fetchmail", "payment provider", "OAuth provider", "IAP token",
                       "push devices", "push keys", "webhook", "template forcing a server"]
    assert [what for what in handled_by_odoo if has(failures, DIRT[what])] == []
    assert len(failures) == len(left_behind), "\n".join(failures)

    enforce(env, dbname)
    assert verify(env, dbname) == []
    assert env.query(dbname, "SELECT name FROM ir_mail_server WHERE active") == [("Odooplane mail catcher",)]
    assert env.query(dbname, "SELECT count(*) FROM ir_mail_server WHERE name = 'neutralization - disable emails'"
                             " AND NOT active") == [(1,)]


def test_a_database_with_only_base_is_handled(env: Env) -> None:
    dbname = env.create("base")
    failures = verify(env, dbname)
    assert has(failures, DIRT["no catcher"])
    assert not has(failures, "could not check")
    report = enforce(env, dbname)
    assert {"fetchmail_server", "payment_provider", "auth_oauth_provider", "mail_template"} <= set(report.absent)
    assert verify(env, dbname) == []


def test_verify_fails_closed(env: Env, odoo_db: str) -> None:
    dbname = env.copy(odoo_db)
    enforce(env, dbname)
    assert verify(env, dbname) == []
    # an unexpected schema is a failure, not a pass
    env.query(dbname, "ALTER TABLE fetchmail_server RENAME COLUMN active TO active_renamed")
    env.query(dbname, "ALTER TABLE payment_provider DROP COLUMN state")
    failures = verify(env, dbname)
    assert has(failures, r"could not check incoming mail servers: column \"active\" does not exist")
    assert has(failures, r"could not check payment providers: column \"state\" does not exist")
    # the autovacuum must be there and running
    env.query(dbname, "UPDATE ir_cron SET active = false")
    assert has(verify(env, dbname), r"cron base\.autovacuum_job is missing or inactive")
    # a database that is not Odoo's, or not there
    empty = env.new_name()
    with admin_conn() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(empty)))
    assert has(verify(env, empty), rf"{empty} is not an Odoo database")
    with pytest.raises(PermanentError, match="not an Odoo database"):
        enforce(env, empty)
    assert has(verify(env, "neut_does_not_exist"), r"could not check neut_does_not_exist")


# -- anonymization ------------------------------------------------------------------------------

PERSONAL = "SELECT id, name, email, phone, mobile, street, city, zip, vat, complete_name FROM res_partner ORDER BY id"


def seed_people(env: Env, dbname: str) -> None:
    with admin_conn(dbname) as db:
        acme = db.execute("INSERT INTO res_partner (name, complete_name, email, phone, is_company, active)"
                          " VALUES ('Acme Corp', 'Acme Corp', 'info@acme-corp.com', '+32 2 555 01 01', true, true)"
                          " RETURNING id").fetchone()
        assert acme is not None
        jane = db.execute(
            "INSERT INTO res_partner (name, complete_name, email, mobile, street, city, zip, vat, parent_id, active)"
            " VALUES ('Jane Doe', 'Acme Corp, Jane Doe', 'jane.doe@acme-corp.com', '+32 475 11 22 33',"
            " 'Rue Haute 12', 'Brussels', '1000', 'BE0477472701', %s, true) RETURNING id", (acme[0],)).fetchone()
        assert jane is not None
        db.execute("INSERT INTO res_partner (name, complete_name, email, phone, street, city, active) VALUES"
                   " ('John Smith', 'John Smith', 'john@smith.example', '+44 20 7946 0000', '221B Baker Street',"
                   " 'London', true)")
        db.execute("INSERT INTO res_users (login, password, partner_id, company_id, active, share, signature)"
                   " SELECT 'jane.doe@acme-corp.com', password, %s, 1, true, false, '<p>Jane Doe</p>'"
                   " FROM res_users WHERE login = 'admin'", (jane[0],))
        db.execute("UPDATE res_partner SET name = 'Mitchell Admin', email = 'mitchell@acme-corp.com'"
                   " WHERE id = (SELECT partner_id FROM res_users WHERE login = 'admin')")


def test_anonymization_is_deterministic_and_keeps_logins_usable(env: Env) -> None:
    source = env.create("base,mail")
    seed_people(env, source)
    first, second, other = env.copy(source), env.copy(source), env.copy(source)
    report = anonymize.anonymize(env.cluster, first, salt="staging-salt")
    anonymize.anonymize(env.cluster, second, salt="staging-salt")
    anonymize.anonymize(env.cluster, other, salt="another-salt")
    assert report.partners == 4  # Acme, Jane, John and the admin's partner; not the company or technical ones
    assert "admin" in report.users_kept
    assert report.users == 1

    before, after = env.query(source, PERSONAL), env.query(first, PERSONAL)
    assert env.query(second, PERSONAL) == after  # same salt, same output
    assert env.query(other, PERSONAL) != after
    changed = {row[0]: row for row in after}
    original = {row[0]: row for row in before}
    company_partner = env.query(first, "SELECT partner_id FROM res_company")[0][0]
    assert changed[company_partner] == original[company_partner]  # "My Company" keeps its identity
    everything = " ".join(str(v) for row in after if row[0] != company_partner for v in row if v is not None)
    for secret in ("Jane", "Doe", "acme-corp", "Smith", "Baker", "Brussels", "London", "BE0477472701",
                   "Mitchell", "475 11 22"):
        assert secret not in everything, secret
    jane = next(row for row in after if row[1] != original[row[0]][1] and original[row[0]][1] == "Jane Doe")
    acme = next(row for row in after if original[row[0]][1] == "Acme Corp")
    assert re.fullmatch(r"Partner [0-9a-f]{6,}", jane[1])
    assert jane[9] == f"{acme[1]}, {jane[1]}"  # complete_name follows
    assert re.fullmatch(r"partner-[0-9a-f]{6,}@example\.invalid", jane[2])
    assert jane[3] is None  # no phone before, none invented

    users = dict(env.query(first, "SELECT login, password FROM res_users"))
    assert "jane.doe@acme-corp.com" not in users
    new_login = next(login for login in users if login.startswith("user-"))
    assert re.fullmatch(r"user-[0-9a-f]{6,}@example\.invalid", new_login)
    assert {"admin", "__system__", "public", "default", "portaltemplate"} <= set(users)
    assert dict(env.query(source, "SELECT password, login FROM res_users WHERE login = 'admin'")) == {
        users["admin"]: "admin"}  # passwords untouched
    assert env.query(first, "SELECT count(signature) FROM res_users WHERE id > 1") == [(0,)]
    # no mapping table is left behind
    assert env.query(first, "SELECT count(*) FROM pg_class WHERE relname LIKE '%anon%'") == [(0,)]

    with sim_server(env, first) as port:
        common = xmlrpc.client.ServerProxy(f"http://127.0.0.1:{port}/xmlrpc/2/common")
        assert common.authenticate(first, "admin", "admin", {}) == 2
        assert isinstance(common.authenticate(first, new_login, "admin", {}), int)
        assert common.authenticate(first, "jane.doe@acme-corp.com", "admin", {}) is False


@contextlib.contextmanager
def sim_server(env: Env, dbname: str) -> Iterator[int]:
    port = free_port()
    conf = env.conf(http_port=port, db_name=dbname, max_cron_threads=0)
    run_env = dict(os.environ)
    run_env["PYTHONPATH"] = SRC + os.pathsep + run_env.get("PYTHONPATH", "")
    run_env.pop("PGUSER", None)
    with open(env.tmp / "server.out", "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "odooplane.sim", "-c", str(conf)], stdout=out,
                                stderr=subprocess.STDOUT, env=run_env)
    try:
        deadline = time.monotonic() + 60
        while not healthy(port):
            assert proc.poll() is None, (env.tmp / "odoo.log").read_text()
            assert time.monotonic() < deadline, "the simulator did not answer /web/health"
            time.sleep(0.05)
        yield port
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def healthy(port: int) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", "/web/health")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


# -- real Odoo (when ODOO_SOURCE and ODOO_PYTHON name a tree and its interpreter) -----------------

SEND_AND_LOGIN = """
from odoo.exceptions import AccessDenied
mail = env['mail.mail'].create({'subject': 'Staging check', 'email_from': 'admin@acme.example.com',
                                'email_to': 'customer@real-company.com', 'body_html': '<p>hi</p>'})
mail.send(raise_exception=True)
print('MAIL', mail.state)
env.cr.commit()
for login, password in LOGINS:
    try:
        env['res.users'].authenticate(env.cr.dbname, {'login': login, 'password': password, 'type': 'password'},
                                      {'interactive': False})
        print('AUTH', login, 'ok')
    except AccessDenied:
        print('AUTH', login, 'denied')
"""


@pytest.mark.realodoo
def test_real_odoo_neutralize_enforce_catcher_and_anonymize(env: Env) -> None:
    source, python = os.environ.get("ODOO_SOURCE"), os.environ.get("ODOO_PYTHON")
    if not source or not python:
        pytest.skip("ODOO_SOURCE and ODOO_PYTHON are not set")
    tree = Path(source)
    addons = ",".join(str(p) for p in (tree / "addons", tree / "odoo" / "addons") if p.is_dir())
    conf = env.conf(addons_path=addons, max_cron_threads=0, list_db=False)
    odoo_bin = [python, str(tree / "odoo-bin")]

    def odoo(*args: str, stdin: str | None = None) -> str:
        result = subprocess.run([*odoo_bin, *args], input=stdin, capture_output=True, text=True, timeout=600,
                                check=False)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
        return result.stdout

    dbname = env.new_name()
    odoo("-c", str(conf), "-d", dbname, "-i", "base,mail,payment,payment_stripe,iap,auth_oauth",
         "--without-demo=all", "--stop-after-init")
    with admin_conn(dbname) as db:
        prod = db.execute(
            "INSERT INTO ir_mail_server (name, smtp_host, smtp_port, smtp_encryption, smtp_authentication,"
            " smtp_user, smtp_pass, active) VALUES ('prod smtp', 'smtp.example.com', 587, 'starttls', 'login',"
            " 'mailer@acme.example.com', 'hunter2', true) RETURNING id").fetchone()
        assert prod is not None
        db.execute("INSERT INTO fetchmail_server (name, active, server, server_type, \"user\", password, port,"
                   " priority, state, is_ssl, attach, original) VALUES ('inbox', true, 'imap.example.com', 'imap',"
                   " 'inbox@acme.example.com', 'imap-pw', 993, 5, 'done', true, true, false)")
        db.execute("UPDATE payment_provider SET state = 'enabled', stripe_secret_key = 'sk_live_123'"
                   " WHERE code = 'stripe'")
        db.execute("INSERT INTO res_users_apikeys (name, user_id, scope, index, key) VALUES ('ci', 2, NULL,"
                   " '0123abcd', 'x')")
        db.execute("UPDATE res_users SET oauth_access_token = 'ya29.token' WHERE login = 'admin'")
    odoo("neutralize", "-c", str(conf), "-d", dbname)
    left = verify(env, dbname)
    for what in ("no catcher", "mail server credentials", "fetchmail password", "API key", "OAuth token"):
        assert has(left, DIRT[what]), f"{what}:\n" + "\n".join(left)
    assert not has(left, DIRT["payment provider"])

    port = free_port()
    neutralize.enforce(env.cluster, dbname, smtp_host="127.0.0.1", smtp_port=port, series_major=18)
    assert neutralize.verify(env.cluster, dbname, smtp_host="127.0.0.1", smtp_port=port) == []
    with admin_conn(dbname) as db:  # a person with a password, then anonymized
        db.execute("UPDATE res_partner SET name = 'Jane Doe', email = 'jane@acme-corp.com'"
                   " WHERE id = (SELECT partner_id FROM res_users WHERE login = 'admin')")
    anonymize.anonymize(env.cluster, dbname, salt="real-odoo")
    assert env.query(dbname, "SELECT count(*) FROM res_partner WHERE name = 'Jane Doe'") == [(0,)]

    directory = env.tmp / "caught"
    with open(env.tmp / "catcher.log", "wb") as out:
        catcher = subprocess.Popen(mailcatcher.program_argv(sys.executable, "127.0.0.1", port, directory),
                                   stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while not listening(port):
            assert catcher.poll() is None and time.monotonic() < deadline, "the catcher did not start"
            time.sleep(0.05)
        output = odoo("shell", "-c", str(conf), "-d", dbname, "--no-http",
                      stdin="LOGINS = [('admin', 'admin')]\n" + SEND_AND_LOGIN)
    finally:
        catcher.send_signal(signal.SIGTERM)
        catcher.wait(10)
    assert "MAIL sent" in output
    assert "AUTH admin ok" in output
    assert [(m.subject, m.recipients) for m in mailcatcher.read_messages(directory)] == [
        ("Staging check", ("customer@real-company.com",))]
