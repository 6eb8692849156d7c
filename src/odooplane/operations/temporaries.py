"""Temporary artifacts that survive a crash: each is registered in the state store before it is
created and released once it is gone (or has become permanent), so the next run finds what a
killed operation left behind and removes it — or, for a database/filestore swap that had begun,
rolls it forward to the verified copy.

Databases are created atomically from the estate's point of view: under a fresh random name
(registered first), marked, then renamed to their real name. A database under a real name is
therefore always marked as this estate's, and an unmarked one is never taken for ours.
"""

from __future__ import annotations

import logging
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

from odooplane import execute, faults
from odooplane.drivers.base import FilestoreRef, Storage
from odooplane.errors import LockedError, OdooplaneError
from odooplane.operations import locks
from odooplane.operations.context import Context
from odooplane.services import postgres
from odooplane.services.postgres import ClusterConn
from odooplane.store import temporaries
from odooplane.store.temporaries import Temporary

logger = logging.getLogger(__name__)
NEW_PREFIX = "opl_new_"  # a database being created: never a real name (tenant names have no '_')


@contextmanager
def directory(ctx: Context, path: Path, *, target: str, purpose: str, operation_id: int | None) -> Iterator[Path]:
    """Yield ``path`` as a fresh, owner-only scratch directory, removed afterwards (also when the
    block fails). Registered before it exists, so a kill leaves a leftover the next run removes."""
    temp_id = temporaries.register(ctx.store, kind="directory", name=str(path), target=target, purpose=purpose,
                                   operation_id=operation_id)
    try:
        if path.exists():
            shutil.rmtree(path)
        path.mkdir(parents=True, mode=0o700)
        faults.point(f"{purpose}:directory-created")
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        temporaries.release(ctx.store, temp_id)


@contextmanager
def storage(ctx: Context, name: str, *, target: str, purpose: str, operation_id: int | None) -> Iterator[str]:
    """Yield the storage ``name`` (a sandbox's data_dir, wherever the driver keeps it), removed
    afterwards through the driver. Registered before it exists: a kill leaves a leftover the next
    run removes."""
    temp_id = temporaries.register(ctx.store, kind="storage", name=name, target=target, purpose=purpose,
                                   operation_id=operation_id)
    try:
        ctx.driver.storage.remove_storage(name)  # what a killed run of the same name left
        faults.point(f"{purpose}:storage-registered")
        yield name
    finally:
        ctx.driver.storage.remove_storage(name)
        temporaries.release(ctx.store, temp_id)


def register_directory(ctx: Context, path: Path, *, target: str, purpose: str, operation_id: int | None) -> int:
    """Register a control-plane directory about to be created that outlives one block (a scratch
    cluster's copy)."""
    return temporaries.register(ctx.store, kind="directory", name=str(path), target=target, purpose=purpose,
                                operation_id=operation_id)


def register_filestore(ctx: Context, ref: FilestoreRef, *, target: str, purpose: str,
                       operation_id: int | None) -> int:
    """Register a filestore about to be made (a staged copy) or to be removed (one left behind by
    a move): the next run removes it through the driver's storage."""
    return temporaries.register(ctx.store, kind="filestore", name=str(ref), target=target, purpose=purpose,
                                operation_id=operation_id, data=_ref_data(ref))


def _ref_data(ref: FilestoreRef) -> dict[str, str]:
    return {"storage": ref.storage, "database": ref.database, "suffix": ref.suffix}


def _ref(data: dict[str, Any]) -> FilestoreRef:
    return FilestoreRef(str(data["storage"]), str(data["database"]), str(data.get("suffix", "")))


def register_database(ctx: Context, cluster: ClusterConn, name: str, *, target: str, purpose: str,
                      operation_id: int | None, role: str | None = None) -> int:
    """Register a database about to be created (with ``role``: a scratch role that goes with it)."""
    return temporaries.register(ctx.store, kind="database", location=cluster.name, name=name, target=target,
                                purpose=purpose, operation_id=operation_id, data={"role": role} if role else None)


def register_role(ctx: Context, cluster: ClusterConn, role: str, *, target: str, purpose: str,
                  operation_id: int | None) -> int:
    """Register a role about to be dropped (or created as scratch): the next run drops it."""
    return temporaries.register(ctx.store, kind="role", location=cluster.name, name=role, target=target,
                                purpose=purpose, operation_id=operation_id)


def register_process(ctx: Context, pid: int, *, mark: str, target: str, purpose: str,
                     operation_id: int | None) -> int:
    """Register a process started outside the driver (a sandbox Odoo): ``mark`` is a string its
    command line contains, so a reused pid is never killed."""
    return temporaries.register(ctx.store, kind="process", name=str(pid), target=target, purpose=purpose,
                                operation_id=operation_id, data={"mark": mark})


def release(ctx: Context, temp_id: int) -> None:
    temporaries.release(ctx.store, temp_id)


def create_database(ctx: Context, cluster: ClusterConn, *, database: str, owner: str, comment: str, target: str,
                    operation_id: int | None, template: str | None = None, extensions: bool = True) -> bool:
    """Create ``database`` owned by ``owner`` and marked with ``comment`` as one atomic fact: made
    under a registered random name, marked, then renamed. Return False if it already existed
    (then only its owner and ACL are ensured; a database without our mark raises)."""
    if postgres.database_exists(cluster, database):
        postgres.ensure_database(cluster, database=database, owner=owner, comment=comment)
        return False
    scratch = f"{NEW_PREFIX}{secrets.token_hex(6)}"
    temp_id = register_database(ctx, cluster, scratch, target=target, purpose="create", operation_id=operation_id)
    try:
        if template is None:
            postgres.create_database(cluster, database=scratch, owner=owner)
        else:
            postgres.create_database(cluster, database=scratch, owner=owner, template=template)
        faults.point("create-database:created")
        postgres.set_comment(cluster, scratch, comment)
        faults.point("create-database:marked")
        postgres.ensure_database(cluster, database=scratch, owner=owner, comment=comment)  # ACL
        if extensions and template is None:
            postgres.create_extensions(cluster, scratch)
        faults.point("create-database:ready")
    except OdooplaneError:
        # A failed attempt (the cluster refusing connections, say) is retried under a new name:
        # remove this one now if the cluster lets us; if not, it stays registered for the next run.
        with suppress(OdooplaneError):
            postgres.drop_database(cluster, scratch)
            temporaries.release(ctx.store, temp_id)
        raise
    postgres.rename_database(cluster, scratch, database)
    faults.point("create-database:renamed")
    temporaries.release(ctx.store, temp_id)
    return True


# -- swaps ---------------------------------------------------------------------------------------


STAGED = ".restore"  # the verified copy's filestore, beside the live one until the swap
SWAPPED_OUT = ".old"  # the live filestore, set aside during the swap


@dataclass(frozen=True)
class Swap:
    """Putting a verified copy in place: database ``temp`` becomes ``database`` (the old one, if
    ``in_place``, goes through ``old_db``) and the staged filestore (``<database>.restore`` of
    ``storage``) becomes the live one (the old one goes through ``<database>.old``).

    The database rename is the commit point: once ``temp`` is gone and ``database`` exists, the
    swap is finished forward whatever else happened; before that it is undone."""

    cluster: str
    database: str
    temp: str
    old_db: str
    storage: str  # the data_dir holding the environment's filestore (env-<slug> | pool-<name>)
    in_place: bool
    marker: str

    @property
    def live(self) -> FilestoreRef:
        return FilestoreRef(self.storage, self.database)

    @property
    def staged(self) -> FilestoreRef:
        return self.live.sibling(STAGED)

    @property
    def swapped_out(self) -> FilestoreRef:
        return self.live.sibling(SWAPPED_OUT)

    def as_data(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Swap:
        """The swap a record holds — also one written by an earlier version, which named the live
        filestore by its path (``…/envs/<slug>/data/filestore/<db>``, ``…/pools/<name>/data/…``)."""
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if "storage" not in fields:
            fields["storage"] = _storage_of_path(str(data.get("filestore", "")))
        return cls(**fields)


def _storage_of_path(path: str) -> str:
    """The storage name of a live filestore's path as earlier versions recorded it."""
    parts = PurePath(path).parts
    kinds = {"envs": "env", "pools": "pool"}
    if len(parts) >= 5 and parts[-2] == "filestore" and parts[-3] == "data" and parts[-5] in kinds:
        return f"{kinds[parts[-5]]}-{parts[-4]}"
    raise OdooplaneError(f"a swap recorded with filestore {path!r}: not an environment's or pool's filestore")


def begin_swap(ctx: Context, swap: Swap, *, target: str, operation_id: int | None) -> int:
    return temporaries.register(ctx.store, kind="swap", location=swap.cluster, name=swap.database, target=target,
                                purpose="swap", operation_id=operation_id, data=swap.as_data())


def run_swap(conn: ClusterConn, storage: Storage, swap: Swap) -> None:
    """Do the swap (idempotent: re-running it after any kill finishes it)."""
    exists = postgres.database_exists
    if exists(conn, swap.temp):
        if swap.in_place and exists(conn, swap.database):
            if exists(conn, swap.old_db):
                postgres.drop_database(conn, swap.old_db)  # a previous run's leftover, not the live data
            postgres.allow_connections(conn, swap.database, False)
            faults.point("swap:blocked")
            postgres.rename_database(conn, swap.database, swap.old_db)
            faults.point("swap:old-renamed")
        elif exists(conn, swap.database):
            raise OdooplaneError(f"database {swap.database} appeared during the swap: not replacing it")
        postgres.rename_database(conn, swap.temp, swap.database)
        faults.point("swap:new-renamed")
    _finish_swap(conn, storage, swap)


def _finish_swap(conn: ClusterConn, storage: Storage, swap: Swap) -> None:
    """After the commit point: mark the database, swap the filestores, drop the old."""
    postgres.set_comment(conn, swap.database, swap.marker)
    postgres.allow_connections(conn, swap.database, True)
    if storage.exists(swap.staged):
        if storage.exists(swap.live):
            storage.remove(swap.swapped_out)
            faults.point("swap:old-files-cleared")
            storage.move(swap.live, swap.swapped_out)
            faults.point("swap:files-moved-aside")
        storage.move(swap.staged, swap.live)
        faults.point("swap:files-renamed")
    # Neither a staged nor a live filestore: nothing to put in place (Odoo makes it on first use).
    storage.remove(swap.swapped_out)
    postgres.drop_database(conn, swap.old_db)
    faults.point("swap:done")


def _recover_swap(conn: ClusterConn, storage: Storage, swap: Swap) -> str:
    exists = postgres.database_exists
    if exists(conn, swap.temp) and exists(conn, swap.database):
        # Killed before the commit point: undo (the copy is removed as a temporary database).
        postgres.allow_connections(conn, swap.database, True)
        return f"{swap.database}: unfinished swap undone (the copy was never put in place)"
    if exists(conn, swap.temp) or exists(conn, swap.database):
        run_swap(conn, storage, swap)
        return f"{swap.database}: unfinished swap finished (the verified copy is in place)"
    if exists(conn, swap.old_db):
        postgres.rename_database(conn, swap.old_db, swap.database)
        postgres.allow_connections(conn, swap.database, True)
        return f"{swap.database}: unfinished swap undone (the previous database is back)"
    return f"{swap.database}: nothing left of the swap"


# -- leftovers -------------------------------------------------------------------------------------


def pending(ctx: Context, *, target: str | None = None) -> list[Temporary]:
    """What killed operations left (for plan and status; nothing is changed but the journal's
    record of which operations were interrupted)."""
    from odooplane.store import journal

    journal.mark_interrupted(ctx.store)
    return temporaries.leftovers(ctx.store, target=target)


def lock_name(target: str) -> str:
    """The lock guarding an environment's temporaries (the one its operations hold)."""
    return f"env-{target.replace('/', '__')}"


def clean_up(ctx: Context, *, target: str | None = None, held: bool = False,
             operation_id: int | None = None) -> list[str]:
    """Remove what killed operations left (of ``target`` only, if given); finish their swaps.
    Return what was done, one line each. Idempotent.

    Each environment's leftovers are handled under its lock (``held``: the caller holds the lock
    of ``target`` already); an environment whose lock is busy is skipped — its running operation
    may be using names a dead one registered."""
    from odooplane.store import journal

    journal.mark_interrupted(ctx.store)
    done: list[str] = []
    items = temporaries.leftovers(ctx.store, target=target, including_operation=operation_id)
    for name in sorted({item.target for item in items}):
        mine = [item for item in items if item.target == name]
        if held and name == target:
            done.extend(_clean_all(ctx, mine))
            continue
        try:
            with locks.hold(ctx.store, lock_name(name), wait=0, what=name,
                            holder=f"clean-up of {name}'s leftovers"):
                done.extend(_clean_all(ctx, mine))
        except LockedError:
            logger.info("%s: busy; its leftovers are cleaned up later", name)
    return done


def _clean_all(ctx: Context, items: list[Temporary]) -> list[str]:
    done: list[str] = []
    for item in items:
        try:
            done.append(_clean_one(ctx, item))
        except OdooplaneError as exc:
            logger.warning("%s: could not clean up %s: %s", item.target, item.describe(), exc.message)
            continue
        temporaries.release(ctx.store, item.id)
        faults.point("cleanup:released")
    return done


def _clean_one(ctx: Context, item: Temporary) -> str:
    if item.kind == "directory":
        # A scratch copy of a cluster (point-in-time recovery) left running by a killed restore.
        stopped = ctx.driver.pitr.discard(Path(item.name)) if item.purpose == "pitr" else False
        shutil.rmtree(item.name, ignore_errors=True)
        return f"removed {item.describe()}" + (" (its scratch PostgreSQL stopped)" if stopped else "")
    if item.kind == "process":
        stopped = _stop_process(int(item.name), str(item.data.get("mark", "")))
        return f"{'stopped' if stopped else 'forgot'} {item.describe()}"
    if item.kind == "filestore":
        ctx.driver.storage.remove(_ref(item.data))
        return f"removed {item.describe()}"
    if item.kind == "storage":
        ctx.driver.storage.remove_storage(item.name)
        return f"removed {item.describe()}"
    conn = ctx.cluster_conn(item.location, allocate=False) if item.location in ctx.estate.clusters else None
    if conn is None:
        return f"forgot {item.describe()} (its cluster is gone)"
    if item.kind == "swap":
        return _recover_swap(conn, ctx.driver.storage, Swap.from_data(item.data))
    if item.kind == "role":
        postgres.drop_role(conn, item.name)
        return f"removed {item.describe()}"
    postgres.drop_database(conn, item.name)
    if item.data.get("role"):
        postgres.drop_role(conn, str(item.data["role"]))
    return f"removed {item.describe()}"


def _stop_process(pid: int, mark: str) -> bool:
    """SIGKILL the process group of ``pid`` if that pid still runs a command line containing
    ``mark`` (a pid may have been reused since)."""
    import signal

    return execute.signal_if(pid, mark, signal.SIGKILL, group=True)
