"""The state database: engine creation, migrations (Alembic) and small helpers.

SQLite by default (WAL mode, a busy timeout so several CLI processes can share it), any
PostgreSQL URL supported. Opening a store checks its schema revision with one query; only a store
behind it is migrated, once, under a lock (PostgreSQL: an advisory lock; SQLite: an immediate
transaction), with the revision checked again inside it — processes opening a fresh store together
wait for the first one's migration instead of running their own.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from odooplane.errors import OdooplaneError
from odooplane.store import tables

MIGRATIONS = Path(__file__).parent / "migrations"
# The newest migration. Checked with one query so that Alembic (slow to import) only loads when a
# migration must run; a unit test keeps this equal to Alembic's own head.
HEAD = "0013"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def default_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'state.db'}"


def normalise_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs written the libpq way."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for PostgreSQL advisory locks, derived from ``name``."""
    return int.from_bytes(hashlib.sha256(f"odooplane:{name}".encode()).digest()[:8], "big", signed=True)


@dataclass
class Store:
    engine: Engine
    url: str
    migrated_from: str | None = None  # set when this open migrated the schema ("" from an empty database)
    _dedicated: Engine | None = field(default=None, repr=False)

    def begin(self) -> Any:
        return self.engine.begin()

    def connect(self) -> Any:
        return self.engine.connect()

    @property
    def is_postgresql(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def dedicated_connection(self) -> Any:
        """A connection of its own, outside the pool, in autocommit mode — for a session-level lock
        held as long as a block runs (such holds must never starve the pool of connections)."""
        if self._dedicated is None:
            self._dedicated = sa.create_engine(self.url, poolclass=sa.pool.NullPool)
        return self._dedicated.connect().execution_options(isolation_level="AUTOCOMMIT")

    def close(self) -> None:
        self.engine.dispose()
        if self._dedicated is not None:
            self._dedicated.dispose()

    def meta_get(self, key: str) -> str | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(tables.meta.c.value).where(tables.meta.c.key == key)).first()
        return None if row is None else str(row[0])

    def estate_id(self) -> str:
        """Return this state database's stable estate id (created on first use)."""
        found = self.meta_get("estate_id")
        if found:
            return found
        new = uuid.uuid4().hex[:12]
        try:
            with self.engine.begin() as conn:
                conn.execute(tables.meta.insert().values(key="estate_id", value=new))
        except sa.exc.IntegrityError:
            pass  # another process created it first
        found = self.meta_get("estate_id")
        assert found is not None
        return found


def _alembic_config(conn: Any) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    return cfg


def open_store(url: str, *, migrate: bool = True) -> Store:
    """Open the state database at ``url`` and bring its schema to the newest revision.

    Raise :class:`OdooplaneError` with the (password-free) URL if it cannot be reached.
    """
    url = normalise_url(url)
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = sa.create_engine(url, pool_pre_ping=True)
    shown = sa.engine.make_url(url).render_as_string(hide_password=True)
    migrated_from = None
    try:
        with engine.connect() as conn:
            current = _current_revision(conn) if migrate else HEAD
        if current != HEAD:
            migrated_from = _migrate(engine, url)
    except sa.exc.OperationalError as exc:
        engine.dispose()
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise OdooplaneError(f"state database {shown} is unreachable: {reason}") from exc
    return Store(engine, url, migrated_from=migrated_from)


def open_read_only(url: str) -> Store | None:
    """Open the state database at ``url`` for reading only (never created, migrated or written);
    None if an SQLite file does not exist. Raise :class:`OdooplaneError` if it cannot be reached."""
    url = normalise_url(url)
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if not path.is_file():
            return None
        uri = f"file:{path}?mode=ro"
        engine = sa.create_engine("sqlite://", creator=lambda: sqlite3.connect(uri, uri=True, timeout=30))
        return Store(engine, url)
    return open_store(url, migrate=False)


def _migrate(engine: Engine, url: str) -> str | None:
    """Bring the schema to ``HEAD`` under the migration lock; return the revision it migrated from
    ("" from an empty database), or None when another process had done it meanwhile."""
    from alembic import command

    if engine.dialect.name == "sqlite":
        # An immediate transaction takes SQLite's write lock at BEGIN (other writers wait up to the
        # busy timeout); the driver's own transaction handling is switched off so BEGIN is ours.
        locked = sa.create_engine(url, connect_args={"timeout": 30}, poolclass=sa.pool.NullPool)
        sa.event.listen(locked, "connect", _sqlite_pragmas)
        sa.event.listen(locked, "connect", _sqlite_manual_transactions)
        sa.event.listen(locked, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
    else:
        locked = engine
    try:
        with locked.begin() as conn:
            if locked.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": advisory_key("schema-migration")})
            current = _current_revision(conn)
            if current == HEAD:
                return None
            command.upgrade(_alembic_config(conn), "head")
            return current or ""
    finally:
        if locked is not engine:
            locked.dispose()


def _sqlite_manual_transactions(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None


def _current_revision(conn: Any) -> str | None:
    if not sa.inspect(conn).has_table("alembic_version"):
        return None
    value = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    return None if value is None else str(value)


def alembic_head() -> str:
    """Alembic's own idea of the newest revision (for the test that pins ``HEAD``)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert head is not None
    return head


def now() -> dt.datetime:
    from odooplane.clock import current

    return current().now()


def aware(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite returns naive datetimes: everything stored is UTC, so attach UTC."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
