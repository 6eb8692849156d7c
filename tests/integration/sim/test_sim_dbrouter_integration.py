"""Shared pools: threaded and prefork simulators with the odooplane_dbrouter server-wide module.

Three databases owned by one role, ``dbfilter = .*`` (which alone would serve all three) and
``server_wide_modules = base,web,odooplane_dbrouter``: each request may only use the database named by
its ``X-Odooplane-Database`` header, and RPC calls naming another database are refused.
"""

from __future__ import annotations

import http.client
import itertools
import re
import urllib.parse
import xmlrpc.client
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from simharness import (
    Response,
    Role,
    SimServer,
    free_port,
    init_db,
    jsonrpc,
    login,
    make_role,
    request,
    session_db,
    write_conf,
)

pytestmark = pytest.mark.integration

HEADER = "X-Odooplane-Database"
ROUTER = "base,web,odooplane_dbrouter"


def routed(db: str) -> dict[str, str]:
    return {HEADER: db}


@pytest.fixture(scope="module")
def role() -> Iterator[Role]:
    with make_role() as made:
        yield made


@pytest.fixture(scope="module")
def dbs(role: Role, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, str]:
    conf = write_conf(tmp_path_factory.mktemp("init"), role)
    names = (role.new_db_name(), role.new_db_name(), role.new_db_name())
    for name in names:
        init_db(conf, name)
    return names


@pytest.fixture(scope="module", params=["threaded", "prefork"])
def server(request: pytest.FixtureRequest, role: Role, dbs: tuple[str, str, str],
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimServer]:
    port, evented = free_port(), free_port()
    options: dict[str, object] = {"http_port": port, "dbfilter": ".*", "server_wide_modules": ROUTER,
                                  "max_cron_threads": 0}
    if request.param == "prefork":
        options.update(workers=2, gevent_port=evented)
    conf = write_conf(tmp_path_factory.mktemp(request.param), role, **options)
    with SimServer(conf, port=port, evented_port=evented) as running:
        yield running


def pairs(dbs: tuple[str, str, str]) -> list[tuple[str, str]]:
    return list(itertools.product(dbs, dbs))


def xmlrpc_call(port: int, path: str, method: str, params: tuple[Any, ...], headers: dict[str, str]) -> Any:
    """One XML-RPC call with extra headers; return its result or raise its xmlrpc.client.Fault."""
    body = xmlrpc.client.dumps(params, method)
    response = request(port, "POST", path, body=body, headers={"Content-Type": "text/xml", **headers})
    assert response.status == 200, response.text
    return xmlrpc.client.loads(response.body)[0][0]


def rpc(port: int, service: str, method: str, *args: Any, headers: dict[str, str]) -> dict[str, Any]:
    payload = jsonrpc(port, "/jsonrpc", {"service": service, "method": method, "args": list(args)},
                      headers=headers).json()
    assert isinstance(payload, dict)
    return payload


def login_page_form(response: Response) -> tuple[str, str]:
    match = re.search(r'name="csrf_token" value="([^"]+)"', response.text)
    assert match is not None, response.text
    return response.cookies["session_id"], match.group(1)


def test_the_router_is_logged_at_start(server: SimServer) -> None:
    assert "odooplane_dbrouter: requests are routed by the HTTP_X_ODOOPLANE_DATABASE header" in server.log()


def test_health_and_version_info_need_no_header(server: SimServer) -> None:
    assert request(server.port, "GET", "/web/health").status == 200
    result = jsonrpc(server.port, "/web/webclient/version_info", {}).json()["result"]
    assert result["server_serie"] == "18.0"


def test_login_via_the_header_lands_on_its_database(server: SimServer, dbs: tuple[str, str, str]) -> None:
    for db in dbs:
        response, sid = login(server.port, "pool.localhost", headers=routed(db))
        assert (response.status, response.headers["location"]) == (303, "/odoo")
        assert session_db(server.port, "pool.localhost", sid, headers=routed(db)) == db


def test_login_db_parameter_cannot_switch_to_another_database(server: SimServer,
                                                              dbs: tuple[str, str, str]) -> None:
    for header_db, target in pairs(dbs):
        page = request(server.port, "GET", f"/web/login?db={target}", host="pool.localhost",
                       headers=routed(header_db))
        assert page.status == 200, (header_db, target, page.status, page.headers.get("location"))
        sid, token = login_page_form(page)
        form = urllib.parse.urlencode({"login": "admin", "password": "admin", "csrf_token": token})
        response = request(server.port, "POST", f"/web/login?db={target}", host="pool.localhost", body=form,
                           cookie=sid, headers={"Content-Type": "application/x-www-form-urlencoded",
                                                **routed(header_db)})
        assert response.status == 303, (header_db, target, response.text)
        sid = response.cookies.get("session_id", sid)
        assert session_db(server.port, "pool.localhost", sid, headers=routed(header_db)) == header_db


def test_session_authenticate_only_accepts_the_routed_database(server: SimServer,
                                                               dbs: tuple[str, str, str]) -> None:
    for header_db, target in pairs(dbs):
        payload = jsonrpc(server.port, "/web/session/authenticate",
                          {"db": target, "login": "admin", "password": "admin"}, headers=routed(header_db)).json()
        if target == header_db:
            assert payload["result"]["db"] == target
            assert payload["result"]["uid"] == 2
        else:
            assert payload["error"]["data"]["name"] == "odoo.exceptions.AccessError"
            assert "Database not found." in payload["error"]["data"]["message"]


def test_xmlrpc_authenticate_only_on_the_routed_database(server: SimServer, dbs: tuple[str, str, str]) -> None:
    for header_db, target in pairs(dbs):
        call = (server.port, "/xmlrpc/2/common", "authenticate", (target, "admin", "admin", {}), routed(header_db))
        if target == header_db:
            assert xmlrpc_call(*call) == 2
        else:
            with pytest.raises(xmlrpc.client.Fault) as denied:
                xmlrpc_call(*call)
            assert (denied.value.faultCode, denied.value.faultString) == (3, "Access Denied")


def test_jsonrpc_execute_kw_only_on_the_routed_database(server: SimServer, dbs: tuple[str, str, str]) -> None:
    for header_db, target in pairs(dbs):
        payload = rpc(server.port, "object", "execute_kw", target, 2, "admin", "res.users", "search_count",
                      [[["login", "=", "admin"]]], headers=routed(header_db))
        if target == header_db:
            assert payload["result"] == 1
        else:
            assert payload["error"]["data"]["name"] == "odoo.exceptions.AccessDenied"
            assert payload["error"]["data"]["message"] == "Access Denied"


def test_other_rpc_paths_are_guarded_too(server: SimServer, dbs: tuple[str, str, str]) -> None:
    first, second, _ = dbs
    with pytest.raises(xmlrpc.client.Fault) as legacy:
        xmlrpc_call(server.port, "/xmlrpc/common", "login", (second, "admin", "admin"), routed(first))
    assert str(legacy.value.faultCode) == "AccessDenied"
    assert xmlrpc_call(server.port, "/xmlrpc/common", "login", (first, "admin", "admin"), routed(first)) == 2
    with pytest.raises(xmlrpc.client.Fault) as object_call:
        xmlrpc_call(server.port, "/xmlrpc/2/object", "execute_kw",
                    (second, 2, "admin", "res.partner", "search_count", [[]]), routed(first))
    assert object_call.value.faultCode == 3
    assert xmlrpc_call(server.port, "/xmlrpc/2/db", "db_exist", (first,), routed(first)) is True
    assert rpc(server.port, "db", "db_exist", second, headers=routed(first))["error"]["data"]["name"] == \
        "odoo.exceptions.AccessDenied"
    assert rpc(server.port, "common", "login", first, "admin", "admin", headers=routed(first))["result"] == 2


def test_without_the_header_no_database_is_served(server: SimServer, dbs: tuple[str, str, str]) -> None:
    first = dbs[0]
    response = request(server.port, "GET", "/web/login", host="pool.localhost")
    assert (response.status, response.headers["location"]) == (303, "/web/database/selector")
    response = request(server.port, "GET", f"/web/login?db={first}", host="pool.localhost",
                       headers=routed(""))
    assert (response.status, response.headers["location"]) == (303, "/web/database/selector")
    payload = jsonrpc(server.port, "/web/session/authenticate", {"db": first, "login": "admin", "password": "admin"},
                      host="pool.localhost").json()
    assert "Database not found." in payload["error"]["data"]["message"]
    with pytest.raises(xmlrpc.client.Fault) as denied:
        xmlrpc_call(server.port, "/xmlrpc/2/common", "authenticate", (first, "admin", "admin", {}), {})
    assert denied.value.faultCode == 3
    assert rpc(server.port, "object", "execute_kw", first, 2, "admin", "res.users", "search_count", [[]],
               headers={})["error"]["data"]["name"] == "odoo.exceptions.AccessDenied"
    # Methods that take no database keep working; db.list stays governed by list_db (on here).
    assert xmlrpc_call(server.port, "/xmlrpc/2/common", "version", (), {})["server_serie"] == "18.0"
    assert xmlrpc_call(server.port, "/xmlrpc/2/db", "server_version", (), {}) == "18.0"
    assert rpc(server.port, "db", "list_lang", headers={})["result"] == [["en_US", "English (US)"]]
    assert set(dbs) <= set(rpc(server.port, "db", "list", headers={})["result"])
    assert jsonrpc(server.port, "/web/database/list", {}).json()["result"] == []


def test_a_session_of_another_database_is_dropped(server: SimServer, dbs: tuple[str, str, str]) -> None:
    first, second, _ = dbs
    _, sid = login(server.port, "pool.localhost", headers=routed(first))
    assert session_db(server.port, "pool.localhost", sid, headers=routed(second)) is None
    assert session_db(server.port, "pool.localhost", sid, headers=routed(first)) is None  # logged out for good
    assert "dbfilter rejects it; logging session out." in server.log()


def test_header_name_is_case_insensitive_and_the_value_exact(server: SimServer, dbs: tuple[str, str, str]) -> None:
    first = dbs[0]
    for name in ("x-odooplane-database", "X-ODOOPLANE-DATABASE"):
        response, sid = login(server.port, "pool.localhost", headers={name: first})
        assert response.status == 303
        assert session_db(server.port, "pool.localhost", sid, headers={name: first}) == first
    for value in (first.upper(), first[:-1], f"{first[:-1]}.", ".*"):
        response = request(server.port, "GET", "/web/login", host="pool.localhost", headers=routed(value))
        assert response.status == 303, value
        assert response.headers["location"] == "/web/database/selector"


def test_a_repeated_header_routes_nowhere(server: SimServer, dbs: tuple[str, str, str]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.putrequest("GET", "/web/login")
        conn.putheader(HEADER, dbs[0])
        conn.putheader(HEADER, dbs[0])
        conn.endheaders()
        response = conn.getresponse()
        response.read()
    finally:
        conn.close()
    assert (response.status, response.getheader("location")) == (303, "/web/database/selector")


def test_without_the_module_the_header_changes_nothing(role: Role, dbs: tuple[str, str, str],
                                                       tmp_path: Path) -> None:
    first, second, _ = dbs
    port = free_port()
    conf = write_conf(tmp_path, role, http_port=port, dbfilter=".*", max_cron_threads=0)
    with SimServer(conf, port=port) as running:
        assert "odooplane_dbrouter" not in running.log()
        # Several databases match and the header means nothing: the selector, as without it.
        response = request(port, "GET", "/web/login", host="pool.localhost", headers=routed(first))
        assert (response.status, response.headers["location"]) == (303, "/web/database/selector")
        # ?db= picks any database the dbfilter allows.
        response = request(port, "GET", f"/web/login?db={second}", host="pool.localhost", headers=routed(first))
        assert response.status == 302
        payload = jsonrpc(port, "/web/session/authenticate", {"db": second, "login": "admin", "password": "admin"},
                          headers=routed(first)).json()
        assert payload["result"]["db"] == second
        assert xmlrpc_call(port, "/xmlrpc/2/common", "authenticate", (second, "admin", "admin", {}),
                           routed(first)) == 2
        assert rpc(port, "object", "execute_kw", second, 2, "admin", "res.users", "search_count",
                   [[["login", "=", "admin"]]], headers=routed(first))["result"] == 1
        assert set(dbs) <= set(jsonrpc(port, "/web/database/list", {}, headers=routed(first)).json()["result"])
