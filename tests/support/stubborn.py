"""A supervised program that ignores SIGTERM, and so does the child it forks into its process group —
what a stuck process on a loaded machine looks like to whoever stops it."""

from __future__ import annotations

import sys
from pathlib import Path

from odooplane.clock import wait_until
from odooplane.drivers.base import ProcessSpec
from odooplane.drivers.local import LocalDriver

SCRIPT = """
import os, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = os.fork()
if child == 0:
    while True:
        time.sleep(1)
open(sys.argv[1], "w").write(f"{os.getpid()} {child}")
while True:
    time.sleep(1)
"""


def supervise(driver: LocalDriver, directory: Path, name: str, *, stop_wait_s: int = 20,
              priority: int = 500) -> list[int]:
    """Supervise a program that ignores SIGTERM under ``name``; return its pid and its child's."""
    script = directory / "stubborn.py"
    script.write_text(SCRIPT)
    pids = directory / f"{name}.pids"
    driver.ensure_process(ProcessSpec(name=name, kind="service", argv=(sys.executable, str(script), str(pids)),
                                      cwd=directory, log_file=directory / f"{name}.log", stop_wait_s=stop_wait_s,
                                      priority=priority))
    assert wait_until(lambda: pids.exists() and len(pids.read_text().split()) == 2, timeout=20)
    return [int(p) for p in pids.read_text().split()]
