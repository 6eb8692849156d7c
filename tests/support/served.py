"""``odooplane serve`` as a test starts it: a process of its own, waited for until it answers (or,
with ``--no-api``, until it says it runs), stopped by its pid."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.services import free_port


class Served:
    def __init__(self, estate_path: Path, *args: str, env: dict[str, str] | None = None, api: bool = True) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = estate_path.parent / f"serve-{self.port}.log"
        command = [sys.executable, "-m", "odooplane", "serve", "-f", str(estate_path), "--listen",
                   f"127.0.0.1:{self.port}", *args]
        if not api:
            command.append("--no-api")
        with open(self.log, "w") as out:
            self.proc = subprocess.Popen(command, env={**os.environ, **(env or {})}, stdout=out,
                                         stderr=subprocess.STDOUT, cwd=estate_path.parent)
        deadline = time.monotonic() + 60
        while True:
            assert self.proc.poll() is None, f"serve exited {self.proc.returncode}: {self.output()}"
            if api:
                try:
                    httpx.get(f"{self.base}/api/v1/openapi.json", timeout=2)
                    return
                except httpx.TransportError:
                    pass
            elif "running queued operations" in self.output():
                return
            assert time.monotonic() < deadline, f"serve did not start within 60 s: {self.output()}"
            time.sleep(0.1)

    def output(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode
