"""Loading dumps from elsewhere into real PostgreSQL as the database's own role: plain SQL through
services/sql_load.py (one transaction, no psql) and pg_restore archives through sandbox.load_dump.
What a dump tries beyond its database fails naming the line, and provably did not happen."""

from __future__ import annotations

import io
import os
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import sql

from odooplane.drivers.pg_client import ClientDatabases
from odooplane.errors import OdooplaneError, PermanentError
from odooplane.operations import sandbox
from odooplane.services import sql_load
from odooplane.services.postgres import ClusterConn
from odooplane.services.sql_load import DumpRefused

pytestmark = pytest.mark.integration


@dataclass
class Target:
    """A database owned by an ordinary login role, as an environment's is."""

    admin: ClusterConn
    role: ClusterConn
    database: str

    def query(self, text: str, database: str | None = None) -> list[tuple[object, ...]]:
        with psycopg.connect(**self.admin.kwargs(database or self.database), autocommit=True) as conn:  # type: ignore[arg-type]
            cur = conn.execute(text.encode())
            return cur.fetchall() if cur.description else []

    def tables(self) -> set[str]:
        return {str(r[0]) for r in self.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}

    def load(self, text: bytes) -> sql_load.LoadResult:
        return sql_load.load(self.role, self.database, io.BufferedReader(io.BytesIO(text)))


def admin_conn(pg_url: str) -> ClusterConn:
    parts = urlsplit(pg_url)
    return ClusterConn(name="test", host=parts.hostname or "127.0.0.1", port=parts.port or 5432,
                       user=parts.username or "postgres", password=parts.password)


def admin_exec(admin: ClusterConn, *statements: sql.Composable | str, database: str = "postgres") -> None:
    with psycopg.connect(**admin.kwargs(database), autocommit=True) as conn:  # type: ignore[arg-type]
        for statement in statements:
            conn.execute(statement)  # type: ignore[arg-type]


@pytest.fixture
def target(pg_url: str) -> Iterator[Target]:
    admin = admin_conn(pg_url)
    name = f"sqlload_{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(16)
    ident = sql.Identifier(name)
    admin_exec(admin, sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(ident, sql.Literal(password)),
               sql.SQL("CREATE DATABASE {} OWNER {} TEMPLATE template0").format(ident, ident))
    try:
        yield Target(admin, ClusterConn(name="test", host=admin.host, port=admin.port, user=name, password=password),
                     name)
    finally:
        admin_exec(admin, sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident),
                   sql.SQL("DROP ROLE IF EXISTS {}").format(ident))


@pytest.fixture
def source(pg_url: str) -> Iterator[str]:
    """A database made as the administrator, to dump from."""
    admin = admin_conn(pg_url)
    name = f"sqlsrc_{secrets.token_hex(4)}"
    admin_exec(admin, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        admin_exec(admin, sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def pg_dump(admin: ClusterConn, database: str, *args: str) -> bytes:
    env = {**os.environ, **({"PGPASSWORD": admin.password} if admin.password else {})}
    return subprocess.run(["pg_dump", "-h", admin.host, "-p", str(admin.port), "-U", admin.user, "--no-owner",
                           *args, database], check=True, capture_output=True, env=env).stdout


TRICKY = r"""
CREATE EXTENSION pg_trgm;
CREATE EXTENSION unaccent;
CREATE TABLE t (id serial PRIMARY KEY, a text, b bytea, j jsonb);
INSERT INTO t (a, b, j) VALUES
  (E'back\\slash\ttab\nnew line\n\\.\nnot the end', '\x00ff5c2e0a', '{"k": "v\\\\."}'),
  ('it''s $$ ; \! id -- /* ', NULL, NULL),
  (repeat('long ', 50000), NULL, NULL);
CREATE FUNCTION plus(x int) RETURNS int LANGUAGE plpgsql AS $body$
BEGIN
  RETURN x + 1; -- a comment ; \! id
END $body$;
CREATE FUNCTION atomic() RETURNS text LANGUAGE sql BEGIN ATOMIC SELECT 'a;b'; END;
CREATE INDEX t_a_trgm ON t USING gin (a gin_trgm_ops);
COMMENT ON TABLE t IS E'it''s a \\ table';
CREATE VIEW v AS SELECT unaccent(a) AS u FROM t;
CREATE SEQUENCE s;
SELECT setval('s', 42);
"""


def test_a_pg_dump_with_tricky_content_loads_exactly_as_the_role(target: Target, source: str) -> None:
    admin_exec(target.admin, TRICKY, database=source)
    dump = pg_dump(target.admin, source)
    assert b"\\restrict" in dump or b"COPY public.t" in dump
    result = target.load(dump)
    assert result.copy_bytes > 250_000 and result.bytes_read == len(dump)
    assert result.skipped.get("comments on extensions (an extension keeps its own description)") == 2
    digest = "SELECT md5(string_agg(t::text, ',' ORDER BY id)) FROM t"
    assert target.query(digest) == target.query(digest, source)
    assert target.query("SELECT plus(1), atomic(), last_value, obj_description('t'::regclass) FROM s") == \
        [(2, "a;b", 42, "it's a \\ table")]
    owners = target.query("SELECT DISTINCT pg_get_userbyid(relowner) FROM pg_class WHERE relname IN ('t', 's', 'v')")
    assert owners == [(target.role.user,)]
    assert {r[0] for r in target.query("SELECT extname FROM pg_extension")} >= {"pg_trgm", "unaccent"}


def test_a_refused_statement_names_its_line_and_nothing_of_the_dump_stays(target: Target) -> None:
    dump = b"CREATE TABLE first (a int);\nINSERT INTO first VALUES (1);\nRESET ROLE;\nCREATE TABLE after (a int);\n"
    with pytest.raises(DumpRefused, match=r"^dump.sql line 3: RESET ROLE would change the role"):
        target.load(dump)
    assert target.tables() == set()


def test_what_postgresql_refuses_the_role_is_reported_with_its_line(target: Target) -> None:
    with pytest.raises(DumpRefused, match=r"^dump.sql line 3: refused for role \w+, which the import runs as: "
                                          r"permission denied for table pg_authid"):
        target.load(b"CREATE TABLE a (x int);\n\nCREATE TABLE stolen AS\n  SELECT rolname, rolpassword\n"
                    b"  FROM pg_authid;\n")
    with pytest.raises(DumpRefused, match=r"line 1: refused .*permission denied for function pg_read_file"):
        target.load(b"SELECT pg_read_file('/etc/passwd');\n")
    with pytest.raises(PermanentError, match=r"line 4: PostgreSQL stopped the load: invalid input syntax for type "
                                             r"integer: \"x\""):
        target.load(b"CREATE TABLE z (a int);\nCOPY z (a) FROM stdin;\n1\nx\n\\.\n")
    assert target.tables() == set()


def test_a_reset_role_hidden_in_a_function_cannot_escalate(target: Target) -> None:
    dump = rb"""CREATE FUNCTION public.evil(int) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE 'RESET ROLE';
  EXECUTE 'CREATE TABLE public.stolen AS SELECT rolname, rolpassword FROM pg_catalog.pg_authid';
  RETURN true;
END $$;
CREATE TABLE public.t (a int CHECK (public.evil(a)));
COPY public.t (a) FROM stdin;
1
\.
"""
    with pytest.raises(DumpRefused, match=r"line 9: refused for .*permission denied for table pg_authid"):
        target.load(dump)
    assert target.tables() == set()


def test_changes_to_shared_objects_from_inside_functions_are_rolled_back(target: Target) -> None:
    role_state = (f"SELECT a.rolpassword, (SELECT setconfig FROM pg_db_role_setting s WHERE s.setrole = a.oid) "
                  f"FROM pg_authid a WHERE rolname = '{target.role.user}'")
    before = target.query(role_state, "postgres")
    for change in (f"ALTER ROLE {target.role.user} PASSWORD ''known''",
                   f"ALTER ROLE {target.role.user} SET default_transaction_read_only = on",
                   f"COMMENT ON DATABASE {target.database} IS ''not ours''"):
        dump = (f"CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN EXECUTE '{change}'; END $$;\n"
                f"SELECT f();\n").encode()
        with pytest.raises(DumpRefused, match="the dump changed objects shared with other databases"):
            target.load(dump)
    assert target.query(role_state, "postgres") == before
    assert target.query(f"SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                        f"WHERE datname = '{target.database}'", "postgres") == [(None,)]


def test_loading_as_a_privileged_role_is_refused(target: Target) -> None:
    with pytest.raises(PermanentError, match=r"refusing to load as .*privileges beyond its own databases"):
        sql_load.load(target.admin, target.database, io.BufferedReader(io.BytesIO(b"SELECT 1;\n")))


def test_pg_restore_connects_as_the_role_so_an_archive_cannot_reset_role(
        target: Target, source: str, tmp_path: Path) -> None:
    # A CHECK constraint runs a function while the data loads; under the old `--role` (SET ROLE
    # after connecting as the administrator) its RESET ROLE made it the administrator again.
    admin_exec(target.admin, r"""
CREATE FUNCTION public.evil(int) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('is_superuser') = 'off' THEN
    EXECUTE 'RESET ROLE';
    EXECUTE 'CREATE TABLE IF NOT EXISTS public.stolen AS SELECT rolname, rolpassword FROM pg_catalog.pg_authid';
  END IF;
  RETURN true;
END $$;
CREATE TABLE public.t (a int CHECK (public.evil(a)));
INSERT INTO public.t VALUES (1);
""", database=source)
    stage = tmp_path / "stage"
    stage.mkdir()
    pg_dump(target.admin, source, "--format=directory", f"--file={stage / 'dump'}")
    restored = sandbox.Restored(stage, {}, "test", "test")
    with pytest.raises(OdooplaneError, match="permission denied for table pg_authid"):
        sandbox.load_dump(ClientDatabases(), target.admin, restored, database=target.database, role=target.role.user,
                          password=target.role.password or "")
    assert "stolen" not in target.tables()
    # The same archive, restored the old way, does take the password hashes: the test is real.
    control = f"{target.database}_old"
    admin_exec(target.admin, sql.SQL("CREATE DATABASE {} OWNER {}").format(
        sql.Identifier(control), sql.Identifier(target.role.user)))
    try:
        env = {**os.environ, **({"PGPASSWORD": target.admin.password} if target.admin.password else {})}
        subprocess.run(["pg_restore", "-h", target.admin.host, "-p", str(target.admin.port), "-U", target.admin.user,
                        f"--dbname={control}", "--exit-on-error", "--no-owner", "--no-privileges",
                        f"--role={target.role.user}", str(stage / "dump")], check=True, env=env, capture_output=True)
        assert target.query("SELECT count(*) > 0 FROM stolen", control) == [(True,)]
    finally:
        admin_exec(target.admin, sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(control)))


def test_a_legitimate_archive_restores_as_the_role(target: Target, source: str, tmp_path: Path) -> None:
    admin_exec(target.admin, TRICKY, database=source)
    stage = tmp_path / "stage"
    stage.mkdir()
    pg_dump(target.admin, source, "--format=directory", f"--file={stage / 'dump'}")
    sandbox.load_dump(ClientDatabases(), target.admin, sandbox.Restored(stage, {}, "test", "test"),
                      database=target.database, role=target.role.user, password=target.role.password or "")
    digest = "SELECT md5(string_agg(t::text, ',' ORDER BY id)) FROM t"
    assert target.query(digest) == target.query(digest, source)
