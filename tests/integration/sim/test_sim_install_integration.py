"""-i / -u / neutralize against a real PostgreSQL, through the command line."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from simharness import Role, init_db, make_role, read_log, run_sim, write_conf

from odooplane.sim.modules import catalogue

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def role() -> Iterator[Role]:
    with make_role() as made:
        yield made


@pytest.fixture
def conf(tmp_path: Path, role: Role) -> Path:
    return write_conf(tmp_path, role)


def installed(role: Role, dbname: str) -> dict[str, str]:
    rows = role.query(dbname, "SELECT name, latest_version FROM ir_module_module WHERE state = 'installed'")
    return {str(name): str(version) for name, version in rows}


def test_init_creates_odoo_tables_parameters_and_filestore(role: Role, conf: Path) -> None:
    dbname = role.new_db_name()
    init_db(conf, dbname)
    modules = installed(role, dbname)
    assert len(modules) == 12
    assert modules["base"] == "18.0.1.3"
    collate = role.query("postgres", "SELECT datcollate, pg_encoding_to_char(encoding), datdba::regrole::text"
                                     " FROM pg_database WHERE datname = %s", (dbname,))
    assert collate == [("C", "UTF8", role.name)]
    params = dict(role.query(dbname, "SELECT key, value FROM ir_config_parameter"))
    assert {"database.uuid", "database.secret", "database.create_date", "web.base.url"} <= set(params)
    assert params["web.base.url"] == "http://localhost:8069"
    users = dict(role.query(dbname, "SELECT login, password FROM res_users WHERE active"))
    assert users["admin"].startswith("$pbkdf2-sha512$1000$")
    crons = role.query(dbname, "SELECT c.active FROM ir_cron c JOIN ir_model_data d ON d.res_id = c.id"
                               " AND d.model = 'ir.cron' WHERE d.module = 'base' AND d.name = 'autovacuum_job'")
    assert crons == [(True,)]
    assert role.query(dbname, "SELECT count(*) FROM ir_mail_server") == [(0,)]
    attachments = role.query(dbname, "SELECT store_fname, checksum, file_size FROM ir_attachment"
                                     " WHERE type = 'binary' AND store_fname IS NOT NULL")
    assert len(attachments) >= 5
    filestore = conf.parent / "data" / "filestore" / dbname
    for store_fname, checksum, size in attachments:
        content = (filestore / store_fname).read_bytes()
        assert store_fname == f"{checksum[:2]}/{checksum}"
        assert hashlib.sha1(content).hexdigest() == checksum
        assert len(content) == size


def test_install_twice_is_idempotent(role: Role, conf: Path) -> None:
    dbname = role.new_db_name()
    init_db(conf, dbname)
    snapshot = [role.query(dbname, f"SELECT count(*) FROM {table}")
                for table in ("ir_module_module", "res_users", "ir_cron", "ir_attachment", "ir_model_data")]
    secret = role.query(dbname, "SELECT value FROM ir_config_parameter WHERE key = 'database.secret'")
    init_db(conf, dbname)
    assert [role.query(dbname, f"SELECT count(*) FROM {table}")
            for table in ("ir_module_module", "res_users", "ir_cron", "ir_attachment", "ir_model_data")] == snapshot
    assert role.query(dbname, "SELECT value FROM ir_config_parameter WHERE key = 'database.secret'") == secret


def test_installing_apps_pulls_dependencies_and_tables(role: Role, conf: Path) -> None:
    dbname = role.new_db_name()
    init_db(conf, dbname)
    result = run_sim("-c", conf, "-d", dbname, "-i", "sale_management,stock,account,nonexistent_mod",
                     "--stop-after-init")
    assert result.returncode == 0, read_log(conf)
    assert len(installed(role, dbname)) == 59
    assert "invalid module names, ignored: nonexistent_mod" in read_log(conf)
    for table in ("sale_order", "account_move", "stock_picking", "fetchmail_server", "payment_provider"):
        assert role.query(dbname, "SELECT to_regclass(%s) IS NOT NULL", (table,)) == [(True,)]
    assert role.query(dbname, "SELECT count(*) FROM ir_module_module WHERE state LIKE 'to %'") == [(0,)]


def test_update_bumps_latest_version_of_the_module_and_its_dependents(role: Role, conf: Path) -> None:
    dbname = role.new_db_name()
    init_db(conf, dbname, "base,crm")
    role.query(dbname, "UPDATE ir_module_module SET latest_version = '18.0.0.9' WHERE name IN ('mail', 'crm', 'web')"
                       " RETURNING id")
    result = run_sim("-c", conf, "-d", dbname, "-u", "mail", "--stop-after-init")
    assert result.returncode == 0, read_log(conf)
    modules = installed(role, dbname)
    assert modules["mail"] == catalogue("18.0")["mail"].version
    assert modules["crm"] != "18.0.0.9"  # crm depends on mail: upgraded too
    assert modules["web"] == "18.0.0.9"  # mail depends on web, not the reverse


def test_update_all_upgrades_every_installed_module(role: Role, conf: Path) -> None:
    dbname = role.new_db_name()
    init_db(conf, dbname)
    role.query(dbname, "UPDATE ir_module_module SET latest_version = '18.0.0.1' WHERE state = 'installed'"
                       " RETURNING id")
    assert run_sim("-c", conf, "-d", dbname, "-u", "all", "--stop-after-init").returncode == 0
    assert "18.0.0.1" not in installed(role, dbname).values()


def test_fail_init_exits_nonzero_and_leaves_an_empty_database(role: Role, tmp_path: Path) -> None:
    conf = write_conf(tmp_path, role, sim_fail_init=True)
    dbname = role.new_db_name()
    result = run_sim("-c", conf, "-d", dbname, "-i", "base", "--stop-after-init")
    assert result.returncode == 255  # odoo-bin: preload failed -> sys.exit(-1)
    assert role.db_exists(dbname)
    assert role.query(dbname, "SELECT to_regclass('ir_module_module') IS NULL") == [(True,)]
    log = read_log(conf)
    assert f"Failed to initialize database `{dbname}`." in log
    assert "Traceback (most recent call last):" in log


def test_fail_init_of_a_later_module_keeps_the_base_installed(role: Role, tmp_path: Path) -> None:
    dbname = role.new_db_name()
    init_db(write_conf(tmp_path, role), dbname)
    conf = write_conf(tmp_path, role, sim_fail_init="crm")
    result = run_sim("-c", conf, "-d", dbname, "-i", "crm", "--stop-after-init")
    assert result.returncode == 255
    modules = installed(role, dbname)
    assert "base" in modules
    assert "crm" not in modules
    assert role.query(dbname, "SELECT count(*) FROM ir_module_module WHERE state LIKE 'to %'") == [(0,)]
    assert "Transient module states were reset" in read_log(conf)


def test_fail_upgrade_leaves_the_database_unchanged(role: Role, tmp_path: Path) -> None:
    dbname = role.new_db_name()
    init_db(write_conf(tmp_path, role), dbname)
    role.query(dbname, "UPDATE ir_module_module SET latest_version = '18.0.0.1' WHERE name = 'web' RETURNING id")
    before = role.query(dbname, "SELECT name, state, latest_version, write_date FROM ir_module_module ORDER BY id")
    conf = write_conf(tmp_path, role, sim_fail_upgrade=True)
    result = run_sim("-c", conf, "-d", dbname, "-u", "web", "--stop-after-init")
    assert result.returncode != 0
    assert role.query(dbname, "SELECT name, state, latest_version, write_date FROM ir_module_module"
                              " ORDER BY id") == before


def test_neutralize_disables_outgoing_traffic_but_keeps_api_keys(role: Role, conf: Path) -> None:
    dbname = role.new_db_name()
    init_db(conf, dbname, "base,mail,payment,iap,auth_oauth")
    with role.connect(dbname) as db:
        db.execute("INSERT INTO ir_mail_server (name, smtp_host, smtp_port, smtp_encryption, active)"
                   " VALUES ('prod', 'smtp.example.com', 587, 'starttls', true)")
        db.execute("INSERT INTO fetchmail_server (name, active, server) VALUES ('inbox', true, 'imap.example.com')")
        db.execute("INSERT INTO iap_account (name, account_token) VALUES ('sms', 'abcdef0123456789')")
        db.execute("UPDATE payment_provider SET state = 'enabled' WHERE id IN (SELECT min(id) FROM payment_provider)")
        db.execute("INSERT INTO res_users_apikeys (name, user_id, scope, index, key) VALUES ('ci', 2, NULL,"
                   " '0123abcd', '$pbkdf2-sha512$6000$x$y')")
    stdout = run_sim("neutralize", "-c", conf, "-d", dbname, "--stdout")
    assert stdout.returncode == 0
    assert stdout.stdout.startswith("BEGIN;")
    assert stdout.stdout.rstrip().endswith("COMMIT;")
    assert role.query(dbname, "SELECT count(*) FROM ir_mail_server WHERE active") == [(1,)]  # --stdout applies nothing
    result = run_sim("neutralize", "-c", conf, "-d", dbname)
    assert result.returncode == 0, read_log(conf)
    assert role.query(dbname, "SELECT name, smtp_host FROM ir_mail_server WHERE active") == [
        ("neutralization - disable emails", "invalid")]
    active_crons = role.query(dbname, "SELECT d.module || '.' || d.name FROM ir_cron c JOIN ir_model_data d"
                                      " ON d.res_id = c.id AND d.model = 'ir.cron' WHERE c.active")
    assert active_crons == [("base.autovacuum_job",)]
    assert role.query(dbname, "SELECT value FROM ir_config_parameter WHERE key = 'database.is_neutralized'") == [
        ("true",)]
    assert role.query(dbname, "SELECT bool_or(active) FROM fetchmail_server") == [(False,)]
    assert role.query(dbname, "SELECT account_token FROM iap_account") == [("abcdef0123456789+disabled",)]
    assert role.query(dbname, "SELECT count(*) FROM payment_provider WHERE state = 'enabled'") == [(0,)]
    assert role.query(dbname, "SELECT bool_or(enabled) FROM auth_oauth_provider") == [(False,)]
    assert role.query(dbname, "SELECT active FROM ir_ui_view WHERE key = 'web.neutralize_banner'") == [(True,)]
    assert role.query(dbname, "SELECT count(*) FROM res_users_apikeys") == [(1,)]  # the platform must revoke them


def test_neutralize_without_database_fails(conf: Path) -> None:
    assert run_sim("neutralize", "-c", conf).returncode == 1


def test_demo_data_is_loaded_unless_without_demo(role: Role, conf: Path) -> None:
    dbname = role.new_db_name()
    result = run_sim("-c", conf, "-d", dbname, "-i", "base", "--stop-after-init")
    assert result.returncode == 0
    assert role.query(dbname, "SELECT demo FROM ir_module_module WHERE name = 'base'") == [(True,)]
    assert role.query(dbname, "SELECT count(*) FROM res_partner WHERE name = 'Deco Addict'") == [(1,)]


def test_addons_path_module_is_discovered_and_installed(role: Role, tmp_path: Path) -> None:
    addons = tmp_path / "addons" / "acme_custom"
    addons.mkdir(parents=True)
    (addons / "__init__.py").write_text("")
    (addons / "__manifest__.py").write_text("{'name': 'Acme custom', 'version': '1.2.0', 'depends': ['contacts'],"
                                            " 'license': 'LGPL-3'}")
    conf = write_conf(tmp_path, role, addons_path=tmp_path / "addons")
    dbname = role.new_db_name()
    init_db(conf, dbname, "base,acme_custom")
    modules = installed(role, dbname)
    assert modules["acme_custom"] == "18.0.1.2.0"
    assert "contacts" in modules


def test_boot_fail_exits_1_with_a_traceback(role: Role, tmp_path: Path) -> None:
    conf = write_conf(tmp_path, role, sim_boot_fail=True)
    result = run_sim("-c", conf)
    assert result.returncode == 1
    assert "No module named 'snap7'" in read_log(conf)


def test_series_is_reported_and_versions_follow_it(role: Role, tmp_path: Path) -> None:
    conf = write_conf(tmp_path, role, sim_series="17.0")
    dbname = role.new_db_name()
    init_db(conf, dbname)
    assert installed(role, dbname)["base"] == "17.0.1.3"
    assert run_sim("-c", conf, "--version").stdout.strip() == "Odoo Server 17.0"


def test_database_option_alone_creates_and_initialises(role: Role, conf: Path) -> None:
    dbname = role.new_db_name()
    result = run_sim("-c", conf, "-d", dbname, "--stop-after-init")
    assert result.returncode == 0, read_log(conf)
    assert len(installed(role, dbname)) == 12


def test_init_seconds_lengthens_an_install(role: Role, tmp_path: Path) -> None:
    conf = write_conf(tmp_path, role, sim_init_seconds=1.5)
    dbname = role.new_db_name()
    start = time.monotonic()
    init_db(conf, dbname)
    assert time.monotonic() - start >= 1.5
    start = time.monotonic()
    init_db(conf, dbname)  # nothing to install: no artificial delay
    assert time.monotonic() - start < 1.5


def data_module(root: Path, name: str, xml: str) -> Path:
    module = root / "addons" / name
    (module / "data").mkdir(parents=True)
    (module / "__manifest__.py").write_text(repr({"name": name, "version": "1.0", "depends": ["base"],
                                                   "data": ["data/shop.xml"], "license": "LGPL-3"}))
    (module / "data" / "shop.xml").write_text(xml)
    return root / "addons"


def test_a_record_naming_a_missing_external_id_fails_as_odoo_does(role: Role, tmp_path: Path) -> None:
    addons = data_module(tmp_path, "shop_data", """<odoo>
  <record id="shop_partner" model="res.partner">
    <field name="name">Shop</field>
    <field name="parent_id" ref="base.main_partner"/>
  </record>
  <record id="shop_contact" model="res.partner">
    <field name="parent_id" ref="shop_partner"/>
    <field name="company_id" eval="ref('shop_warehouse_company')"/>
  </record>
</odoo>
""")
    dbname = role.new_db_name()
    conf = write_conf(tmp_path, role, addons_path=addons)
    init_db(conf, dbname)
    result = run_sim("-c", conf, "-d", dbname, "-i", "shop_data", "--stop-after-init")
    assert result.returncode == 255
    assert "shop_data" not in installed(role, dbname)
    log = read_log(conf)
    cause = log.index("ValueError: External ID not found in the system: shop_data.shop_warehouse_company")
    chained = log.index("The above exception was the direct cause of the following exception:")
    wrapper = log.index(f"ParseError: while parsing {addons / 'shop_data' / 'data' / 'shop.xml'}:6, somewhere inside\n"
                        '<record id="shop_contact" model="res.partner">')
    assert cause < chained < wrapper


def test_a_data_file_that_is_not_well_formed_fails_with_its_line(role: Role, tmp_path: Path) -> None:
    addons = data_module(tmp_path, "shop_bad", '<odoo>\n  <record id="x" model="res.partner">\n'
                                               '    <field name="name">X</fiel>\n  </record>\n</odoo>\n')
    dbname = role.new_db_name()
    conf = write_conf(tmp_path, role, addons_path=addons)
    init_db(conf, dbname)
    assert run_sim("-c", conf, "-d", dbname, "-i", "shop_bad", "--stop-after-init").returncode == 255
    assert re.search(r"XMLSyntaxError: mismatched tag, line 3, column \d+ \(shop\.xml, line 3\)", read_log(conf))
    assert "shop_bad" not in installed(role, dbname)
