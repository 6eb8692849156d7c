"""Per-database registries: what a process holds in memory for each database it served.

Real Odoo builds a model registry per database on its first request (about
2 MiB for a base database, 6.3 MiB with 59 modules) and keeps them in an LRU
of ``registry_lru_size`` entries (default ``limit_memory_soft`` / 15 MiB).  The
simulator's registry reads the installed modules and holds a deliberate
footprint of the same order (0.9 MiB + 94 KiB per installed module), so
memory measurements of pools behave like real ones.  Threaded cron threads
visit only the databases whose registry is loaded here.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

import psycopg

from odooplane.sim import database
from odooplane.sim.config import Config
from odooplane.sim.database import Pool, execute
from odooplane.sim.exceptions import RegistryError

_logger = logging.getLogger("odoo.modules.registry")
BASE_FOOTPRINT = 900 * 1024
MODULE_FOOTPRINT = 94 * 1024


def _footprint(size: int) -> bytearray:
    # Write every page so the memory is resident, not just reserved.
    chunk = bytes(range(256)) * 16
    buffer = bytearray(chunk * (size // len(chunk) + 1))
    return buffer[:size]


@dataclass
class Registry:
    """What the process knows about one database."""

    db_name: str
    modules: frozenset[str]
    base_version: str | None
    loaded_at: float = field(default_factory=time.time)
    ready: bool = True
    footprint: bytearray = field(default_factory=bytearray, repr=False)


class Registries:
    """The LRU of loaded registries of this process (``Registry.registries``)."""

    def __init__(self, config: Config, pool: Pool) -> None:
        self._config = config
        self._pool = pool
        self._size = config.registry_lru_size
        self._lock = threading.RLock()
        self._items: OrderedDict[str, Registry] = OrderedDict()
        self.loads = 0

    def get(self, db_name: str, *, quiet: bool = False) -> Registry:
        """Return the registry of ``db_name``, loading it on first use.

        Raise RegistryError if the database cannot be opened or is not an
        initialised Odoo database of this series.
        """
        with self._lock:
            registry = self._items.get(db_name)
            if registry is not None:
                self._items.move_to_end(db_name)
                return registry
            registry = self._load(db_name, quiet=quiet)
            self._items[db_name] = registry
            while len(self._items) > self._size:
                self._items.popitem(last=False)
            return registry

    def _load(self, db_name: str, *, quiet: bool) -> Registry:
        start = time.monotonic()
        try:
            with self._pool.cursor(db_name, readonly=True) as conn:
                if not database.is_initialized(conn):
                    _logger.error("Database %s not initialized, you can force it with `-i base`", db_name)
                    raise RegistryError(f"Cannot get registry {db_name}")
                rows = execute(conn, "SELECT name, latest_version FROM ir_module_module"
                                     " WHERE state IN ('installed', 'to upgrade', 'to remove')").fetchall()
        except psycopg.Error as exc:
            raise RegistryError(f"Cannot get registry {db_name}") from exc
        modules = frozenset(str(name) for name, _ in rows)
        base_version = next((str(version) for name, version in rows if name == "base"), None)
        registry = Registry(db_name=db_name, modules=modules, base_version=base_version,
                            footprint=_footprint(BASE_FOOTPRINT + MODULE_FOOTPRINT * len(modules)))
        self.loads += 1
        _logger.log(logging.DEBUG if quiet else logging.INFO, "Registry loaded in %.3fs", time.monotonic() - start)
        return registry

    def delete(self, db_name: str) -> None:
        """Forget ``db_name`` (dropped or renamed database)."""
        with self._lock:
            self._items.pop(db_name, None)

    def loaded(self) -> list[Registry]:
        """The registries currently held, least recently used first."""
        with self._lock:
            return list(self._items.values())
