"""A release upgrade in containers: the new release's addons are mounted into the environment's
container, only the changed module is updated, and an upgrade that fails (a broken data file) rolls
back by itself (the snapshot database, the previous release's container) with Odoo's real cause."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.e2e.compose.test_compose_driver import compose_estate, edge_get
from tests.e2e.test_upgrade import BROKEN_DATA, addon
from tests.support.docker_engine import DockerEngine
from tests.support.estate import TestEstate, unique

pytestmark = [pytest.mark.e2e, pytest.mark.docker]


def module_row(estate: TestEstate, database: str, name: str) -> tuple[Any, ...] | None:
    url = estate.cluster_url().rsplit("/", 1)[0] + f"/{database}"
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT state, latest_version FROM ir_module_module WHERE name = %s", (name,)).fetchone()


def test_upgrade_in_containers_rolls_back_a_failure(tmp_path: Path, engine: DockerEngine, base_image: str) -> None:
    t = unique("u")
    estate = compose_estate(tmp_path, engine, base_image, {t: {"environments": {"prod": {
        "release": "r1", "modules": ["shop_custom"], "backup": False}}}})
    estate.data["releases"] = {
        "r1": {"stack": "odoo", "addons": [addon(tmp_path, "r1", "shop_custom", "1.0")]},
        "r2": {"stack": "odoo", "addons": [addon(tmp_path, "r2", "shop_custom", "1.1", body="# rework\n")]},
        "r3": {"stack": "odoo", "addons": [addon(tmp_path, "r3", "shop_custom", "1.2", xml=BROKEN_DATA)]},
    }
    estate.write()
    db, host = f"{t}_prod", f"{t}-prod.localhost"
    env = estate.data["tenants"][t]["environments"]["prod"]
    try:
        estate.cli("apply", str(estate.path), "-q", timeout=1500)
        assert module_row(estate, db, "shop_custom") == ("installed", "18.0.1.0")

        env["release"] = "r2"
        estate.write()
        done = json.loads(estate.cli("apply", str(estate.path), "--json", timeout=900).stdout)
        (upgrade,) = done["upgrades"]
        assert upgrade["status"] == "upgraded" and upgrade["updated"] == ["shop_custom"], upgrade
        assert module_row(estate, db, "shop_custom") == ("installed", "18.0.1.1")
        assert edge_get(estate, host).status_code == 200

        env["release"] = "r3"
        estate.write()
        failed = estate.cli("apply", str(estate.path), "--json", check=False, timeout=900)
        assert failed.returncode == 1, (json.loads(failed.stdout)["upgrades"], failed.stderr[-2000:])
        (upgrade,) = json.loads(failed.stdout)["upgrades"]
        assert upgrade["status"] == "rolled-back", upgrade
        assert "External ID not found in the system: shop_custom.no_such_partner" in (upgrade["error"] or "")
        assert module_row(estate, db, "shop_custom") == ("installed", "18.0.1.1")
        assert edge_get(estate, host).status_code == 200
        assert estate.status()["healthy"]
    finally:
        estate.cli("down", "-f", str(estate.path), "--purge", "--yes", check=False, timeout=600)
