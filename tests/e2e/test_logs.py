"""One request followed across the edge and Odoo by its id; a pooled environment's own lines out
of its pool's shared log; filters and bad input."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.estate import TestEstate, make_estate, unique

pytestmark = pytest.mark.e2e


@pytest.fixture
def estate(tmp_path: Path) -> Iterator[TestEstate]:
    a, b = unique("la"), unique("lb")
    est = make_estate(tmp_path, {a: {"environments": {"prod": {}, "staging": {"placement": {"shared": "p"}}}},
                                 b: {"environments": {"staging": {"placement": {"shared": "p"}}}}})
    est.data["pools"] = {"p": {"processes": 1, "workers": 0}}
    est.write()
    est.names = (a, b)  # type: ignore[attr-defined]
    try:
        est.cli("apply", str(est.path), "-q")
        yield est
    finally:
        est.cli("down", "-f", str(est.path), "--purge", "--yes", check=False)


def logs(est: TestEstate, *args: str) -> list[dict[str, Any]]:
    return json.loads(est.cli("logs", *args, "-f", str(est.path), "--json").stdout)  # type: ignore[no-any-return]


def get(est: TestEstate, host: str, path: str, trace_id: str) -> int:
    traceparent = f"00-{trace_id}-{secrets.token_hex(8)}-01"
    return httpx.get(f"http://127.0.0.1:{est.edge_port}{path}", headers={"Host": host, "traceparent": traceparent},
                     timeout=30).status_code


def test_a_request_is_followed_across_edge_and_odoo(estate: TestEstate) -> None:
    a, _ = estate.names  # type: ignore[attr-defined]
    trace_id = secrets.token_hex(16)
    assert get(estate, f"{a}-prod.localhost", "/web/login", trace_id) == 200
    found = logs(estate, f"{a}/prod", "--request-id", trace_id)
    by_source = {line["source"]: line for line in found}
    assert set(by_source) == {"edge", "odoo"}, found
    assert "/web/login 200" in by_source["edge"]["line"] and f"request_id={trace_id}" in by_source["edge"]["line"]
    assert "GET /web/login" in by_source["odoo"]["line"] and f"request_id={trace_id}" in by_source["odoo"]["line"]
    assert by_source["edge"]["at"] is not None and by_source["odoo"]["at"] is not None
    # An id nobody used finds nothing; a malformed one is refused.
    assert logs(estate, f"{a}/prod", "--request-id", secrets.token_hex(16)) == []
    bad = estate.cli("logs", f"{a}/prod", "--request-id", "x; rm -rf /", "-f", str(estate.path), check=False)
    assert bad.returncode == 2 and "--request-id" in bad.stderr


def test_a_pooled_environment_sees_only_its_own_lines(estate: TestEstate) -> None:
    a, b = estate.names  # type: ignore[attr-defined]
    mine, theirs = secrets.token_hex(16), secrets.token_hex(16)
    assert get(estate, f"{a}-staging.localhost", "/web/login", mine) == 200
    assert get(estate, f"{b}-staging.localhost", "/web/login", theirs) == 200
    own = logs(estate, f"{a}/staging", "--source", "odoo,edge", "-n", "0")
    text = "\n".join(line["line"] for line in own)
    assert mine in text and theirs not in text
    assert all(f"{a}_staging" in line["line"] for line in own if line["source"] == "odoo")
    # Level and source filters.
    errors = logs(estate, f"{a}/staging", "--source", "edge", "--level", "error", "-n", "0")
    assert all(line["level"] in ("error", "critical") for line in errors)
    bad = estate.cli("logs", f"{a}/staging", "--source", "odoo,nginx", "-f", str(estate.path), check=False)
    assert bad.returncode == 2 and "--source" in bad.stderr
