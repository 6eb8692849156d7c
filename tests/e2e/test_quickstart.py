"""The README's main job: examples/quickstart.yaml on this host, with its own managed PostgreSQL
cluster, two tenants answering through Traefik on their own databases."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import httpx
import pytest
import yaml

from tests.support.estate import TestEstate
from tests.support.services import free_port

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def test_quickstart_estate_comes_up_and_purges(tmp_path: Path) -> None:
    shutil.copy(ROOT / "examples" / "quickstart.yaml", tmp_path / "estate.yaml")
    data = yaml.safe_load((tmp_path / "estate.yaml").read_text())
    data["platform"]["data_dir"] = "data"
    data["platform"]["edge"].update(http_port=free_port(), api_port=free_port())
    data["platform"]["ports"] = {"start": 31000, "end": 31400}
    real = bool(os.environ.get("ODOO_SOURCE"))
    env = {"XDG_STATE_HOME": str(tmp_path / "xdg")}
    if real:  # as scripts/quickstart does
        env["ODOOPLANE_SIMULATOR"] = "false"
    estate = TestEstate(tmp_path / "estate.yaml", data, env=env)
    estate.write()
    try:
        estate.cli("apply", str(estate.path), "-q", timeout=1200)
        base = f"http://127.0.0.1:{estate.edge_port}"
        assert estate.session_db("acme/prod") == "acme_prod"
        assert estate.session_db("globex/prod") == "globex_prod"
        status = estate.status()
        assert status["healthy"] and status["clusters"] == {"main": "reachable"}
        assert {r["runtime"] for r in status["environments"]} == {"odoo 18.0" if real else "simulator 18.0"}
        # prod runs prefork: its websocket goes to the evented port through the edge.
        ws = httpx.get(f"{base}/websocket", headers={"Host": "acme-prod.localhost", "Connection": "Upgrade",
                                                      "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
                                                      "Origin": "http://acme-prod.localhost",
                                                      "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
        assert ws.status_code == 101
    finally:
        estate.cli("down", "-f", str(estate.path), "--purge", "--yes")
    from odooplane.services.managed_pg import cluster_dir

    assert not (estate.data_dir / "envs").exists()
    assert not cluster_dir(estate.data_dir, estate_id=estate.estate_id(), name="main").exists()
