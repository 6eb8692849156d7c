"""A generated tenant for the backup benchmarks: a simulated Odoo database whose filestore holds
``BENCH_FILESTORE_MB`` (default 1024) of incompressible attachments, registered in ir_attachment
like Odoo does (store_fname = xx/sha1, checksum = sha1)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
import yaml
from tests.support import services

FILESTORE_MB = int(os.environ.get("BENCH_FILESTORE_MB", "1024"))


def estate(root: Path, pg_url: str, *, tenant: str) -> Path:
    data: dict[str, Any] = {
        "platform": {"name": f"bk{uuid.uuid4().hex[:6]}", "data_dir": "data", "default_stack": "sim",
                     "default_cluster": "main",
                     "edge": {"http_port": services.free_port(), "api_port": services.free_port()},
                     "metrics_port": services.free_port(),
                     "ports": {"start": 24000, "end": 24999}},
        "clusters": {"main": {"kind": "external", "url": pg_url}},
        "stacks": {"sim": {"series": "18.0", "simulator": True}},
        "backups": {"policies": {"standard": {"schedule": None}}},
        "tenants": {tenant: {"environments": {"prod": {}, "staging": {}}}},
    }
    path = root / "estate.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def run(*args: str, cwd: Path) -> tuple[float, str]:
    env = {**os.environ, "XDG_STATE_HOME": str(cwd / "xdg")}
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "odooplane", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"odooplane {' '.join(args)} failed:\n{proc.stderr}")
    return time.perf_counter() - started, proc.stdout


def shell(command: str, *, env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(["bash", "-o", "pipefail", "-c", command], check=True, env={**os.environ, **(env or {})})
    return time.perf_counter() - started


def fill_filestore(pg_url: str, database: str, filestore: Path, megabytes: int) -> None:
    """Write ``megabytes`` of 1 MiB random attachments and register them in ir_attachment."""
    url = pg_url.rsplit("/", 1)[0] + f"/{database}"
    rows = []
    for index in range(megabytes):
        blob = os.urandom(1024 * 1024)
        sha = hashlib.sha1(blob).hexdigest()
        target = filestore / sha[:2] / sha
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(blob)
        rows.append((f"bench-{index}.bin", f"{sha[:2]}/{sha}", sha, len(blob)))
    with psycopg.connect(url, autocommit=True) as conn, conn.cursor() as cur:
        cur.executemany("INSERT INTO ir_attachment (name, type, store_fname, checksum, file_size, mimetype, "
                        "res_model, public) VALUES (%s, 'binary', %s, %s, %s, 'application/octet-stream', "
                        "'res.partner', false)", rows)


def restic_floor(root: Path, directory: Path) -> tuple[float, float]:
    """restic alone on ``directory``: (backup into a repository created beforehand, restore of that
    snapshot into an empty directory), in seconds; what any backup through restic costs here."""
    repo, out = root / "floor-repo", root / "floor-out"
    env = {"RESTIC_REPOSITORY": str(repo), "RESTIC_PASSWORD": uuid.uuid4().hex}
    shell("restic init -q", env=env)
    backup = shell(f"restic backup -q {directory}", env=env)
    restore = shell(f"restic restore -q latest --target {out}", env=env)
    shell(f"rm -rf {repo} {out}")
    return backup, restore


def repo_size(root: Path) -> int:
    repo = root / "data" / "backups" / "repositories" / "local"
    return sum(p.stat().st_size for p in repo.rglob("*") if p.is_file())


def json_out(text: str) -> Any:
    return json.loads(text)
