"""A threaded simulator (workers = 0) serving two databases behind dbfilter ^%d$."""

from __future__ import annotations

import glob
import io
import json
import re
import shutil
import time
import xmlrpc.client
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from simharness import (
    Role,
    SimServer,
    admin,
    free_port,
    init_db,
    jsonrpc,
    login,
    make_role,
    request,
    session_db,
    wait_for,
    websocket_upgrade,
    write_conf,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def role() -> Iterator[Role]:
    with make_role() as made:
        yield made


@pytest.fixture(scope="module")
def dbs(role: Role, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    conf = write_conf(tmp_path_factory.mktemp("init"), role)
    first, second = role.new_db_name(), role.new_db_name()
    init_db(conf, first)
    init_db(conf, second)
    return first, second


@pytest.fixture(scope="module")
def server(role: Role, dbs: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimServer]:
    port = free_port()
    conf = write_conf(tmp_path_factory.mktemp("threaded"), role, http_port=port, dbfilter="^%d$", list_db=False,
                      max_cron_threads=0)
    with SimServer(conf, port=port) as running:
        yield running


def test_health_needs_no_database(server: SimServer) -> None:
    response = request(server.port, "GET", "/web/health", host="nothing.example.com")
    assert response.status == 200
    assert response.json() == {"status": "pass"}
    assert response.headers["connection"] == "close"
    assert response.headers["content-type"] == "application/json"


def test_host_header_selects_the_database(server: SimServer, dbs: tuple[str, str]) -> None:
    for dbname in dbs:
        host = f"{dbname}.localhost:{server.port}"
        response, sid = login(server.port, host)
        assert response.status == 303
        assert response.headers["location"] == "/odoo"
        assert session_db(server.port, host, sid) == dbname


def test_session_of_one_database_is_dropped_on_another_host(server: SimServer, dbs: tuple[str, str]) -> None:
    first, second = dbs
    _, sid = login(server.port, f"{first}.localhost")
    assert session_db(server.port, f"{second}.localhost", sid) is None  # logged out: dbfilter rejects it


def test_session_survives_the_server_closing_pooled_connections(server: SimServer, dbs: tuple[str, str]) -> None:
    """A moved, copied or renamed database has its backends terminated; like Odoo's pool (which resets
    every connection it hands out) the next request gets a fresh connection, not a logged-out session."""
    host = f"{dbs[0]}.localhost"
    _, sid = login(server.port, host)
    assert session_db(server.port, host, sid) == dbs[0]  # the process now holds idle connections to it
    with admin() as conn:
        killed = conn.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s"
                              " AND application_name LIKE 'odoo-%%'", (dbs[0],)).fetchone()
    assert killed is not None and killed[0] >= 1
    assert session_db(server.port, host, sid) == dbs[0]


def test_wrong_password_shows_the_login_page_again(server: SimServer, dbs: tuple[str, str]) -> None:
    response, _ = login(server.port, f"{dbs[0]}.localhost", password="nope")
    assert response.status == 200
    assert "Wrong login/password" in response.text


def test_unknown_host_is_redirected_to_the_selector(server: SimServer) -> None:
    response = request(server.port, "GET", "/web/login", host="unknown.localhost")
    assert response.status == 303
    assert response.headers["location"] == "/web/database/selector"
    selector = request(server.port, "GET", "/web/database/selector", host="unknown.localhost")
    assert selector.status == 200
    assert "disabled by the administrator" in selector.text


def test_forwarded_host_is_ignored_without_proxy_mode(server: SimServer, dbs: tuple[str, str]) -> None:
    response = request(server.port, "GET", "/web/login", host="unknown.localhost",
                       headers={"X-Forwarded-Host": f"{dbs[0]}.localhost"})
    assert response.status == 303


def test_login_page_has_the_form_fields(server: SimServer, dbs: tuple[str, str]) -> None:
    page = request(server.port, "GET", "/web/login", host=f"{dbs[0]}.localhost")
    assert "<title>Odoo</title>" in page.text
    for name in ("csrf_token", "login", "password"):
        assert re.search(rf'name="{name}"', page.text)


def test_login_redirect_stays_on_the_same_site(server: SimServer, dbs: tuple[str, str]) -> None:
    page = request(server.port, "GET", "/web/login", host=f"{dbs[0]}.localhost")
    sid = page.cookies["session_id"]
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match is not None
    form = f"login=admin&password=admin&redirect=https://evil.example.com/x&csrf_token={match.group(1)}"
    response = request(server.port, "POST", "/web/login", host=f"{dbs[0]}.localhost", body=form, cookie=sid,
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert (response.status, response.headers["location"]) == (303, "/x")


def test_post_without_csrf_token_is_refused(server: SimServer, dbs: tuple[str, str]) -> None:
    response = request(server.port, "POST", "/web/login", host=f"{dbs[0]}.localhost", body="login=admin&password=admin",
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status == 400


def test_session_info_needs_a_login(server: SimServer, dbs: tuple[str, str]) -> None:
    payload = jsonrpc(server.port, "/web/session/get_session_info", {}, host=f"{dbs[0]}.localhost").json()
    assert payload["error"]["code"] == 100
    assert payload["error"]["data"]["name"] == "odoo.http.SessionExpiredException"


def test_authenticate_refuses_a_database_outside_the_dbfilter(server: SimServer, dbs: tuple[str, str]) -> None:
    first, second = dbs
    denied = jsonrpc(server.port, "/web/session/authenticate", {"db": second, "login": "admin", "password": "admin"},
                     host=f"{first}.localhost").json()
    assert denied["error"]["data"]["name"] == "odoo.exceptions.AccessError"
    assert "Database not found." in denied["error"]["data"]["message"]
    allowed = jsonrpc(server.port, "/web/session/authenticate", {"db": first, "login": "admin", "password": "admin"},
                      host=f"{first}.localhost").json()
    assert allowed["result"]["db"] == first
    assert allowed["result"]["uid"] == 2


def test_version_info(server: SimServer) -> None:
    result = jsonrpc(server.port, "/web/webclient/version_info", {}).json()["result"]
    assert result == {"server_version": "18.0", "server_version_info": [18, 0, 0, "final", 0, ""],
                      "server_serie": "18.0", "protocol_version": 1}


def test_xmlrpc_ignores_dbfilter_and_takes_the_database_as_argument(server: SimServer, dbs: tuple[str, str]) -> None:
    common = xmlrpc.client.ServerProxy(f"http://127.0.0.1:{server.port}/xmlrpc/2/common")
    assert common.version()["server_serie"] == "18.0"
    for dbname in dbs:
        assert common.authenticate(dbname, "admin", "admin", {}) == 2
    assert common.authenticate(dbs[0], "admin", "wrong", {}) is False
    models = xmlrpc.client.ServerProxy(f"http://127.0.0.1:{server.port}/xmlrpc/2/object")
    users = models.execute_kw(dbs[1], 2, "admin", "res.users", "search_read", [[["login", "=", "admin"]]],
                              {"fields": ["login", "partner_id"]})
    assert users == [{"id": 2, "login": "admin", "partner_id": [3, "Administrator"]}]
    assert models.execute_kw(dbs[1], 2, "admin", "ir.module.module", "search_count",
                             [[["state", "=", "installed"]]]) == 12
    with pytest.raises(xmlrpc.client.Fault) as denied:
        models.execute_kw(dbs[1], 2, "bad", "res.partner", "search", [[]])
    assert denied.value.faultCode == 3


def test_jsonrpc_endpoint_serves_the_same_services(server: SimServer, dbs: tuple[str, str]) -> None:
    def call(service: str, method: str, *args: object) -> dict[str, object]:
        payload = jsonrpc(server.port, "/jsonrpc", {"service": service, "method": method, "args": list(args)}).json()
        assert isinstance(payload, dict)
        return payload

    assert call("common", "login", dbs[0], "admin", "admin")["result"] == 2
    assert call("common", "login", dbs[0], "admin", "nope")["result"] is False
    partners = call("object", "execute_kw", dbs[0], 2, "admin", "res.partner", "search_read",
                    [[["is_company", "=", True]]], {"fields": ["name"]})["result"]
    assert partners == [{"id": 1, "name": "My Company"}]
    denied = call("db", "list")["error"]
    assert isinstance(denied, dict)
    assert denied["data"]["name"] == "odoo.exceptions.AccessDenied"  # type: ignore[index]


def test_database_listing_is_denied_when_list_db_is_off(server: SimServer) -> None:
    db_service = xmlrpc.client.ServerProxy(f"http://127.0.0.1:{server.port}/xmlrpc/2/db")
    with pytest.raises(xmlrpc.client.Fault) as denied:
        db_service.list()
    assert (denied.value.faultCode, denied.value.faultString) == (3, "Access Denied")
    assert db_service.server_version() == "18.0"


def test_database_backup_is_an_http_200_error_page_when_list_db_is_off(server: SimServer) -> None:
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    response = request(server.port, "POST", "/web/database/backup", body="master_pwd=&name=x", headers=form)
    assert response.status == 200
    assert "Database backup error: Access Denied" in response.text
    # With the default master password "admin", Odoo first tries to replace it by the submitted one: blocked, 403.
    response = request(server.port, "POST", "/web/database/backup", body="master_pwd=guess&name=x", headers=form)
    assert response.status == 403


def test_websocket_upgrades_on_the_threaded_http_port(server: SimServer, dbs: tuple[str, str]) -> None:
    assert websocket_upgrade(server.port, f"{dbs[0]}.localhost") == "HTTP/1.1 101 Switching Protocols"


def test_access_log_carries_request_id_and_database(server: SimServer, dbs: tuple[str, str]) -> None:
    request(server.port, "GET", "/web/login", host=f"{dbs[0]}.localhost", headers={"X-Request-Id": "abc-123"})
    line = wait_for(lambda: next((li for li in server.log().splitlines() if "request_id=abc-123" in li), None),
                    what="access line")
    assert f" INFO {dbs[0]} werkzeug: 127.0.0.1 - - [" in line
    assert '"GET /web/login HTTP/1.1" 200 - request_id=abc-123' in line


def test_sessions_are_files_in_the_data_dir(server: SimServer, dbs: tuple[str, str]) -> None:
    _, sid = login(server.port, f"{dbs[0]}.localhost")
    assert (server.conf.parent / "data" / "sessions" / sid[:2] / sid).is_file()


def test_proxy_mode_honours_forwarded_host(role: Role, dbs: tuple[str, str], tmp_path: Path) -> None:
    port = free_port()
    conf = write_conf(tmp_path, role, http_port=port, dbfilter="^%d$", proxy_mode=True, max_cron_threads=0)
    with SimServer(conf, port=port) as running:
        headers = {"X-Forwarded-Host": f"{dbs[1]}.example.com"}
        response, sid = login(running.port, "pool.internal", headers=headers)
        assert response.status == 303
        assert session_db(running.port, "pool.internal", sid, headers=headers) == dbs[1]
        assert request(running.port, "GET", "/web/login", host="pool.internal").status == 303


def test_crash_after_requests_exits_the_process(role: Role, tmp_path: Path) -> None:
    port = free_port()
    conf = write_conf(tmp_path, role, http_port=port, sim_crash_after_requests=3, max_cron_threads=0)
    with SimServer(conf, port=port) as running:  # its readiness probe is request 1
        for _ in range(2):
            request(running.port, "GET", "/web/health")
        assert running.stop(timeout=30) == 70


def test_sigterm_stops_the_threaded_server_cleanly(role: Role, tmp_path: Path) -> None:
    port = free_port()
    conf = write_conf(tmp_path, role, http_port=port, max_cron_threads=1)
    with SimServer(conf, port=port) as running:
        assert running.stop() == 0
        assert "Initiating shutdown" in running.log()


def test_threaded_crons_only_visit_databases_served_since_start(role: Role, dbs: tuple[str, str],
                                                                tmp_path: Path) -> None:
    first, second = dbs
    for dbname in dbs:
        role.query(dbname, "UPDATE ir_cron SET nextcall = now() at time zone 'UTC' - interval '1 hour',"
                           " lastcall = NULL RETURNING id")
    port = free_port()
    conf = write_conf(tmp_path, role, http_port=port, dbfilter="^%d$", max_cron_threads=1, sim_cron_interval=0.3)
    with SimServer(conf, port=port):
        request(port, "GET", "/web/login", host=f"{first}.localhost")
        wait_for(lambda: role.query(first, "SELECT bool_and(lastcall IS NOT NULL) FROM ir_cron WHERE active")[0][0],
                 what="crons of the served database")
        assert role.query(second, "SELECT count(*) FROM ir_cron WHERE lastcall IS NOT NULL") == [(0,)]


def test_registry_lru_size_bounds_loaded_registries(role: Role, dbs: tuple[str, str], tmp_path: Path) -> None:
    port = free_port()
    conf = write_conf(tmp_path, role, http_port=port, dbfilter="^%d$", registry_lru_size=1, max_cron_threads=0)
    with SimServer(conf, port=port) as running:
        for dbname in (dbs[0], dbs[1], dbs[0]):
            assert request(port, "GET", "/web/login", host=f"{dbname}.localhost").status == 200
        assert running.log().count("odoo.modules.registry: Registry loaded") == 3


def test_series_17_redirects_to_web_after_login(role: Role, tmp_path: Path) -> None:
    port = free_port()
    conf = write_conf(tmp_path, role, http_port=port, sim_series="17.0", dbfilter="^%d$", max_cron_threads=0)
    dbname = role.new_db_name()
    init_db(conf, dbname)
    with SimServer(conf, port=port):
        response, _ = login(port, f"{dbname}.localhost")
        assert (response.status, response.headers["location"]) == (303, "/web")
        assert jsonrpc(port, "/web/webclient/version_info", {}).json()["result"]["server_serie"] == "17.0"


def test_series_15_serves_longpolling_instead_of_websocket(role: Role, tmp_path: Path) -> None:
    port = free_port()
    conf = write_conf(tmp_path, role, http_port=port, sim_series="15.0", dbfilter="^%d$", max_cron_threads=0,
                      sim_longpolling_timeout=0.1)
    dbname = role.new_db_name()
    init_db(conf, dbname)
    with SimServer(conf, port=port):
        host = f"{dbname}.localhost"
        assert request(port, "GET", "/websocket", host=host).status == 404
        assert jsonrpc(port, "/longpolling/poll", {"channels": [], "last": 0}, host=host).json()["result"] == []


def test_database_manager_backup_duplicate_and_drop_with_list_db(role: Role, tmp_path: Path) -> None:
    if not shutil.which("pg_dump") and not glob.glob("/usr/lib/postgresql/*/bin/pg_dump"):
        pytest.skip("pg_dump is not installed")
    port = free_port()
    conf = write_conf(tmp_path, role, http_port=port, max_cron_threads=0, admin_passwd="m4ster")
    source, copy = role.new_db_name(), role.new_db_name()
    init_db(conf, source)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    with SimServer(conf, port=port):
        refused = request(port, "POST", "/web/database/backup", body=f"master_pwd=nope&name={source}", headers=form)
        assert (refused.status, "Database backup error: Access Denied" in refused.text) == (200, True)
        backup = request(port, "POST", "/web/database/backup", body=f"master_pwd=m4ster&name={source}", headers=form)
        assert backup.status == 200
        assert backup.headers["content-disposition"].startswith(f"attachment; filename*=UTF-8''{source}_")
        with zipfile.ZipFile(io.BytesIO(backup.body)) as archive:
            names = archive.namelist()
            manifest = json.loads(archive.read("manifest.json"))
        assert names[0] == "dump.sql"
        assert any(name.startswith("filestore/") for name in names)
        assert manifest["db_name"] == source
        assert manifest["modules"]["base"] == "18.0.1.3"
        duplicated = request(port, "POST", "/web/database/duplicate",
                             body=f"master_pwd=m4ster&name={source}&new_name={copy}", headers=form)
        assert (duplicated.status, duplicated.headers["location"]) == (303, "/web/database/manager")
        secrets = [role.query(db, "SELECT value FROM ir_config_parameter WHERE key = 'database.secret'")
                   for db in (source, copy)]
        assert secrets[0] != secrets[1]
        assert (tmp_path / "data" / "filestore" / copy).is_dir()
        dropped = request(port, "POST", "/web/database/drop", body=f"master_pwd=m4ster&name={copy}", headers=form)
        assert dropped.status == 303
        assert not role.db_exists(copy)
        assert not (tmp_path / "data" / "filestore" / copy).exists()
        listed = jsonrpc(port, "/web/database/list", {}).json()["result"]
        assert source in listed


def test_startup_delay_postpones_listening(role: Role, tmp_path: Path) -> None:
    port = free_port()
    conf = write_conf(tmp_path, role, http_port=port, max_cron_threads=0, sim_startup_delay=1.0)
    start = time.monotonic()
    with SimServer(conf, port=port):
        assert time.monotonic() - start >= 1.0
