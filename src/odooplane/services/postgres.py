"""PostgreSQL administration for tenant isolation: roles, databases, ownership markers.

Identifiers are always passed through ``psycopg.sql.Identifier`` after the name rules of
``estate.names``; passwords reach the server only as SCRAM verifiers computed here, so the
plain password never appears in a statement or in PostgreSQL's logs.
"""

from __future__ import annotations

import atexit
import base64
import hashlib
import hmac
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
from psycopg import sql

from odooplane.errors import PermanentError, TemporaryError
from odooplane.estate.names import sql_identifier

MARKER_PREFIX = "odooplane:"


@dataclass(frozen=True)
class ClusterConn:
    """How to reach one cluster as an administrator (password already resolved)."""

    name: str
    host: str
    port: int
    user: str
    password: str | None
    dbname: str = "postgres"

    def kwargs(self, dbname: str | None = None) -> dict[str, object]:
        args: dict[str, object] = {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "dbname": dbname or self.dbname,
            "connect_timeout": 5,
            "application_name": "odooplane",
        }
        if self.password:
            args["password"] = self.password
        return args


# Administrative sessions (to a cluster's maintenance database) are kept open between uses, a few
# per cluster and process: converging an estate runs several short statements per environment,
# and a new session costs the server a process start and catalog loading each time. Sessions to
# a tenant's own database are never kept (a rename or drop of it must find nobody connected).
IDLE_PER_CLUSTER = 4
_idle: dict[tuple[object, ...], list[psycopg.Connection[tuple[object, ...]]]] = {}
_idle_lock = threading.Lock()


def _idle_key(cluster: ClusterConn) -> tuple[object, ...]:
    return (os.getpid(), cluster.host, cluster.port, cluster.user, cluster.password, cluster.dbname)


def _reuse(key: tuple[object, ...]) -> psycopg.Connection[tuple[object, ...]] | None:
    """An idle administrative session that still answers (a restarted server's are dropped)."""
    while True:
        with _idle_lock:
            found = _idle.get(key)
            conn = found.pop() if found else None
        if conn is None:
            return None
        try:
            conn.execute("SELECT 1")
            return conn
        except psycopg.Error:
            conn.close()


def _keep(key: tuple[object, ...], conn: psycopg.Connection[tuple[object, ...]]) -> None:
    if not conn.closed and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
        with _idle_lock:
            kept = _idle.setdefault(key, [])
            if len(kept) < IDLE_PER_CLUSTER:
                kept.append(conn)
                return
    conn.close()


def close_idle() -> None:
    """Close every kept administrative session of this process."""
    with _idle_lock:
        conns = [c for kept in _idle.values() for c in kept]
        _idle.clear()
    for conn in conns:
        conn.close()


atexit.register(close_idle)


@contextmanager
def connect(cluster: ClusterConn, dbname: str | None = None) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """Yield an autocommit connection. Raise TemporaryError if the server refuses connections
    (it may be starting), PermanentError for authentication and other errors.

    Without ``dbname`` (the maintenance database) the session may be one kept from an earlier
    call, and is kept again afterwards if the block ended normally with no transaction open."""
    key = _idle_key(cluster) if dbname is None or dbname == cluster.dbname else None
    conn = _reuse(key) if key is not None else None
    if conn is None:
        try:
            conn = psycopg.connect(autocommit=True, **cluster.kwargs(dbname))  # type: ignore[arg-type]
        except psycopg.OperationalError as exc:
            text = str(exc).strip().splitlines()[-1] if str(exc).strip() else repr(exc)
            where = f"cluster {cluster.name} ({cluster.host}:{cluster.port})"
            if "password authentication failed" in text or "no password supplied" in text:
                raise PermanentError(f"{where}: authentication failed for user {cluster.user}") from exc
            if "does not exist" in text:
                raise PermanentError(f"{where}: {text}") from exc
            raise TemporaryError(f"{where} refuses connections: {text}", delay=1.0) from exc
    try:
        yield conn
    except BaseException:
        conn.close()
        raise
    if key is not None:
        _keep(key, conn)
    else:
        conn.close()


def server_version(cluster: ClusterConn) -> int:
    with connect(cluster) as conn:
        return int(conn.info.server_version)


def scram_verifier(password: str, *, iterations: int = 4096, salt: bytes | None = None) -> str:
    """Return the SCRAM-SHA-256 verifier PostgreSQL stores for ``password`` (RFC 5802/7677)."""
    salt = salt if salt is not None else os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    b64 = base64.b64encode
    return f"SCRAM-SHA-256${iterations}:{b64(salt).decode()}${b64(stored_key).decode()}:{b64(server_key).decode()}"


def marker(estate_id: str, target: str, *, state: str | None = None) -> str:
    """The comment that marks a database or role as this estate's: ``odooplane:<estate>:<target>``,
    with ``|<state>`` once the object is complete (``ready:<modules hash>`` for a database)."""
    base = f"{MARKER_PREFIX}{estate_id}:{target}"
    return f"{base}|{state}" if state else base


def set_database_state(cluster: ClusterConn, *, database: str, estate_id: str, target: str, state: str) -> None:
    """Record in the database's marker that it is complete (cheap to observe for many databases)."""
    set_comment(cluster, database, marker(estate_id, target, state=state))


def set_comment(cluster: ClusterConn, database: str, comment: str) -> None:
    with connect(cluster) as conn:
        conn.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(
            sql.Identifier(sql_identifier(database)), sql.Literal(comment)))


def rename_database(cluster: ClusterConn, old: str, new: str, *, wait_s: float = 10.0) -> None:
    """Rename ``old`` to ``new``. A backend that is still closing (a connection just released)
    blocks a rename for a moment: wait for it, up to ``wait_s``."""
    import time

    deadline = time.monotonic() + wait_s
    with connect(cluster) as conn:
        while True:
            try:
                conn.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                    sql.Identifier(sql_identifier(old)), sql.Identifier(sql_identifier(new))))
                return
            except psycopg.errors.ObjectInUse:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.05)


def allow_connections(cluster: ClusterConn, database: str, allow: bool) -> None:
    """Let clients connect to ``database`` again, or refuse new ones and close the open ones."""
    db = sql.Identifier(sql_identifier(database))
    with connect(cluster) as conn:
        conn.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS {}").format(
            db, sql.SQL("true" if allow else "false")))
        if not allow:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (database,))


def role_exists(cluster: ClusterConn, role: str) -> bool:
    with connect(cluster) as conn:
        return conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is not None


def ensure_role(cluster: ClusterConn, *, role: str, password: str, comment: str) -> bool:
    """Create ``role`` (LOGIN, no other privilege) or reset its password; return True if created."""
    name = sql.Identifier(sql_identifier(role))
    verifier = sql.Literal(scram_verifier(password))
    with connect(cluster) as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = %s", (role,)
        ).fetchone()
        exists = row is not None
        if row is not None and row[0] != comment and str(row[0] or "").partition("|")[0] != comment:
            raise PermanentError(
                f"role {role} already exists on cluster {cluster.name} and is not managed by this estate"
            )
        # One transaction: a role exists only with our mark on it (a kill between the two
        # statements would otherwise leave a role no later run may take over).
        with conn.transaction():
            verb = "ALTER" if exists else "CREATE"
            conn.execute(sql.SQL(verb + " ROLE {} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {}").format(
                name, verifier))
            conn.execute(sql.SQL("COMMENT ON ROLE {} IS {}").format(name, sql.Literal(comment)))
    return not exists


def database_exists(cluster: ClusterConn, database: str) -> bool:
    with connect(cluster) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone() is not None


def ensure_database(cluster: ClusterConn, *, database: str, owner: str, comment: str) -> bool:
    """Create ``database`` owned by ``owner`` the way Odoo does (UTF8, C collation, template0),
    revoke CONNECT from PUBLIC; return True if it was created."""
    db = sql.Identifier(sql_identifier(database))
    own = sql.Identifier(sql_identifier(owner))
    with connect(cluster) as conn:
        row = conn.execute(
            "SELECT pg_get_userbyid(datdba), shobj_description(oid, 'pg_database') FROM pg_database "
            "WHERE datname = %s",
            (database,),
        ).fetchone()
        created = row is None
        if row is not None and str(row[1] or "").partition("|")[0] != comment.partition("|")[0]:
            raise PermanentError(
                f"database {database} already exists on cluster {cluster.name} and is not managed by this estate"
            )
        if created:
            conn.execute(
                sql.SQL(
                    "CREATE DATABASE {} OWNER {} ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"
                ).format(db, own)
            )
        elif row is not None and row[0] != owner:
            conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(db, own))
        conn.execute(sql.SQL("REVOKE CONNECT, TEMPORARY ON DATABASE {} FROM PUBLIC").format(db))
        conn.execute(sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}").format(db, own))
        if created:  # an existing one keeps its marker (and the state recorded in it)
            conn.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(db, sql.Literal(comment)))
    if created:
        _create_extensions(cluster, database)
    return created


def create_database(cluster: ClusterConn, *, database: str, owner: str, template: str | None = None) -> None:
    """``CREATE DATABASE`` only (unmarked: callers create under a scratch name, mark, then rename).

    Without ``template`` the database is made the way Odoo does (UTF8, C collation, template0); with
    one it is a copy (WAL_LOG strategy on PostgreSQL 15+: fast for small databases; the template must
    have no connections)."""
    db = sql.Identifier(sql_identifier(database))
    own = sql.Identifier(sql_identifier(owner))
    with connect(cluster) as conn:
        if template is None:
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {} ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' "
                                 "TEMPLATE template0").format(db, own))
        else:
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {} OWNER {}").format(
                db, sql.Identifier(sql_identifier(template)), own))


def create_extensions(cluster: ClusterConn, database: str) -> None:
    """Create the extensions Odoo creates when it makes a database itself."""
    _create_extensions(cluster, database)


def _create_extensions(cluster: ClusterConn, database: str) -> None:
    """Create pg_trgm as Odoo does when it creates a database itself (the tenant role may not).

    Clusters without contrib (the pgserver wheel) lack it; Odoo then works without trigram indexes.
    """
    with connect(cluster, database) as conn:
        try:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except psycopg.Error:
            pass


def module_states(cluster: ClusterConn, database: str) -> dict[str, str] | None:
    """Return {module: state} of an Odoo database, or None if it is not initialised."""
    with connect(cluster, database) as conn:
        present = conn.execute("SELECT to_regclass('public.ir_module_module')").fetchone()
        if present is None or present[0] is None:
            return None
        rows = conn.execute("SELECT name, state FROM ir_module_module").fetchall()
    return {str(name): str(state) for name, state in rows}


@dataclass(frozen=True)
class OwnedDatabase:
    name: str
    target: str  # what the marker says it is: "acme/prod", "template/<key>"
    state: str  # "" until complete, then e.g. "ready:<modules hash>"
    owner: str
    is_template: bool
    allows_connections: bool
    connection_limit: int | None
    statement_timeouts: dict[str, str]  # role -> statement_timeout set for it in this database


def owned_databases(cluster: ClusterConn, estate_id: str) -> dict[str, OwnedDatabase]:
    """Return the databases marked as owned by this estate, with what the planner needs of them —
    one query, whatever the number of databases."""
    prefix = marker(estate_id, "")
    with connect(cluster) as conn:
        rows = conn.execute(
            "SELECT d.datname, shobj_description(d.oid, 'pg_database'), pg_get_userbyid(d.datdba), d.datistemplate, "
            "d.datallowconn, d.datconnlimit, "
            "(SELECT array_agg(r.rolname || '=' || cfg) FROM pg_db_role_setting s "
            " JOIN pg_roles r ON r.oid = s.setrole, "
            " unnest(s.setconfig) cfg WHERE s.setdatabase = d.oid AND cfg LIKE 'statement_timeout=%%') "
            "FROM pg_database d WHERE shobj_description(d.oid, 'pg_database') LIKE %s",
            (prefix + "%",),
        ).fetchall()
    out: dict[str, OwnedDatabase] = {}
    for name, comment, owner, is_template, allow, limit, timeouts in rows:
        settings: dict[str, str] = {}
        for item in timeouts if isinstance(timeouts, list) else []:
            role, _, rest = str(item).partition("=")
            settings[role] = rest.partition("=")[2]
        out[str(name)] = OwnedDatabase(
            name=str(name), target=str(comment)[len(prefix):].partition("|")[0],
            state=str(comment)[len(prefix):].partition("|")[2], owner=str(owner), is_template=bool(is_template),
            allows_connections=bool(allow), connection_limit=None if int(str(limit)) < 0 else int(str(limit)),
            statement_timeouts=settings,
        )
    return out


def owned_objects(cluster: ClusterConn, estate_id: str) -> tuple[dict[str, str], dict[str, str]]:
    """Return ({database: target}, {role: target}) of objects marked as owned by this estate."""
    prefix = marker(estate_id, "")
    with connect(cluster) as conn:
        dbs = conn.execute(
            "SELECT d.datname, c.description FROM pg_database d "
            "JOIN pg_shdescription c ON c.objoid = d.oid AND c.classoid = 'pg_database'::regclass "
            "WHERE c.description LIKE %s",
            (prefix + "%",),
        ).fetchall()
        roles = conn.execute(
            "SELECT r.rolname, c.description FROM pg_roles r "
            "JOIN pg_shdescription c ON c.objoid = r.oid AND c.classoid = 'pg_authid'::regclass "
            "WHERE c.description LIKE %s",
            (prefix + "%",),
        ).fetchall()
    return (
        {str(n): str(d)[len(prefix):].partition("|")[0] for n, d in dbs},
        {str(n): str(d)[len(prefix):].partition("|")[0] for n, d in roles},
    )


def drop_database(cluster: ClusterConn, database: str) -> bool:
    """Drop ``database`` (closing its connections; a template is unmarked first); return True if
    it existed."""
    db = sql.Identifier(sql_identifier(database))
    with connect(cluster) as conn:
        exists = conn.execute("SELECT datistemplate FROM pg_database WHERE datname = %s", (database,)).fetchone()
        if not exists:
            return False
        if exists[0]:
            conn.execute(sql.SQL("ALTER DATABASE {} WITH IS_TEMPLATE false").format(db))
        if conn.info.server_version >= 130000:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(db))
        else:  # pragma: no cover - PostgreSQL 12 and older
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (database,))
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(db))
    return True


def drop_role(cluster: ClusterConn, role: str) -> bool:
    name = sql.Identifier(sql_identifier(role))
    with connect(cluster) as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
        if not exists:
            return False
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(name))
    return True


@dataclass(frozen=True)
class DatabaseStats:
    size_bytes: int
    connections: int


def max_connections(cluster: ClusterConn) -> int:
    """The server's ``max_connections`` less its ``superuser_reserved_connections``: what roles
    that are not superusers (Odoo's) can open in all."""
    with connect(cluster) as conn:
        row = conn.execute("SELECT current_setting('max_connections')::int "
                           "- current_setting('superuser_reserved_connections')::int").fetchone()
    assert row is not None
    return int(str(row[0]))


def owned_database_stats(cluster: ClusterConn, estate_id: str) -> dict[str, DatabaseStats]:
    """Size and connection count of every database owned by this estate: one query per cluster."""
    prefix = marker(estate_id, "")
    with connect(cluster) as conn:
        rows = conn.execute(
            "SELECT d.datname, pg_database_size(d.oid), coalesce(a.n, 0) FROM pg_database d "
            "JOIN pg_shdescription c ON c.objoid = d.oid AND c.classoid = 'pg_database'::regclass "
            "LEFT JOIN (SELECT datname, count(*) AS n FROM pg_stat_activity GROUP BY datname) a "
            "ON a.datname = d.datname "
            "WHERE c.description LIKE %s AND d.datallowconn",
            (prefix + "%",),
        ).fetchall()
    # pg_database_size is NULL for a database dropped while the query ran (a sandbox, a copy): left out
    return {str(name): DatabaseStats(int(str(size)), int(str(n))) for name, size, n in rows if size is not None}


def create_from_template(
    cluster: ClusterConn, *, database: str, template: str, owner: str, comment: str
) -> None:
    """``CREATE DATABASE database TEMPLATE template OWNER owner`` (WAL_LOG strategy on PG 15+: fast
    for small databases), then the same ACL and marker as :func:`ensure_database`.

    The template must have no connections (templates are kept with ALLOW_CONNECTIONS false).
    """
    db = sql.Identifier(sql_identifier(database))
    with connect(cluster) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {} OWNER {}").format(
                db, sql.Identifier(sql_identifier(template)), sql.Identifier(sql_identifier(owner))
            )
        )
        conn.execute(sql.SQL("REVOKE CONNECT, TEMPORARY ON DATABASE {} FROM PUBLIC").format(db))
        conn.execute(sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}").format(
            db, sql.Identifier(sql_identifier(owner))))
        conn.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(db, sql.Literal(comment)))


def seal_template(cluster: ClusterConn, database: str) -> None:
    """Make ``database`` a template nobody can connect to (CREATE DATABASE … TEMPLATE needs that)."""
    db = sql.Identifier(sql_identifier(database))
    with connect(cluster) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (database,))
        conn.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false IS_TEMPLATE true").format(db))


def template_state(cluster: ClusterConn, database: str) -> tuple[bool, bool] | None:
    """Return (is_template, allows_connections) of ``database``, or None if it does not exist."""
    with connect(cluster) as conn:
        row = conn.execute(
            "SELECT datistemplate, datallowconn FROM pg_database WHERE datname = %s", (database,)
        ).fetchone()
    return None if row is None else (bool(row[0]), bool(row[1]))


def grant_schema_create(cluster: ClusterConn, *, database: str, role: str) -> None:
    """Let ``role`` create objects in ``database``'s public schema without owning the database."""
    with connect(cluster, database) as conn:
        conn.execute(sql.SQL("GRANT CREATE, USAGE ON SCHEMA public TO {}").format(
            sql.Identifier(sql_identifier(role))))


def set_tenant_limits(
    cluster: ClusterConn, *, database: str, role: str, connection_limit: int | None,
    statement_timeout_s: int | None,
) -> None:
    """Per-tenant controls that PostgreSQL offers even inside a shared pool: the database's
    CONNECTION LIMIT and the role's statement_timeout in that database (-1 / RESET when unset)."""
    db = sql.Identifier(sql_identifier(database))
    who = sql.Identifier(sql_identifier(role))
    with connect(cluster) as conn:
        conn.execute(sql.SQL("ALTER DATABASE {} CONNECTION LIMIT {}").format(
            db, sql.Literal(connection_limit if connection_limit is not None else -1)))
        if statement_timeout_s is None:
            conn.execute(sql.SQL("ALTER ROLE {} IN DATABASE {} RESET statement_timeout").format(who, db))
        else:
            conn.execute(sql.SQL("ALTER ROLE {} IN DATABASE {} SET statement_timeout = {}").format(
                who, db, sql.Literal(f"{statement_timeout_s}s")))


def tenant_limits(cluster: ClusterConn, *, database: str, role: str) -> tuple[int | None, str | None]:
    """Return (connection limit or None, statement_timeout setting or None) as configured."""
    with connect(cluster) as conn:
        row = conn.execute(
            "SELECT d.datconnlimit, (SELECT s.setconfig FROM pg_db_role_setting s JOIN pg_roles r "
            "ON r.oid = s.setrole WHERE s.setdatabase = d.oid AND r.rolname = %s) "
            "FROM pg_database d WHERE d.datname = %s", (role, database),
        ).fetchone()
    if row is None:
        return None, None
    limit = None if int(str(row[0])) < 0 else int(str(row[0]))
    timeout = None
    settings: list[object] = list(row[1] or []) if isinstance(row[1], list) else []
    for item in settings:
        key, _, value = str(item).partition("=")
        if key == "statement_timeout":
            timeout = value
    return limit, timeout


def database_owner(cluster: ClusterConn, database: str) -> str | None:
    with connect(cluster) as conn:
        row = conn.execute("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s",
                           (database,)).fetchone()
    return None if row is None else str(row[0])


def grant_connect(cluster: ClusterConn, *, database: str, role: str) -> None:
    with connect(cluster) as conn:
        conn.execute(sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}").format(
            sql.Identifier(sql_identifier(database)), sql.Identifier(sql_identifier(role))))
