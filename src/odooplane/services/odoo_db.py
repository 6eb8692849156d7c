"""SQL on an Odoo database, for what Odoo itself does not offer as a command: the identity reset
of a copied database (a template copy keeps the template's uuid, secret and admin password)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
from psycopg import sql

from odooplane.errors import PermanentError
from odooplane.services.postgres import ClusterConn, connect


@dataclass(frozen=True)
class Identity:
    """What makes a database itself: reset on every copy."""

    base_url: str
    admin_password_hash: str  # pbkdf2-sha512, as res_users.password stores it


def reset_identity(cluster: ClusterConn, database: str, identity: Identity) -> dict[str, str]:
    """Give ``database`` a new uuid, secret (it keys CSRF, sessions and portal tokens), creation date,
    its own web.base.url, a new admin password, and no API keys. Return the new parameters.

    Raise PermanentError if it is not an Odoo database.
    """
    params = {
        "database.uuid": str(uuid.uuid1()),
        "database.secret": str(uuid.uuid4()),
        "database.create_date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S"),
        "web.base.url": identity.base_url,
        # Odoo rewrites web.base.url to whatever URL an admin logs in with (a loopback port, a typo'd
        # host); the platform owns the public URL.
        "web.base.url.freeze": "True",
    }
    with connect(cluster, database) as conn, conn.transaction():
        if conn.execute("SELECT to_regclass('public.ir_config_parameter')").fetchone() in (None, (None,)):
            raise PermanentError(f"{database} is not an Odoo database (no ir_config_parameter)")
        for key, value in params.items():
            updated = conn.execute(
                "UPDATE ir_config_parameter SET value = %s, write_date = now() at time zone 'UTC' WHERE key = %s",
                (value, key),
            )
            if updated.rowcount == 0:
                conn.execute(
                    "INSERT INTO ir_config_parameter (key, value, create_date, write_date) "
                    "VALUES (%s, %s, now() at time zone 'UTC', now() at time zone 'UTC')",
                    (key, value),
                )
        conn.execute("UPDATE res_users SET password = %s WHERE login = 'admin'", (identity.admin_password_hash,))
        if conn.execute("SELECT to_regclass('public.res_users_apikeys')").fetchone() not in (None, (None,)):
            conn.execute("DELETE FROM res_users_apikeys")
    return params


_OWNED_RELATIONS = """
SELECT n.nspname, c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relowner = (SELECT oid FROM pg_roles WHERE rolname = %s) AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND NOT (c.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
           AND d.objid = c.oid AND d.deptype IN ('a', 'i')))
"""
_OWNED_ROUTINES = """
SELECT p.oid::regprocedure::text, p.prokind FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE p.proowner = (SELECT oid FROM pg_roles WHERE rolname = %s)
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
"""
_OWNED_TYPES = """
SELECT t.oid::regtype::text FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE t.typowner = (SELECT oid FROM pg_roles WHERE rolname = %s) AND t.typtype IN ('d', 'e', 'r', 'm')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
"""
_KIND = {"r": "TABLE", "p": "TABLE", "v": "VIEW", "m": "MATERIALIZED VIEW", "S": "SEQUENCE", "f": "FOREIGN TABLE"}


def take_ownership(cluster: ClusterConn, database: str, *, from_role: str, to_role: str) -> int:
    """Make ``to_role`` own every object of ``database`` that ``from_role`` owns, and take
    ``from_role``'s rights on the schema away. Return the number of objects changed.

    Not ``REASSIGN OWNED``: that also hands over every *database* the old role owns, and a
    pool's role owns the databases of all its tenants.
    """
    new = sql.Identifier(to_role)
    changed = 0
    with connect(cluster, database) as conn, conn.transaction():
        for schema, name, kind in conn.execute(_OWNED_RELATIONS, (from_role,)).fetchall():
            conn.execute(sql.SQL("ALTER {} {}.{} OWNER TO {}").format(
                sql.SQL(_KIND[str(kind)]), sql.Identifier(str(schema)), sql.Identifier(str(name)), new))
            changed += 1
        for signature, kind in conn.execute(_OWNED_ROUTINES, (from_role,)).fetchall():
            keyword = "AGGREGATE" if kind == "a" else "ROUTINE"
            conn.execute(sql.SQL("ALTER {} {} OWNER TO {}").format(sql.SQL(keyword), sql.SQL(str(signature)), new))
            changed += 1
        for (type_name,) in conn.execute(_OWNED_TYPES, (from_role,)).fetchall():
            conn.execute(sql.SQL("ALTER TYPE {} OWNER TO {}").format(sql.SQL(str(type_name)), new))
            changed += 1
        for (schema,) in conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspowner = (SELECT oid FROM pg_roles WHERE rolname = %s)",
            (from_role,),
        ).fetchall():
            conn.execute(sql.SQL("ALTER SCHEMA {} OWNER TO {}").format(sql.Identifier(str(schema)), new))
            changed += 1
        conn.execute(sql.SQL("REVOKE ALL ON SCHEMA public FROM {}").format(sql.Identifier(from_role)))
        conn.execute(sql.SQL("GRANT ALL ON SCHEMA public TO {}").format(new))
    return changed


def parameter(cluster: ClusterConn, database: str, key: str) -> str | None:
    with connect(cluster, database) as conn:
        row = conn.execute("SELECT value FROM ir_config_parameter WHERE key = %s", (key,)).fetchone()
    return None if row is None else str(row[0])


KEY_TABLES = ("res_partner", "res_users", "res_company", "ir_attachment", "ir_module_module", "ir_config_parameter",
              "sale_order", "account_move", "stock_picking", "purchase_order", "product_template", "mail_message")


def facts(cluster: ClusterConn, database: str) -> dict[str, object]:
    """What a backup manifest records about an Odoo database: series, installed modules with
    versions, PostgreSQL version, row counts of the key tables that exist, attachments."""
    with connect(cluster, database) as conn:
        return _facts(conn)


@contextmanager
def exported_snapshot(cluster: ClusterConn, database: str) -> Iterator[tuple[str, dict[str, object]]]:
    """A read-only repeatable-read transaction on ``database``, open for the block: yield its
    exported snapshot (``pg_export_snapshot()``, for ``pg_dump --snapshot``) and the database's
    facts as that snapshot sees them, so that a dump and the manifest's row counts agree however
    busy the database is."""
    with connect(cluster, database) as conn:
        conn.autocommit = False
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        try:
            row = conn.execute("SELECT pg_export_snapshot()").fetchone()
            assert row is not None
            yield str(row[0]), _facts(conn)
        finally:
            conn.rollback()


def _facts(conn: psycopg.Connection[tuple[object, ...]]) -> dict[str, object]:
    modules = {str(n): str(v or "") for n, v in conn.execute(
        "SELECT name, latest_version FROM ir_module_module WHERE state = 'installed' ORDER BY name").fetchall()}
    counts: dict[str, int] = {}
    for table in KEY_TABLES:
        if conn.execute("SELECT to_regclass(%s)", (f"public.{table}",)).fetchone() not in (None, (None,)):
            row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()
            counts[table] = int(str(row[0])) if row else 0
    attachments = conn.execute(
        "SELECT count(*), coalesce(sum(file_size), 0) FROM ir_attachment WHERE store_fname IS NOT NULL"
    ).fetchone()
    pg_version = int(conn.info.server_version)
    base = modules.get("base", "")
    series = ".".join(base.split(".")[:2]) if base else ""
    return {
        "series": series, "modules": modules, "pg_version": pg_version, "row_counts": counts,
        "attachments": {"count": int(str(attachments[0])) if attachments else 0,
                        "bytes": int(str(attachments[1])) if attachments else 0},
    }


def stored_attachments(cluster: ClusterConn, database: str) -> list[tuple[str, str]]:
    """(store_fname, checksum) of every attachment kept in the filestore."""
    with connect(cluster, database) as conn:
        rows = conn.execute(
            "SELECT store_fname, checksum FROM ir_attachment WHERE store_fname IS NOT NULL ORDER BY id"
        ).fetchall()
    return [(str(f), str(c or "")) for f, c in rows]
