"""CPU time and resident memory of process trees, read from /proc (Linux): an Odoo server with
its prefork workers, cron and evented processes is one tree under the supervised process."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@dataclass(frozen=True)
class TreeUsage:
    cpu_seconds: float  # user + system of the tree, with what its exited children used
    memory_bytes: int  # resident set of every process of the tree


@dataclass(frozen=True)
class _Proc:
    ppid: int
    cpu_ticks: int
    rss_pages: int


def _read(pid: int) -> _Proc | None:
    try:
        stat = (PROC / str(pid) / "stat").read_text()
        statm = (PROC / str(pid) / "statm").read_text().split()
    except OSError:  # gone meanwhile, or not ours to read
        return None
    fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) ": state ppid …
    # utime stime cutime cstime are fields 14-17 of stat (1-based), 11-14 here
    ticks = int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
    return _Proc(int(fields[1]), ticks, int(statm[1]))


def trees(roots: Iterable[int]) -> dict[int, TreeUsage]:
    """The usage of the process tree under each pid of ``roots`` (one pass over /proc)."""
    wanted = {pid for pid in roots if pid > 0}
    if not wanted:
        return {}
    procs: dict[int, _Proc] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            found = _read(int(entry.name))
            if found is not None:
                procs[int(entry.name)] = found
    children: dict[int, list[int]] = {}
    for pid, p in procs.items():
        children.setdefault(p.ppid, []).append(pid)
    out = {}
    for root in wanted:
        if root not in procs:
            continue
        ticks = pages = 0
        stack = [root]
        while stack:
            pid = stack.pop()
            p = procs[pid]
            ticks += p.cpu_ticks
            pages += p.rss_pages
            stack.extend(children.get(pid, ()))
        out[root] = TreeUsage(ticks / _TICK, pages * _PAGE)
    return out
