"""The state database: engine creation, migrations (Alembic) and small helpers.

SQLite by default (WAL mode, a busy timeout so several CLI processes can share it), any
PostgreSQL URL supported. Migrations run automatically when a store is opened.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from odooplane.errors import OdooplaneError
from odooplane.store import tables

MIGRATIONS = Path(__file__).parent / "migrations"
# The newest migration. Checked with one query so that Alembic (slow to import) only loads when a
# migration must run; a unit test keeps this equal to Alembic's own head.
HEAD = "0004"


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


@dataclass
class Store:
    engine: Engine
    url: str

    def begin(self) -> Any:
        return self.engine.begin()

    def connect(self) -> Any:
        return self.engine.connect()

    def close(self) -> None:
        self.engine.dispose()

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
    try:
        if migrate:
            with engine.begin() as conn:
                if _current_revision(conn) != HEAD:
                    from alembic import command

                    command.upgrade(_alembic_config(conn), "head")
        else:
            with engine.connect():
                pass
    except sa.exc.OperationalError as exc:
        engine.dispose()
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise OdooplaneError(f"state database {shown} is unreachable: {reason}") from exc
    return Store(engine, url)


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
