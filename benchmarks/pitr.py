"""Achieved RPO of point-in-time recovery after a simulated loss: a managed cluster archives its
WAL with pgBackRest (``archive_timeout`` 60 s, the default); a writer commits a timestamped row
every 0.2 s for ``BENCH_PITR_SECONDS`` (default 90); at the "loss" nothing more is done for the
WAL (no forced switch, as when a machine dies) and the newest restorable state is restored. RPO =
loss time - newest row in the restored copy.

Prints one JSON object on its last line: {"rpo_s"}.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
import yaml
from tests.support import services

from benchmarks.common import cli, emit, workdir

SECONDS = float(os.environ.get("BENCH_PITR_SECONDS", "90"))


def main() -> None:
    with workdir() as tmp:
        root = Path(tmp)
        root.chmod(0o755)
        tenant = f"p{uuid.uuid4().hex[:6]}"
        data: dict[str, Any] = {
            "platform": {"name": f"pitr{uuid.uuid4().hex[:4]}", "data_dir": "data", "default_stack": "sim",
                         "default_cluster": "main",
                         "edge": {"http_port": services.free_port(), "api_port": services.free_port()},
                     "metrics_port": services.free_port(),
                         "ports": {"start": 25000, "end": 25999}},
            "clusters": {"main": {"kind": "managed", "pitr": {"archive_timeout_s": 60}}},
            "stacks": {"sim": {"series": "18.0", "simulator": True}},
            "backups": {"policies": {"standard": {"schedule": None}}},
            "tenants": {tenant: {"environments": {"prod": {}}}},
        }
        path = root / "estate.yaml"
        path.write_text(yaml.safe_dump(data))
        try:
            cli("apply", str(path), "-q", cwd=root)
            import sys

            sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
            from tests.support.estate import TestEstate

            url = TestEstate(path, data).cluster_url().rsplit("/", 1)[0] + f"/{tenant}_prod"
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("CREATE TABLE heartbeat (at timestamptz NOT NULL)")
                deadline = time.monotonic() + SECONDS
                while time.monotonic() < deadline:
                    conn.execute("INSERT INTO heartbeat VALUES (clock_timestamp())")
                    time.sleep(0.2)  # the writer's pace, not synchronisation
                loss = conn.execute("SELECT clock_timestamp()").fetchone()[0]  # type: ignore[index]
            print(f"loss at {loss.isoformat()}", flush=True)
            cli("restore", f"{tenant}/prod", "--pitr", "--yes", "-f", str(path), cwd=root)
            with psycopg.connect(url) as conn:
                newest = conn.execute("SELECT max(at) FROM heartbeat").fetchone()[0]  # type: ignore[index]
            rpo = (loss - newest).total_seconds() if newest else SECONDS
            print(f"newest row restored {newest}; RPO {rpo:.1f} s", flush=True)
        finally:
            cli("down", "-f", str(path), "--purge", "--yes", cwd=root)
    emit({"rpo_s": round(rpo, 1)})


if __name__ == "__main__":
    main()
