"""Reading an environment's lines out of shared logs: Odoo's (a pool's serves many databases),
Traefik's JSON access log, a managed PostgreSQL's."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from odooplane.actions import logs


def test_odoo_lines_of_one_database() -> None:
    parse = logs.odoo_parser("acme_staging")
    mine = "2026-11-23 11:37:34,328 13135 INFO acme_staging werkzeug: GET /web/login 200"
    theirs = "2026-11-23 11:37:35,001 13135 ERROR beta_staging odoo.sql_db: bad query"
    line = parse(mine)
    assert line is not None and line.level == "info" and line.at == dt.datetime(2026, 11, 23, 11, 37, 34, 328000,
                                                                                 tzinfo=dt.UTC)
    assert parse(theirs) is None
    assert parse("Traceback (most recent call last):") is None  # whose it is cannot be told
    assert logs.odoo_parser(None)("Traceback (most recent call last):") is not None


def test_edge_lines_of_an_environment_routers() -> None:
    parse = logs.edge_parser(("acme__prod",))
    entry = {"RouterName": "acme__prod.tls@file", "DownstreamStatus": 502, "Duration": 1500000,
             "RequestMethod": "GET", "RequestHost": "erp.acme.example", "RequestPath": "/web",
             "StartUTC": "2026-11-23T11:37:49.192899218Z", "TraceId": "65f66774c0b06c19e50bedd9d95e6fa6"}
    line = parse(json.dumps(entry))
    assert line is not None and line.level == "error"
    assert line.text == ("GET erp.acme.example/web 502 1.5ms router=acme__prod.tls "
                         "request_id=65f66774c0b06c19e50bedd9d95e6fa6")
    assert line.at is not None and line.at.microsecond == 192899
    assert parse(json.dumps({**entry, "RouterName": "acme__prodx@file"})) is None
    assert parse(json.dumps({**entry, "RouterName": "acme__prod-x.tls@file"})) is None  # environment prod-x's
    assert parse("not json") is None


def test_postgres_lines_of_one_database() -> None:
    parse = logs.postgres_parser("acme_prod")
    line = parse("2026-11-23 11:40:01.123 UTC [4242] acme_prod@acme_prod ERROR:  deadlock detected")
    assert line is not None and line.level == "error" and line.at is not None and line.at.microsecond == 123000
    assert parse("2026-11-23 11:40:01.123 UTC [4242] beta_prod@beta_prod LOG:  duration: 5001 ms") is None
    assert logs.postgres_parser(None)("2026-11-23 11:40:01.123 UTC [1] LOG:  checkpoint starting: time") is not None


def test_merged_in_time_order_and_filtered(tmp_path: Path) -> None:
    odoo, edge = tmp_path / "odoo.log", tmp_path / "access.log"
    odoo.write_text("2026-11-23 11:00:02,000 1 INFO db werkzeug: second request_id=abcd1234\n"
                    "2026-11-23 11:00:00,000 1 WARNING db odoo.x: first\n")
    edge.write_text(json.dumps({"RouterName": "r@file", "DownstreamStatus": 200, "StartUTC": "2026-11-23T11:00:01Z",
                                "TraceId": "abcd1234"}) + "\n")
    sources = [logs.LogSource("odoo", odoo, logs.odoo_parser(None)), logs.LogSource("edge", edge,
                                                                                   logs.edge_parser(None))]
    found = logs.read(sources, logs.LogQuery(lines=0))
    assert [ln.source for ln in found] == ["odoo", "edge", "odoo"]
    assert [ln.source for ln in logs.read(sources, logs.LogQuery(request_id="abcd1234", lines=0))] == ["edge", "odoo"]
    assert [ln.level for ln in logs.read(sources, logs.LogQuery(level="warning", lines=0))] == ["warning"]
