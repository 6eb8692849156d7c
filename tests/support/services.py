"""Real services for the tests: the machine's PostgreSQL when it answers on 127.0.0.1:5432,
otherwise a throwaway cluster started from the system binaries or the pgserver wheel."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def pg_answers(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


PORT_BLOCKS = 50  # of 200 ports each from 21000: below the kernel's ephemeral range (32768+)


def port_block() -> tuple[int, int]:
    """A random block of 200 ports for one test estate's allocations. Under ``pytest -n N`` each
    worker draws from its own blocks (gw0: 0, N, 2N, ...), so two estates running at once never
    share a range."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    index = int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0
    mine = [b for b in range(PORT_BLOCKS) if b % count == index % count]
    low = 21000 + mine[int(uuid.uuid4().int % len(mine))] * 200
    return low, low + 199


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A port free now, never one this process handed out before (the kernel may give the same
    ephemeral port twice in a row once the first is closed: two ports of one estate would clash)."""
    for _ in range(100):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port
    raise RuntimeError("no free port that was not handed out before")


@dataclass
class ThrowawayPostgres:
    root: Path
    port: int
    bin_dir: Path
    user: str | None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        cmd = [str(self.bin_dir / "pg_ctl"), "-D", str(self.root / "data"), "-m", "immediate", "stop"]
        _run(cmd, self.user, check=False)
        shutil.rmtree(self.root, ignore_errors=True)


def _run(cmd: list[str], user: str | None, *, check: bool = True) -> None:
    kwargs: dict[str, object] = {}
    if user is not None:
        entry = pwd.getpwnam(user)
        kwargs = {"user": entry.pw_uid, "group": entry.pw_gid}
    subprocess.run(cmd, check=check, capture_output=True, **kwargs)  # type: ignore[call-overload]


def start_throwaway_postgres() -> ThrowawayPostgres:
    """initdb + pg_ctl start a trust-auth cluster on a free port (as postgres/odooplane if root)."""
    from odooplane.drivers.local import managed_pg
    from odooplane.services import pg_binaries

    binaries = pg_binaries.find()
    user = managed_pg.service_user()
    root = Path(tempfile.mkdtemp(prefix="odooplane-test-pg-"))
    root.chmod(0o755)
    if user:
        entry = pwd.getpwnam(user)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    port = free_port()
    _run([binaries.tool("initdb"), "-D", str(root / "data"), "-U", "postgres", "--auth=trust", "-E", "UTF8",
          "--locale=C"], user)
    _run([binaries.tool("pg_ctl"), "-D", str(root / "data"), "-l", str(root / "log"), "-w", "-o",
          f"-p {port} -k {root} -c listen_addresses=127.0.0.1", "start"], user)
    server = ThrowawayPostgres(root, port, binaries.bin_dir, user)
    deadline = time.monotonic() + 30
    while not pg_answers(server.url):
        if time.monotonic() > deadline:
            raise RuntimeError("throwaway PostgreSQL did not start")
        time.sleep(0.1)
    return server
