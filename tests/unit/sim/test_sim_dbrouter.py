"""The odooplane_dbrouter server-wide module: web filtering and the RPC guard (no database needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from odooplane.sim import config as configuration
from odooplane.sim import dbrouter, httpio, rpc
from odooplane.sim.app import RequestContext, Services
from odooplane.sim.cli import load
from odooplane.sim.exceptions import AccessDenied

DBS = ["acme", "acme_prod", "beta", "gamma"]


def test_header_name_is_matched_lower_cased() -> None:
    assert dbrouter.HEADER == "x-odooplane-database"
    assert dbrouter.routed_database({"x-odooplane-database": "acme"}) == "acme"


@pytest.mark.parametrize("headers", [{}, {"x-odooplane-database": ""}, {"host": "acme.localhost"}])
def test_no_or_empty_header_routes_nowhere(headers: dict[str, str]) -> None:
    assert dbrouter.routed_database(headers) is None
    assert dbrouter.route(DBS, dbrouter.routed_database(headers)) == []


@pytest.mark.parametrize(
    ("routed", "expected"),
    [("acme", ["acme"]), ("beta", ["beta"]), ("acme_prod", ["acme_prod"]), ("missing", []), ("acm", []),
     ("ACME", []), ("acme.*", []), (" acme", []), ("acme,beta", [])],
)
def test_route_keeps_exactly_the_routed_database(routed: str, expected: list[str]) -> None:
    assert dbrouter.route(DBS, routed) == expected


def test_route_only_narrows_the_dbfilter_result() -> None:
    assert dbrouter.route(["acme_prod"], "acme") == []
    assert dbrouter.route([], "acme") == []


@pytest.mark.parametrize(
    ("service", "method", "params"),
    [("common", "version", []), ("common", "about", [True]), ("db", "server_version", []),
     ("db", "list_lang", []), ("db", "list_countries", ["admin"]), ("db", "list", [])],
)
def test_methods_without_a_database_need_no_header(service: str, method: str, params: list[Any]) -> None:
    for routed in (None, "acme"):
        assert dbrouter.rpc_allowed(service, method, params, routed)


@pytest.mark.parametrize(
    ("service", "method", "params"),
    [("common", "login", ["acme", "admin", "admin"]), ("common", "authenticate", ["acme", "admin", "admin", {}]),
     ("object", "execute_kw", ["acme", 2, "admin", "res.partner", "search", [[]]]),
     ("object", "execute", ["acme", 2, "admin", "res.partner", "search", []]),
     ("db", "db_exist", ["acme"]), ("common", "set_loglevel", ["acme"])],
)
def test_methods_taking_a_database_need_the_header_to_name_it(service: str, method: str,
                                                              params: list[Any]) -> None:
    assert dbrouter.rpc_allowed(service, method, params, "acme")
    assert not dbrouter.rpc_allowed(service, method, params, "beta")
    assert not dbrouter.rpc_allowed(service, method, params, None)


@pytest.mark.parametrize(
    ("method", "params"),
    [("drop", ["acme", "acme"]), ("drop", ["master", "acme"]), ("duplicate_database", ["master", "acme", "x"]),
     ("rename", ["master", "acme", "x"]), ("dump", ["master", "acme", "zip"]),
     ("change_admin_password", ["master", "new"]), ("create_database", ["master", "acme", False])],
)
def test_database_manager_methods_are_checked_on_their_first_parameter(method: str, params: list[Any]) -> None:
    # The addon compares the first parameter, here the master password: the routed database never matches it
    # unless the password is that database's name.
    assert dbrouter.rpc_allowed("db", method, params, "acme") == (params[0] == "acme")
    assert not dbrouter.rpc_allowed("db", method, params, None)


def test_unknown_services_and_empty_parameters_are_refused() -> None:
    assert not dbrouter.rpc_allowed("report", "render_report", ["acme"], "beta")
    assert dbrouter.rpc_allowed("report", "render_report", ["acme"], "acme")
    assert not dbrouter.rpc_allowed("common", "login", [], "acme")
    assert not dbrouter.rpc_allowed("object", "execute_kw", [2], "2")


def _conf(tmp_path: Path, **options: object) -> Path:
    values = {"data_dir": tmp_path / "data", "dbfilter": ".*", **options}
    conf = tmp_path / "odoo.conf"
    conf.write_text("[options]\n" + "".join(f"{key} = {value}\n" for key, value in values.items()))
    return conf


def test_server_wide_modules_come_from_the_file_or_load(tmp_path: Path) -> None:
    conf = _conf(tmp_path, server_wide_modules="base, web ,odooplane_dbrouter")
    config, _ = load("server", ["-c", str(conf)])
    assert config.server_wide_modules == ["base", "web", "odooplane_dbrouter"]
    assert Services.create(config, "threaded").dbrouter
    config, _ = load("server", ["-c", str(conf), "--load", "base,web"])
    assert not Services.create(config, "threaded").dbrouter
    config, _ = load("server", ["-c", str(_conf(tmp_path)), "--load=base,web,odooplane_dbrouter"])
    assert Services.create(config, "threaded").dbrouter
    assert configuration.build(rcfile=str(_conf(tmp_path))).server_wide_modules == ["base", "web"]


def _context(tmp_path: Path, headers: dict[str, str], **options: object) -> RequestContext:
    config = configuration.build(rcfile=str(_conf(tmp_path, **options)))
    services = Services.create(config, "threaded")
    request = httpio.Request(method="POST", path="/jsonrpc", query_string="",
                             headers={"host": "pool.localhost", **headers}, body=b"", remote_addr="127.0.0.1")
    return RequestContext(services, request, services.store.new(), None, None)


def test_request_db_filter_applies_the_dbfilter_then_the_header(tmp_path: Path) -> None:
    routed = {"x-odooplane-database": "acme"}
    assert _context(tmp_path, routed, server_wide_modules="base,web,odooplane_dbrouter").db_filter(DBS) == ["acme"]
    assert _context(tmp_path, {}, server_wide_modules="base,web,odooplane_dbrouter").db_filter(DBS) == []
    narrowed = _context(tmp_path, routed, server_wide_modules="base,web,odooplane_dbrouter", dbfilter="^beta$")
    assert narrowed.db_filter(DBS) == []
    # Without the module the header means nothing.
    assert _context(tmp_path, routed).db_filter(DBS) == DBS
    assert _context(tmp_path, routed, server_wide_modules="base,web,odooplane_dbrouterx").db_filter(DBS) == DBS


def test_rpc_dispatch_refuses_before_touching_any_database(tmp_path: Path) -> None:
    ctx = _context(tmp_path, {"x-odooplane-database": "acme"}, server_wide_modules="base,web,odooplane_dbrouter")
    with pytest.raises(AccessDenied):
        rpc.dispatch(ctx, "common", "authenticate", ["beta", "admin", "admin", {}])
    with pytest.raises(AccessDenied):
        rpc.dispatch(ctx, "object", "execute_kw", ["beta", 2, "admin", "res.partner", "search", [[]]])
    with pytest.raises(AccessDenied):
        rpc.dispatch(ctx, "nosuchservice", "x", ["beta"])
    assert rpc.dispatch(ctx, "common", "version", [])["server_serie"] == "18.0"
    assert rpc.dispatch(ctx, "db", "server_version", []) == "18.0"
    unrouted = _context(tmp_path, {}, server_wide_modules="base,web,odooplane_dbrouter")
    with pytest.raises(AccessDenied):
        rpc.dispatch(unrouted, "db", "db_exist", ["acme"])
    assert rpc.dispatch(unrouted, "common", "about", []) == "See http://openerp.com"
