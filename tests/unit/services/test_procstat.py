"""CPU and memory of a process tree from /proc: a child that burns CPU is counted in its parent's tree."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from odooplane.services import procstat


def test_a_tree_counts_its_children() -> None:
    parent = subprocess.Popen([sys.executable, "-c", (
        "import subprocess, sys; c = subprocess.Popen([sys.executable, '-c', "
        "'import time\\nt = time.process_time()\\nwhile time.process_time() - t < 0.6: pass\\ntime.sleep(30)']); "
        "c.wait()")], start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        seen = 0.0
        while time.monotonic() < deadline:
            usage = procstat.trees([parent.pid]).get(parent.pid)
            assert usage is not None
            seen = usage.cpu_seconds
            if seen >= 0.5:
                break
            time.sleep(0.1)
        assert seen >= 0.5, seen  # the grandchild's burn, not the idle parent's
        assert usage.memory_bytes > 1024 * 1024
        assert procstat.trees([2**22 + 7]) == {}  # no such process
    finally:
        os.killpg(parent.pid, signal.SIGKILL)  # the parent and its child: their own process group
        parent.wait()
