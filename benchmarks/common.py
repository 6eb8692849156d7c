"""Shared helpers for benchmarks: a PostgreSQL to use (the machine's or a throwaway one) and
throwaway estates. Benchmarks print one JSON object on their last line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support import services  # noqa: E402

from odooplane.services.service_users import runtime_dir  # noqa: E402
from odooplane.store.db import open_store  # noqa: E402


@contextmanager
def postgres() -> Iterator[str]:
    url = os.environ.get("ODOOPLANE_TEST_PG", services.DEFAULT_URL)
    if services.pg_answers(url):
        yield url
        return
    server = services.start_throwaway_postgres()
    try:
        yield server.url
    finally:
        server.stop()


def estate(directory: Path, pg_url: str, tenants: int, *, prefix: str) -> Path:
    data: dict[str, Any] = {
        "platform": {"name": f"bench{uuid.uuid4().hex[:6]}", "data_dir": "data", "default_stack": "sim",
                     "default_cluster": "main",
                     "edge": {"http_port": services.free_port(), "api_port": services.free_port()},
                     "metrics_port": services.free_port(),
                     "ports": {"start": 26000, "end": 29999}},
        "clusters": {"main": {"kind": "external", "url": pg_url}},
        "stacks": {"sim": {"series": "18.0", "simulator": True}},
        "tenants": {f"{prefix}{i:03d}": {"environments": {"prod": {}}} for i in range(tenants)},
    }
    path = directory / "estate.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def cli(*args: str, cwd: Path) -> float:
    """Run ``odooplane ARGS``; return its wall time in seconds. Raise if it fails."""
    env = {**os.environ, "XDG_STATE_HOME": str(cwd / "xdg")}
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "odooplane", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, check=False)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"odooplane {' '.join(args)} failed:\n{proc.stderr}")
    return elapsed


def workdir() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="odooplane-bench-")


def runtime_root(data_dir: Path) -> Path:
    """Where an applied estate keeps Odoo's directories (templates, environments, pools): its data
    directory, or — as root — the Odoo service user's runtime directory."""
    store = open_store(f"sqlite:///{data_dir / 'state.db'}")
    try:
        return runtime_dir(data_dir, estate_id=store.estate_id())
    finally:
        store.close()


def emit(result: dict[str, Any]) -> None:
    print(json.dumps(result))
