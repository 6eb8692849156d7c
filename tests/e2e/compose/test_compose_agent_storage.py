"""An estate on the compose driver with ``platform.compose.storage: agent``: its filestore is never
touched through the volume's directory on this host — backup, verify and restore stream it through
the data-plane agent's containers — and a restore brings back an attachment file lost after the
backup, owned by Odoo's uid."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from tests.e2e.compose.test_compose_driver import compose_estate, edge_get
from tests.support.docker_engine import DockerEngine
from tests.support.estate import unique

pytestmark = [pytest.mark.e2e, pytest.mark.docker]


def test_backup_verify_restore_with_filestores_reached_by_the_agent(
        tmp_path: Path, engine: DockerEngine, base_image: str) -> None:
    t = unique("g")
    estate = compose_estate(tmp_path, engine, base_image, {t: {"environments": {"prod": {}}}})
    estate.data["platform"]["compose"]["storage"] = "agent"
    estate.write()
    project = estate.data["platform"]["compose"]["project"]
    db = f"{t}_prod"
    try:
        estate.cli("apply", str(estate.path), "-q", timeout=1500)
        url = estate.cluster_url().rsplit("/", 1)[0] + f"/{db}"
        with psycopg.connect(url) as conn:
            row = conn.execute("SELECT store_fname FROM ir_attachment WHERE store_fname IS NOT NULL LIMIT 1").fetchone()
        assert row is not None
        store_fname = str(row[0])
        made = json.loads(estate.cli("backup", "run", f"{t}/prod", "-f", str(estate.path), "--json").stdout)
        assert made["backups"], made
        # The engine is on this host, so the test (not the driver) can look inside the volume.
        volume = engine.docker("volume", "inspect", "--format", "{{.Mountpoint}}", f"{project}_env-{t}__prod"
                               ).stdout.strip()
        attachment = Path(volume) / "filestore" / db / store_fname
        assert attachment.is_file()
        content = attachment.read_bytes()
        verified = json.loads(estate.cli("verify", f"{t}/prod", "-f", str(estate.path), "--json",
                                         timeout=900).stdout)
        assert verified[0]["ok"] and verified[0]["details"]["attachments"] > 0, verified
        attachment.unlink()
        estate.cli("restore", f"{t}/prod", "-f", str(estate.path), "--yes", "--json", timeout=900)
        assert attachment.read_bytes() == content
        info = attachment.stat()
        assert (info.st_uid, info.st_gid) == (101, 101)
        assert sorted(p.name for p in (Path(volume) / "filestore").iterdir()) == [db]  # no staged or swapped-out copy
        assert estate.status()["healthy"]
        assert edge_get(estate, f"{t}-prod.localhost").status_code == 200
        images = engine.docker("image", "ls", "--format", "{{.Repository}}").stdout.split()
        assert "odooplane/agent" in images
        assert engine.docker("ps", "--all", "--quiet", "--filter", "ancestor=odooplane/agent").stdout.split() == []
    finally:
        estate.cli("down", "-f", str(estate.path), "--purge", "--yes", check=False, timeout=600)
