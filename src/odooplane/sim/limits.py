"""Process limits, as ``odoo/service/server.py`` applies them.

``limit_memory_hard`` becomes the RLIMIT_AS soft limit (allocations beyond it
fail, even in threaded mode); ``limit_memory_soft`` is compared with the
virtual size after each unit of work to recycle a worker; ``limit_time_cpu``
is re-armed per request through RLIMIT_CPU; children ask the kernel to signal
them when their parent dies.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import platform
import resource
import signal

from odooplane.sim.config import Config

_logger = logging.getLogger("odoo.service.server")
PR_SET_PDEATHSIG = 1


def set_limit_memory_hard(config: Config, *, evented: bool = False) -> None:
    """Apply ``limit_memory_hard`` (or its gevent variant) as RLIMIT_AS, on Linux only."""
    if platform.system() != "Linux":
        return
    limit = config["limit_memory_hard"]
    if evented and config["limit_memory_hard_gevent"]:
        limit = config["limit_memory_hard_gevent"]
    if limit:
        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            limit = min(int(limit), hard)
        resource.setrlimit(resource.RLIMIT_AS, (int(limit), hard))


def virtual_memory() -> int:
    """This process's virtual size in bytes (what Odoo compares with limit_memory_soft)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as handle:
            return int(handle.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


def rearm_cpu_limit(config: Config) -> None:
    """Allow ``limit_time_cpu`` more seconds of CPU from now (SIGXCPU past it)."""
    if not config["limit_time_cpu"]:
        return
    usage = resource.getrusage(resource.RUSAGE_SELF)
    _soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = int(usage.ru_utime + usage.ru_stime + int(config["limit_time_cpu"]))
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """Ask Linux to send ``sig`` to this process when its parent dies (prctl PR_SET_PDEATHSIG)."""
    try:
        try:
            # The process's own symbols include libc's; find_library("c") would run ldconfig in a subprocess.
            prctl = ctypes.CDLL(None, use_errno=True).prctl
        except (OSError, AttributeError):
            prctl = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True).prctl
        prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
    except (OSError, AttributeError):
        _logger.debug("prctl(PR_SET_PDEATHSIG) unavailable", exc_info=True)
