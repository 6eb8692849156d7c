"""``size``: recommended workers and memory per pool and dedicated environment, from the
expected concurrent users, against what is allocated and what this machine has."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from odooplane.actions import estate_file
from odooplane.estate import sizing
from odooplane.services import host


@dataclass(frozen=True)
class SizeReport:
    rows: list[sizing.Sizing]
    cpus: int
    memory_mib: int
    machine_workers: int
    workers_now: int
    workers_recommended: int
    ram_now_mib: int
    ram_recommended_mib: int

    @property
    def fits(self) -> bool:
        return self.workers_recommended <= self.machine_workers and self.ram_recommended_mib <= self.memory_mib


def run(path: Path | None) -> SizeReport:
    valid = estate_file.load(path)
    rows = [sizing.for_pool(pool, valid.pool_members(pool.name)) for pool in valid.pools]
    rows += [sizing.for_dedicated(env) for env in valid.environments if env.pool is None]
    cap = host.capacity()
    return SizeReport(
        rows=rows, cpus=cap.cpus, memory_mib=cap.memory_mib, machine_workers=sizing.machine_workers(cap.cpus),
        workers_now=sum(r.workers_now for r in rows), workers_recommended=sum(r.workers_recommended for r in rows),
        ram_now_mib=sum(r.ram_now_mib for r in rows), ram_recommended_mib=sum(r.ram_recommended_mib for r in rows),
    )
