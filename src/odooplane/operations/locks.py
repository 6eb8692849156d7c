"""Locks: one per environment (``env-<tenant>__<env>``), cluster (``cluster-<name>``), template
(``template-<key>``) and pool (``pool-<name>``), held as leases in the state store
(store/leases.py) so that every control-plane process sharing it — on this host or another —
excludes the others. A holder that dies loses its lock: at once on this host, after the lease TTL
from another."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from odooplane.store import leases
from odooplane.store.db import Store

if TYPE_CHECKING:
    from odooplane.operations.runner import Operation


@contextmanager
def hold(store: Store, name: str, *, wait: float = 0.0, what: str | None = None, op: Operation | None = None,
         holder: str | None = None) -> Iterator[None]:
    """Hold the lock ``name`` for the duration of the block, on behalf of operation ``op`` (or of
    whatever ``holder`` says).

    Wait up to ``wait`` seconds for it; raise :class:`LockedError` naming the holder and what it
    is doing otherwise."""
    if op is not None:
        holder = holder or f"{op.kind} {op.target} (operation #{op.op_id})"
    with leases.hold(store, name, wait=wait, what=what, holder=holder,
                     operation_id=op.op_id if op is not None else None,
                     settings=op.settings if op is not None else None):
        yield
