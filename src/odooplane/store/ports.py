"""Port allocations: which port each environment process or managed cluster got, so ports stay
stable across applies and never collide. Allocation checks the port is free on the host too."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable

import sqlalchemy as sa

from odooplane.errors import PermanentError
from odooplane.store import tables
from odooplane.store.db import Store


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def allocated(store: Store) -> dict[tuple[str, str], int]:
    with store.connect() as conn:
        rows = conn.execute(sa.select(tables.ports)).all()
    return {(r.owner, r.purpose): int(r.port) for r in rows}


def allocate(
    store: Store,
    *,
    owner: str,
    purpose: str,
    start: int,
    end: int,
    reserved: Iterable[int] = (),
    is_free: Callable[[int], bool] = port_is_free,
) -> int:
    """Return the port of (owner, purpose), allocating a free one in [start, end] if it has none.

    ``reserved`` ports (fixed in the estate) are never handed out. Raise PermanentError when the
    range is exhausted.
    """
    existing = allocated(store)
    if (owner, purpose) in existing:
        return existing[(owner, purpose)]
    taken = set(existing.values()) | set(reserved)
    for port in range(start, end + 1):
        if port in taken or not is_free(port):
            continue
        try:
            with store.begin() as conn:
                conn.execute(tables.ports.insert().values(port=port, owner=owner, purpose=purpose))
        except sa.exc.IntegrityError:
            again = allocated(store)
            if (owner, purpose) in again:
                return again[(owner, purpose)]
            continue  # another process took this port a moment ago
        return port
    raise PermanentError(f"{owner}: no free port left in {start}-{end} for {purpose} (widen platform.ports)")


def pin(store: Store, *, owner: str, purpose: str, port: int) -> None:
    """Record a fixed port from the estate as (owner, purpose)'s allocation."""
    with store.begin() as conn:
        conn.execute(tables.ports.delete().where(tables.ports.c.owner == owner, tables.ports.c.purpose == purpose))
        conn.execute(tables.ports.delete().where(tables.ports.c.port == port))
        conn.execute(tables.ports.insert().values(port=port, owner=owner, purpose=purpose))


def release(store: Store, *, owner: str) -> None:
    release_all(store, [owner])


def release_all(store: Store, owners: Iterable[str]) -> None:
    """Release every port of these owners, in one transaction."""
    wanted = list(owners)
    with store.begin() as conn:
        for start in range(0, len(wanted), 500):
            conn.execute(tables.ports.delete().where(tables.ports.c.owner.in_(wanted[start:start + 500])))
