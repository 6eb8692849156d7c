"""``odooplane serve`` as a process: it serves the API on the address given, answers a token's
caller, follows the estate file, and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.estate import make_estate, unique
from tests.support.services import free_port

pytestmark = pytest.mark.integration


def test_serve_answers_the_api_and_stops_on_sigterm(tmp_path: Path) -> None:
    tenant = unique("a")
    estate = make_estate(tmp_path, {tenant: {"environments": {"prod": {}}}})
    secret = estate.cli("tokens", "create", "reader", "--role", "auditor", "-f", str(estate.path)).stdout.strip()
    port = free_port()
    bad = estate.cli("serve", "-f", str(estate.path), "--listen", "nowhere", check=False)
    assert bad.returncode == 2 and "HOST:PORT" in bad.stderr
    proc = subprocess.Popen([sys.executable, "-m", "odooplane", "serve", "-f", str(estate.path), "--listen",
                             f"127.0.0.1:{port}"], env={**os.environ, **estate.env}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.communicate()
            try:
                spec = httpx.get(f"{base}/api/v1/openapi.json", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "serve did not answer within 60 s"
                time.sleep(0.1)
        assert spec.status_code == 200 and spec.json()["info"]["title"] == "Odooplane"
        headers = {"Authorization": f"Bearer {secret}"}
        envs = httpx.get(f"{base}/api/v1/environments", headers=headers, timeout=10).json()
        assert [e["target"] for e in envs["items"]] == [f"{tenant}/prod"]
        assert httpx.get(f"{base}/api/v1/environments", timeout=10).status_code == 401
        estate.data["tenants"][f"{tenant}2"] = {"environments": {"prod": {}}}
        estate.write()
        envs = httpx.get(f"{base}/api/v1/environments", headers=headers, timeout=10).json()
        assert len(envs["items"]) == 2  # the edit is served without a restart
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert f"127.0.0.1:{port}" in err and secret not in out + err
    assert "GET /api/v1/environments 200" in err and "actor=token:reader" in err  # the access log
    assert "GET /api/v1/environments 401" in err
