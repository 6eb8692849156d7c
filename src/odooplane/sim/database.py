"""PostgreSQL access the way ``odoo/sql_db.py`` and ``odoo/service/db.py`` do it.

Connections use ``db_host``/``db_port``/``db_user``/``db_password``/``db_sslmode``
(an empty host means libpq's default unix socket) with ``application_name``
``odoo-<pid>``, and are kept in a per-process pool bounded by ``db_maxconn``.
``list_dbs`` is the real query: databases owned by the connected role, not
templates, allowing connections, other than ``postgres`` and ``db_template``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql

from odooplane.sim import logs
from odooplane.sim.config import Config
from odooplane.sim.exceptions import AccessDenied, DatabaseExists

_logger = logging.getLogger("odoo.sql_db")
Connection = psycopg.Connection[tuple[Any, ...]]
LIST_CACHE_SECONDS = 0.05  # real Odoo asks PostgreSQL on every request; this only coalesces bursts


class PoolError(psycopg.OperationalError):
    """``odoo.sql_db.PoolError``: every pooled connection is in use."""


def connect_kwargs(config: Config, dbname: str) -> dict[str, Any]:
    """Return psycopg.connect() keyword arguments for ``dbname``."""
    kwargs: dict[str, Any] = {"dbname": dbname, "application_name": f"odoo-{os.getpid()}"}
    if config["db_host"]:
        kwargs["host"] = str(config["db_host"])
    if config["db_port"]:
        kwargs["port"] = int(config["db_port"])
    if config["db_user"]:
        kwargs["user"] = str(config["db_user"])
    if config["db_password"]:
        kwargs["password"] = str(config["db_password"])
    if config["db_sslmode"]:
        kwargs["sslmode"] = str(config["db_sslmode"])
    return kwargs


def connect(config: Config, dbname: str, *, autocommit: bool = False) -> Connection:
    """Open a new connection to ``dbname``. Raise psycopg.OperationalError if refused."""
    return psycopg.connect(autocommit=autocommit, connect_timeout=10, **connect_kwargs(config, dbname))


def execute(conn: Connection, query: str | sql.Composed | sql.SQL, params: Any = None) -> psycopg.Cursor[Any]:
    """Run one statement on ``conn``, accounting it to the current request's perf info."""
    start = time.monotonic()
    try:
        return conn.execute(query, params)
    finally:
        logs.count_query(time.monotonic() - start)


class Pool:
    """Per-process connection pool (one per process: never shared across fork)."""

    def __init__(self, config: Config) -> None:
        self._config = config
        self._lock = threading.Lock()
        self._idle: dict[str, list[Connection]] = {}
        self._used = 0
        self._maxconn = max(1, int(config["db_maxconn"] or 64))

    def _take(self, dbname: str) -> Connection | None:
        with self._lock:
            while self._idle.get(dbname):
                conn = self._idle[dbname].pop()
                if not conn.closed and not conn.broken:
                    self._used += 1
                    return conn
            total = self._used + sum(len(c) for c in self._idle.values())
            if total >= self._maxconn:
                # Like odoo.sql_db.ConnectionPool: drop the idle connection of another database.
                for other in self._idle.values():
                    if other:
                        other.pop(0).close()
                        break
                else:
                    raise PoolError("The Connection Pool Is Full")
            self._used += 1
            return None

    def _release_slot(self) -> None:
        with self._lock:
            self._used -= 1

    def _borrow(self, dbname: str) -> Connection:
        """An idle connection to ``dbname`` that still works, else a new one.

        Like ``ConnectionPool.borrow``, which calls ``cnx.reset()`` (a ``DISCARD ALL`` round trip) on
        every idle connection it hands out: one the server closed meanwhile — its backend terminated
        because the database was renamed, copied or dropped, or PostgreSQL restarted — is noticed
        there, closed and replaced, instead of failing the request that would have used it.
        """
        while True:
            conn = self._take(dbname)
            try:
                if conn is None:
                    return connect(self._config, dbname)
            except BaseException:
                self._release_slot()
                raise
            if _alive(conn):
                return conn
            _logger.debug("Cannot reset connection to %r: closed", dbname)
            self._release_slot()

    @contextmanager
    def cursor(self, dbname: str, *, readonly: bool = False) -> Iterator[Connection]:
        """Borrow a connection to ``dbname`` for one transaction: commit on success, roll back on error.

        ``readonly`` blocks (that only SELECT) run in autocommit: under READ COMMITTED each statement sees
        its own snapshot anyway, and they are spared the BEGIN and COMMIT round trips.
        """
        conn = self._borrow(dbname)
        ok = False
        try:
            if readonly:
                try:
                    conn.autocommit = True
                except psycopg.Error:
                    readonly = False  # an unusable connection: let the statement report it, as without
            yield conn
            conn.commit()
            ok = True
        finally:
            if not ok and not conn.closed:
                try:
                    conn.rollback()
                except psycopg.Error:
                    conn.close()
            if readonly and not conn.closed:
                try:
                    conn.autocommit = False
                except psycopg.Error:
                    conn.close()
            with self._lock:
                self._used -= 1
                if not conn.closed and not conn.broken:
                    self._idle.setdefault(dbname, []).append(conn)

    def close_db(self, dbname: str) -> None:
        """Close the idle connections to ``dbname`` (e.g. before it is dropped or copied)."""
        with self._lock:
            for conn in self._idle.pop(dbname, []):
                conn.close()

    def close_all(self) -> None:
        with self._lock:
            for conns in self._idle.values():
                for conn in conns:
                    conn.close()
            self._idle.clear()


def _alive(conn: Connection) -> bool:
    """One round trip on an idle pooled connection (``cnx.reset()``); close it if the server is gone.

    An empty statement in autocommit: ``DISCARD ALL`` would also drop the statements psycopg prepared.
    """
    try:
        conn.autocommit = True
        conn.execute("", prepare=False)
        conn.autocommit = False
        return True
    except psycopg.Error:
        conn.close()
        return False


_list_cache: tuple[float, tuple[str, ...], list[str]] | None = None
_list_lock = threading.Lock()


def _query_dbs(config: Config) -> list[str]:
    templates = tuple({"postgres", str(config["db_template"])})
    with connect(config, "postgres", autocommit=True) as conn:
        rows = execute(
            conn,
            "select datname from pg_database where datdba=(select usesysid from pg_user where usename=current_user)"
            " and not datistemplate and datallowconn and datname <> ALL(%s) order by datname",
            (list(templates),),
        ).fetchall()
    return [str(name) for (name,) in rows]


def list_dbs(config: Config, *, force: bool = False) -> list[str]:
    """``odoo.service.db.list_dbs``: the databases this server may serve.

    Raise AccessDenied when ``list_db`` is off and ``force`` is not set.  With
    ``db_name`` set and no ``dbfilter``, return ``db_name`` split on commas
    without asking PostgreSQL.  The PostgreSQL answer is cached for 50 ms
    so a burst of requests does not each query ``pg_database``.
    """
    global _list_cache  # noqa: PLW0603 - a deliberate per-process cache
    if not config["list_db"] and not force:
        raise AccessDenied()
    if not config["dbfilter"] and config["db_name"]:
        return sorted(config.db_names)
    key = (str(config["db_host"]), str(config["db_port"]), str(config["db_user"]))
    with _list_lock:
        now = time.monotonic()
        if _list_cache is not None and _list_cache[1] == key and now - _list_cache[0] < LIST_CACHE_SECONDS:
            return list(_list_cache[2])
        try:
            result = _query_dbs(config)
        except psycopg.Error:
            _logger.exception("Listing databases failed:")
            result = []
        _list_cache = (now, key, result)
        return list(result)


def forget_db_list() -> None:
    """Drop the cached database list (after creating or dropping a database)."""
    global _list_cache  # noqa: PLW0603
    with _list_lock:
        _list_cache = None


def db_exists(config: Config, name: str) -> bool:
    """Whether ``name`` exists in ``pg_database``."""
    with connect(config, "postgres", autocommit=True) as conn:
        return execute(conn, "SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


def create_empty_database(config: Config, name: str) -> None:
    """``_create_empty_database``: CREATE DATABASE like Odoo, then pg_trgm and public schema grant.

    Raise DatabaseExists if it exists already; psycopg.errors.InsufficientPrivilege
    when the role may not create databases.
    """
    template = str(config["db_template"])
    with connect(config, "postgres", autocommit=True) as conn:
        if execute(conn, "SELECT datname FROM pg_database WHERE datname = %s", (name,)).fetchone():
            raise DatabaseExists(f"database {name!r} already exists!")
        # 'C' collate is only safe with template0, but gives more useful indexes (Odoo's comment).
        collate = sql.SQL("LC_COLLATE 'C'" if template == "template0" else "")
        execute(conn, sql.SQL("CREATE DATABASE {} ENCODING 'unicode' {} TEMPLATE {}").format(
            sql.Identifier(name), collate, sql.Identifier(template)))
    forget_db_list()
    log = logging.getLogger("odoo.service.db")
    try:
        conn = connect(config, name, autocommit=True)
    except psycopg.Error as exc:
        log.warning("Unable to create PostgreSQL extensions : %s", exc)
        log.warning("Unable to make public schema public-accessible: %s", exc)
        return
    with conn:  # one connection for both steps; each may fail on its own, as in Odoo
        try:
            execute(conn, "CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except psycopg.Error as exc:
            log.warning("Unable to create PostgreSQL extensions : %s", exc)
        try:
            execute(conn, "GRANT CREATE ON SCHEMA PUBLIC TO PUBLIC")
        except psycopg.Error as exc:
            log.warning("Unable to make public schema public-accessible: %s", exc)


def is_initialized(conn: Connection) -> bool:
    """``odoo.modules.db.is_initialized``: whether ``ir_module_module`` exists."""
    row = execute(conn, "SELECT 1 FROM information_schema.tables WHERE table_name = 'ir_module_module'"
                        " AND table_schema = current_schema()").fetchone()
    return row is not None
