"""dbfilter semantics of odoo/http.py (see ODOO-FACTS.md)."""

from __future__ import annotations

import pytest

from odooplane.sim.dbfilter import db_filter, host_parts, request_host

DBS = ["acme", "acme_prod", "m05", "x", "www", "erp", "acme.example.com", "shop.acme.example.com"]


@pytest.mark.parametrize(
    ("host", "pattern", "expected"),
    [
        ("m05.localhost:8069", "^%d$", ["m05"]),
        ("www.acme.example.com", "^%d$", ["acme"]),
        ("ACME.example.com", "^%d$", []),
        ("x.m05.localhost", "^%d$", ["x"]),
        ("acme.localhost", "%d", ["acme", "acme_prod", "acme.example.com"]),
        ("acme.localhost", "^%d$", ["acme"]),
        ("acme.example.com", "^%h$", ["acme.example.com"]),
        ("www.acme.example.com:443", "^%h$", ["acme.example.com"]),
        ("shop.acme.example.com", "^%h$", ["shop.acme.example.com"]),
        ("erp.acme.com", "^%d$", ["erp"]),
        ("www.www.example.com", "^%d$", ["www"]),
        ("unknown.localhost", "^%d$", []),
        ("", "^%d$", []),
    ],
)
def test_dbfilter_keeps_the_databases_the_host_selects(host: str, pattern: str, expected: list[str]) -> None:
    assert db_filter(DBS, host=host, dbfilter=pattern, db_name="") == expected


def test_dbfilter_escapes_the_host_so_dots_are_not_wildcards() -> None:
    assert db_filter(["acmeXexample"], host="acme.example", dbfilter="^%h$", db_name="") == []


def test_dbfilter_takes_precedence_over_db_name() -> None:
    assert db_filter(DBS, host="m05.localhost", dbfilter="^%d$", db_name="acme,x") == ["m05"]


def test_without_dbfilter_db_name_lists_the_exposed_databases() -> None:
    assert db_filter(DBS, host="whatever", dbfilter="", db_name=" x , acme,missing") == ["acme", "x"]


def test_without_dbfilter_nor_db_name_every_database_is_kept() -> None:
    assert db_filter(DBS, host="whatever", dbfilter="", db_name="") == DBS


def test_host_parts_drops_port_and_a_single_www() -> None:
    assert host_parts("www.www.a.b:8069") == ("www.a.b", "www")
    assert host_parts("localhost") == ("localhost", "localhost")


def test_forwarded_host_is_used_only_in_proxy_mode() -> None:
    headers = {"host": "pool.internal:8069", "x-forwarded-host": "acme.example.com"}
    assert request_host(headers, proxy_mode=False) == "pool.internal:8069"
    assert request_host(headers, proxy_mode=True) == "acme.example.com"


def test_forwarded_host_trusts_only_the_last_proxy() -> None:
    headers = {"host": "pool", "x-forwarded-host": "evil.example.com, acme.example.com"}
    assert request_host(headers, proxy_mode=True) == "acme.example.com"


def test_empty_forwarded_host_falls_back_to_host() -> None:
    assert request_host({"host": "m05.localhost", "x-forwarded-host": ""}, proxy_mode=True) == "m05.localhost"
