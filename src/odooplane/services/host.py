"""What this host has: CPUs and memory (for sizing)."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Capacity:
    cpus: int
    memory_mib: int


def capacity() -> Capacity:
    memory = 0
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    memory = int(line.split()[1]) // 1024
                    break
    except OSError:
        pass
    return Capacity(cpus=os.cpu_count() or 1, memory_mib=memory)
