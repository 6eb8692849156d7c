"""``down --purge`` end to end: it stops what ignores SIGTERM within its grace (killing the process
group), and it leaves no plaintext copy of tenant data anywhere under the data directory — not in
an interrupted backup's stage, an interrupted export's sandbox, nor the caught mail — keeping only
what the docs say it keeps."""

from __future__ import annotations

import json
import os
import smtplib
import time
import uuid
from email.message import EmailMessage
from pathlib import Path

import psycopg
import pytest

from odooplane import execute
from odooplane.clock import wait_until
from odooplane.drivers.base import EdgeSpec
from odooplane.drivers.local import LocalDriver
from odooplane.layout import Layout
from tests.support import stubborn
from tests.support.estate import make_estate, owned_objects, unique

pytestmark = pytest.mark.e2e



def test_purge_stops_what_ignores_sigterm_and_leaves_no_plaintext_copy(tmp_path: Path) -> None:
    t = unique("p")
    estate = make_estate(tmp_path, {t: {"environments": {"prod": {}, "staging": {}}}})
    estate.cli("apply", str(estate.path), "-q")
    marker = f"plaintext-{uuid.uuid4().hex}"
    base = os.environ["ODOOPLANE_TEST_PG"].rsplit("/", 1)[0]
    with psycopg.connect(f"{base}/{t}_prod", autocommit=True) as conn:
        conn.execute("INSERT INTO res_partner (name, active) VALUES (%s, true)", (marker,))
    filestore = estate.runtime_dir / "envs" / f"{t}__prod" / "data" / "filestore" / f"{t}_prod" / "zz"
    filestore.mkdir(parents=True, exist_ok=True)
    (filestore / ("zz" + "0" * 38)).write_text(marker)

    # A backup and an export killed half-way leave their plaintext work behind...
    killed = estate.cli("backup", "run", f"{t}/prod", "-f", str(estate.path), check=False,
                        extra_env={"ODOOPLANE_TEST_KILL_AT": f"upload-local:{t}/prod:before"})
    assert killed.returncode < 0
    killed = estate.cli("export", f"{t}/prod", str(tmp_path / "out.zip"), "-f", str(estate.path), check=False,
                        extra_env={"ODOOPLANE_TEST_KILL_AT": f"dump:{t}/prod:after"})
    assert killed.returncode < 0
    # ...and staging's mail is caught by the worker into the data directory.
    listeners = json.loads((estate.data_dir / "mail" / "listeners.json").read_text())
    port = listeners[f"{t}/staging"]["port"]
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "odoo@example.com", "client@example.com", "invoice"
    message.set_content(marker)
    assert wait_until(lambda: _smtp_send(port, message), timeout=30)
    caught = estate.data_dir / "mail"
    assert wait_until(lambda: any(marker.encode() in p.read_bytes() for p in caught.rglob("*") if p.is_file()),
                      timeout=20)
    assert _files_with(estate.data_dir, marker), "the copies are there before the purge"

    # A supervised helper that ignores SIGTERM, as a stuck process on a loaded machine would.
    driver = LocalDriver(Layout(estate.data_dir), EdgeSpec(http_address="127.0.0.1:1", api_port=1,
                                                            trusted_proxies=(), access_log=False))
    pids = stubborn.supervise(driver, tmp_path, "stubborn", stop_wait_s=300)
    estate_id = estate.estate_id()

    started = time.monotonic()
    proc = estate.cli("down", "-f", str(estate.path), "--purge", "--yes", "--grace", "3")
    elapsed = time.monotonic() - started
    assert elapsed < 90, f"down --purge took {elapsed:.0f} s"
    assert not any(execute.alive(pid) for pid in pids), "killed with its process group after the grace"
    said = " ".join(proc.stdout.split())
    assert f"estate '{estate.data['platform']['name']}' ({estate.path.resolve()})" in said
    assert "kept:" in said

    assert owned_objects(estate_id) == (set(), set())
    assert _files_with(estate.data_dir, marker) == [], "no plaintext copy of tenant data is left"
    left = {p.name for p in estate.data_dir.iterdir()}
    assert left <= {"state.db", "secret.key", "logs", "backups"}, left
    if (estate.data_dir / "backups").exists():
        assert {p.name for p in (estate.data_dir / "backups").iterdir()} <= {"repositories"}


def _smtp_send(port: int, message: EmailMessage) -> bool:
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=5) as smtp:
            smtp.send_message(message)
        return True
    except OSError:
        return False


def _files_with(root: Path, text: str) -> list[str]:
    needle = text.encode()
    found = []
    for directory, _dirs, files in os.walk(root):
        for name in files:
            path = Path(directory) / name
            try:
                if needle in path.read_bytes():
                    found.append(str(path.relative_to(root)))
            except OSError:
                continue
    return found


def test_purge_after_a_plain_down_drops_the_managed_cluster_without_restarting_odoo(tmp_path: Path) -> None:
    t = unique("m")
    estate = make_estate(tmp_path, {t: {"environments": {"prod": {}}}}, cluster="managed")
    estate.cli("apply", str(estate.path), "-q")
    log = estate.runtime_dir / "logs" / "envs" / f"{t}__prod" / "odoo.log"
    starts = log.read_text().count("HTTP service")
    estate.cli("down", "-f", str(estate.path))
    proc = estate.cli("down", "-f", str(estate.path), "--purge", "--yes", "--json")
    result = json.loads(proc.stdout)
    assert result["failures"] == [] and f"database {t}_prod" in result["purged"] and "cluster main" in result["purged"]
    assert log.read_text().count("HTTP service") == starts, "Odoo was not started again only to be stopped"
    assert {p.name for p in estate.data_dir.iterdir()} <= {"state.db", "secret.key", "logs", "backups"}


def test_purge_drops_what_a_killed_apply_left_before_the_roles(tmp_path: Path) -> None:
    """A database killed between CREATE DATABASE and its marker has no marker: only the registry
    of temporaries knows it. The purge removes it first, so its owner can be dropped too."""
    t = unique("k")
    estate = make_estate(tmp_path, {t: {"environments": {"prod": {}}}})
    killed = estate.cli("apply", str(estate.path), "-q", check=False,
                        extra_env={"ODOOPLANE_TEST_KILL_POINT": "create-database:created"})
    assert killed.returncode < 0
    with psycopg.connect(os.environ["ODOOPLANE_TEST_PG"], autocommit=True) as conn:
        left = [r[0] for r in conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE 'opl\\_new\\_%%' AND pg_get_userbyid(datdba) = %s",
            (f"{t}_prod",)).fetchall()]
    assert len(left) == 1, "the kill left the half-made database, under its scratch name"
    proc = estate.cli("down", "-f", str(estate.path), "--purge", "--yes", "--json")
    result = json.loads(proc.stdout)
    assert result["failures"] == []
    assert any(left[0] in line for line in result["purged"]), result["purged"]
    with psycopg.connect(os.environ["ODOOPLANE_TEST_PG"], autocommit=True) as conn:
        assert conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (left[0],)).fetchone() is None
        assert conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (f"{t}_prod",)).fetchone() is None
