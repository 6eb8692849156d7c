"""The README's main job: examples/quickstart.yaml on this host, with its own managed PostgreSQL
cluster, tenants answering through Traefik on their own databases (dedicated and in a shared pool),
and scripts/quickstart's install path: what the estate uses is installed or reported, and the
worker's first scheduled backups are confirmed and proven to restore — or fail visibly."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
import yaml

from tests.support.estate import TestEstate
from tests.support.services import free_port, port_block

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def test_quickstart_estate_comes_up_and_purges(tmp_path: Path) -> None:
    shutil.copy(ROOT / "examples" / "quickstart.yaml", tmp_path / "estate.yaml")
    data = yaml.safe_load((tmp_path / "estate.yaml").read_text())
    data["platform"]["data_dir"] = "data"
    data["platform"]["edge"].update(http_port=free_port(), api_port=free_port())
    data["platform"]["ports"] = {"start": 31000, "end": 31400}
    service_port = free_port()
    data["platform"]["service"]["listen"] = f"127.0.0.1:{service_port}"
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
        assert estate.session_db("initech/prod") == "initech_prod"  # served by the shared pool
        status = estate.status()
        assert status["healthy"] and status["clusters"] == {"main": "reachable"}
        assert {r["runtime"] for r in status["environments"]} == {"odoo 18.0" if real else "simulator 18.0"}
        # prod runs prefork: its websocket goes to the evented port through the edge.
        ws = httpx.get(f"{base}/websocket", headers={"Host": "acme-prod.localhost", "Connection": "Upgrade",
                                                      "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
                                                      "Origin": "http://acme-prod.localhost",
                                                      "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
        assert ws.status_code == 101
        # The API and dashboard run under supervision (platform.service).
        spec = httpx.get(f"http://127.0.0.1:{service_port}/api/v1/openapi.json", timeout=10)
        assert spec.status_code == 200 and spec.json()["openapi"].startswith("3.1")
        assert httpx.get(f"http://127.0.0.1:{service_port}/login", timeout=10).status_code == 200
    finally:
        estate.cli("down", "-f", str(estate.path), "--purge", "--yes")
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{service_port}/login", timeout=5)
    from odooplane.drivers.local.managed_pg import cluster_dir

    assert not (estate.runtime_dir / "envs").exists()
    assert not cluster_dir(estate.data_dir, estate_id=estate.estate_id(), name="main").exists()


def dashboard_sign_in(port: int, name: str, password: str) -> int:
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        form = client.get("/login")
        token = re.search(r'name="login_csrf" value="([^"]+)"', form.text)
        assert token, form.text
        return client.post("/login", data={"username": name, "password": password, "login_csrf": token.group(1),
                                           "next": "/"}).status_code


def _path_without(tmp_path: Path, missing: str) -> Path:
    """A PATH directory with every command of this PATH but ``missing`` (a machine without it)."""
    farm = tmp_path / "bin"
    farm.mkdir()
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if not os.path.isdir(directory):
            continue
        for entry in os.scandir(directory):
            if entry.name != missing and not (farm / entry.name).exists():
                (farm / entry.name).symlink_to(entry.path)
    return farm


def test_quickstart_reports_a_missing_restic_then_confirms_the_first_backup(tmp_path: Path) -> None:
    shutil.copy(ROOT / "examples" / "quickstart.yaml", tmp_path / "estate.yaml")
    data = yaml.safe_load((tmp_path / "estate.yaml").read_text())
    assert data["backups"]["policies"]["standard"]["schedule"], "the quick start shows scheduled backups"
    assert data["pools"] and any(env.get("placement") for t in data["tenants"].values()
                                 for env in t["environments"].values()), "and a shared pool with tenants"
    data["platform"]["data_dir"] = "data"
    data["platform"]["edge"].update(http_port=free_port(), api_port=free_port())
    data["platform"]["metrics_port"] = free_port()
    service_port = free_port()
    data["platform"]["service"]["listen"] = f"127.0.0.1:{service_port}"
    low, high = port_block()
    data["platform"]["ports"] = {"start": low, "end": high}
    estate = TestEstate(tmp_path / "estate.yaml", data, env={"XDG_STATE_HOME": str(tmp_path / "xdg")})
    estate.write()
    farm = _path_without(tmp_path, "restic")
    env = {**os.environ, **estate.env, "PATH": str(farm), "QUICKSTART_ESTATE": str(estate.path),
           "QUICKSTART_BACKUP_WAIT": "300"}
    if os.environ.get("ODOO_SOURCE"):
        env["ODOOPLANE_SIMULATOR"] = "false"
    backed_up = {"acme/prod", "globex/prod", "initech/prod"}
    try:
        # A machine without restic: the install step says so, and the failure is where a user looks.
        first = subprocess.run(["bash", str(ROOT / "scripts" / "quickstart")], capture_output=True, text=True,
                               env=env, timeout=1500, check=False)
        assert first.returncode == 1, first.stdout + first.stderr
        assert "restic is installed but not on PATH" in first.stderr
        assert "backup FAILING: restic not found" in first.stdout
        # The dashboard and a first admin login, shown once.
        assert f"Dashboard and API: http://127.0.0.1:{service_port}/" in first.stdout
        password = re.search(r"Sign in as admin, password (\S+) ", first.stdout)
        assert password, first.stdout
        assert dashboard_sign_in(service_port, "admin", password.group(1)) == 303
        assert dashboard_sign_in(service_port, "admin", "not-the-password") == 401
        rows = {r["target"]: r for r in estate.status()["environments"]}
        assert {t for t, r in rows.items() if r["backup_policy"]} == backed_up
        for target in backed_up:
            assert "restic not found" in (rows[target]["backup_failing"] or ""), rows[target]
            assert rows[target]["last_backup"] is None
        health = estate.cli("health", "-f", str(estate.path), "--json", check=False)
        assert health.returncode == 6, health.stderr
        checks = {e["target"]: {c["name"]: c for c in e["checks"]} for e in json.loads(health.stdout)["environments"]}
        for target in backed_up:
            backup = checks[target]["backup"]
            assert backup["status"] == "critical" and "backup failing: restic not found" in backup["detail"]

        # restic installed: the worker's next scheduled attempt is confirmed and proven to restore.
        restic = shutil.which("restic")
        assert restic, "the test machine has restic (scripts/test installs it)"
        (farm / "restic").symlink_to(restic)
        second = subprocess.run(["bash", str(ROOT / "scripts" / "quickstart")], capture_output=True, text=True,
                                env=env, timeout=1500, check=False)
        assert second.returncode == 0, second.stdout + second.stderr
        assert second.stdout.count("proven to restore") >= len(backed_up)
        assert "its password was shown by the first quick start" in second.stdout
        assert password.group(1) not in second.stdout
        rows = {r["target"]: r for r in estate.status()["environments"]}
        for target in backed_up:
            row = rows[target]
            assert row["last_backup"] and row["last_verified"] and row["backup_failing"] is None, row
        kinds = json.loads(estate.cli("evidence", "-f", str(estate.path), "--json", "--kind", "backup").stdout)
        assert {r["target"] for r in kinds if r["ok"] and r["data"].get("kind") == "scheduled"} == backed_up
    finally:
        estate.cli("down", "-f", str(estate.path), "--purge", "--yes", check=False)
