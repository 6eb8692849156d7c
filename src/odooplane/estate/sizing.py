"""Sizing from Odoo's deployment guidance: about 2xCPU+1 workers per machine, one worker per ~6
concurrent users, RAM per worker about 0.8 x 150 MB + 0.2 x 1 GB (most requests light, some heavy)."""

from __future__ import annotations

import math
import zlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from odooplane.estate.resolve import DesiredEnvironment, DesiredPool

USERS_PER_WORKER = 6
RAM_PER_WORKER_MIB = round(0.8 * 150 + 0.2 * 1024)  # 325 MiB
STAGE_LOAD = {"production": 1.0, "dr": 1.0, "staging": 0.1, "training": 0.3, "development": 0.05}
PROCESS_OVERHEAD_MIB = 150  # a prefork master, cron and evented processes (PSS, measured on Odoo 18)
REGISTRY_MIB = 15  # Odoo sizes each process's registry LRU as limit_memory_soft / 15 MiB (Registry.registries)
CRON_PARTITION = "odooplane_cron_partition"  # odoo.conf "I/N" of pool process I of N, read by odooplane_dbrouter


@dataclass(frozen=True)
class Sizing:
    target: str
    kind: str  # "pool" or "dedicated"
    tenants: int
    users: int
    workers_now: int  # HTTP workers in total (0 = threaded)
    workers_recommended: int
    ram_now_mib: int
    ram_recommended_mib: int
    limit_memory_soft_mib: int
    limit_memory_hard_mib: int
    connections_max: int | None = None  # a pool: the most PostgreSQL connections its processes may hold
    cron_share_max: int | None = None  # a pool: the most tenants one process's cron workers visit
    registry_lru: int | None = None  # a pool: the registries each of its processes keeps loaded
    memory_soft_for_crons_mib: int | None = None  # a pool: limit_memory_soft whose LRU holds a cron share


def users_of(env: DesiredEnvironment) -> int:
    return math.ceil(env.profile.peak_users * STAGE_LOAD.get(env.stage, 0.1))


def recommended_workers(users: int) -> int:
    return max(1, math.ceil(users / USERS_PER_WORKER))


def ram_mib(workers: int, processes: int = 1) -> int:
    return processes * PROCESS_OVERHEAD_MIB + max(workers, 1) * RAM_PER_WORKER_MIB


def for_dedicated(env: DesiredEnvironment) -> Sizing:
    users = users_of(env)
    want = recommended_workers(users)
    return Sizing(str(env.ref), "dedicated", 1, users, env.workers, want, ram_mib(env.workers), ram_mib(want),
                  env.limits.memory_soft_mib, env.limits.memory_hard_mib)


def for_pool(pool: DesiredPool, members: list[DesiredEnvironment]) -> Sizing:
    users = sum(users_of(env) for env in members)
    want_total = recommended_workers(users)
    now_total = pool.workers * pool.processes
    share = cron_share_max(pool, (env.database for env in members))
    return Sizing(f"pool {pool.name}", "pool", len(members), users, now_total, want_total,
                  ram_mib(now_total, pool.processes), ram_mib(want_total, pool.processes),
                  pool.limits.memory_soft_mib, pool.limits.memory_hard_mib, pool_connections(pool, len(members)),
                  cron_share_max=share, registry_lru=registry_lru(pool.limits.memory_soft_mib),
                  memory_soft_for_crons_mib=max(pool.limits.memory_soft_mib, share * REGISTRY_MIB))


def cron_partitioned(pool: DesiredPool) -> bool:
    """Whether the pool's processes share its tenants' crons (prefork, several processes, cron workers)."""
    return pool.processes > 1 and pool.workers > 0 and pool.max_cron_threads > 0


def cron_partition(database: str, processes: int) -> int:
    """The pool process whose cron workers visit ``database`` (as odooplane_dbrouter computes it)."""
    return zlib.crc32(database.encode("utf-8")) % processes


def cron_share_max(pool: DesiredPool, databases: Iterable[str]) -> int:
    """The most tenant databases one of the pool's processes visits for crons."""
    names = list(databases)
    if not cron_partitioned(pool):
        return len(names)
    counts = Counter(cron_partition(name, pool.processes) for name in names)
    return max(counts.values(), default=0)


def registry_lru(memory_soft_mib: int) -> int:
    """How many registries one Odoo process keeps loaded (Odoo 16 to 18: limit_memory_soft / 15 MiB)."""
    return max(1, memory_soft_mib // REGISTRY_MIB)


def pool_connections(pool: DesiredPool, tenants: int) -> int:
    """The most connections a pool's processes can hold open at once. Each Odoo server process
    (every HTTP worker, cron worker and the evented process in prefork mode; the one process when
    threaded) keeps its own connection pool, and keeps an idle connection per database it has
    served, up to ``db_maxconn``: with many tenants every process ends up holding ``db_maxconn``."""
    servers = pool.workers + pool.max_cron_threads + 1 if pool.workers > 0 else 1
    return pool.processes * servers * min(pool.db_maxconn, tenants + 1)


def machine_workers(cpus: int) -> int:
    """Odoo's rule of thumb for the HTTP workers one machine can serve."""
    return 2 * cpus + 1
