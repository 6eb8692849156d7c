"""The lexer and the statement rules of services/sql_load.py, without a database: how a dump is
split into statements, where psql meta-commands hide, and what an import refuses or skips."""

from __future__ import annotations

import io

import pytest

from odooplane.services import sql_load
from odooplane.services.sql_load import DumpRefused, Lexer, Statement


def stream(text: bytes) -> io.BufferedReader:
    return io.BufferedReader(io.BytesIO(text), buffer_size=64)  # tiny buffer: COPY data crosses it


def split(text: bytes, **kwargs: int) -> list[tuple[int, bytes, bytes | None]]:
    """(line, statement text, COPY data or None) of each statement."""
    lexer = Lexer(stream(text), **kwargs)  # type: ignore[arg-type]
    out: list[tuple[int, bytes, bytes | None]] = []
    for stmt in lexer.statements():
        data = b"".join(lexer.copy_data()) if stmt.words[:1] == ["COPY"] and b"stdin" in stmt.text else None
        out.append((stmt.line, stmt.text, data))
    return out


def refusal(text: bytes) -> str:
    with pytest.raises(DumpRefused) as caught:
        split(text)
    return str(caught.value)


def verdict(sql: bytes, extensions: frozenset[str] = frozenset({"pg_trgm", "unaccent", "plpgsql"})) -> \
        sql_load.Verdict:
    stmt = next(Lexer(stream(sql)).statements())
    return sql_load.judge(stmt, extensions=set(extensions))


# -- splitting --------------------------------------------------------------------------------------

def test_statements_end_at_a_semicolon_outside_quotes_comments_parentheses_and_atomic_bodies() -> None:
    dump = (b"-- Name: f; Type: FUNCTION\n"
            b"SELECT 'a;b', \"c;\"\"d\", E'it\\'s;', $$ ; $$, $t$ $$ ; $t$;\n"
            b"/* one /* nested ; */ still ; */ SELECT 2;\n"
            b"CREATE RULE r AS ON INSERT TO t DO INSTEAD (SELECT 1; SELECT 2);\n"
            b"CREATE FUNCTION g() RETURNS int LANGUAGE sql\n"
            b"BEGIN ATOMIC\n SELECT CASE WHEN true THEN 1 END;\n SELECT 2;\nEND;\n"
            b"SELECT 3; SELECT 4\n")
    got = [(line, text) for line, text, _ in split(dump)]
    assert got == [
        (2, b"SELECT 'a;b', \"c;\"\"d\", E'it\\'s;', $$ ; $$, $t$ $$ ; $t$;"),
        (3, b"SELECT 2;"),  # comments before a statement are not part of its text
        (4, b"CREATE RULE r AS ON INSERT TO t DO INSTEAD (SELECT 1; SELECT 2);"),
        (5, b"CREATE FUNCTION g() RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n SELECT CASE WHEN true THEN 1 END;\n"
            b" SELECT 2;\nEND;"),
        (10, b"SELECT 3;"),
        (10, b"SELECT 4\n"),
    ]


def test_copy_data_is_passed_through_untouched_up_to_its_end_line() -> None:
    rows = (b"1\tx\\\\y\\tz\\n\\.\t\\N\n"  # escaped backslashes, tab, newline, a literal "\." inside a value
            b"2\t;\\! id\t$$\n"
            b"3\t" + b"w" * 300 + b"\n")
    dump = b"COPY public.t (id, a, b) FROM stdin;\n" + rows + b"\\.\nSELECT 'after';\n"
    assert split(dump) == [(1, b"COPY public.t (id, a, b) FROM stdin;", rows), (6, b"SELECT 'after';", None)]


def test_restrict_lines_of_recent_pg_dump_are_skipped_not_run() -> None:
    lexer = Lexer(stream(b"\\restrict k3Y\nSELECT 1;\n\\unrestrict k3Y\n"))
    assert [s.text for s in lexer.statements()] == [b"SELECT 1;"]
    assert lexer.skipped == {"\\restrict lines": 2}
    assert "meta-command \\restrict" in refusal(b"SELECT 1;\n\\restrict k3Y; \\! id\n")


def test_standard_conforming_strings_off_makes_backslash_escape_quotes() -> None:
    dump = (b"SET standard_conforming_strings = off;\nSELECT 'a\\'; SELECT 2';\n"
            b"SET standard_conforming_strings = on;\nSELECT 'b\\'; SELECT 3;\n")
    assert [t for _, t, _ in split(dump)][1:] == [b"SELECT 'a\\'; SELECT 2';", b"SET standard_conforming_strings = on;",
                                                  b"SELECT 'b\\';", b"SELECT 3;"]


@pytest.mark.parametrize(("dump", "line", "command"), [
    (b"\\! id > /tmp/owned\n", 1, "\\!"),
    (b"SELECT 1;\nSELECT 2; \\! id\n", 2, "\\!"),
    (b"SELECT 1 \\gexec\n", 1, "\\gexec"),
    (b"--\n\\o /tmp/out\nSELECT 1;\n", 2, "\\o"),
    (b"\\copy t to '/tmp/x'\n", 1, "\\copy"),
    (b"\\i /etc/passwd\n", 1, "\\i"),
    (b"\\ir other.sql\n", 1, "\\ir"),
    (b"\\set ON_ERROR_STOP 0\n", 1, "\\set"),
    (b"\\connect postgres\n", 1, "\\connect"),
    (b"SELECT 'quoted \\! fine' /* \\! fine */, 1 -- \\! fine\n, 2 \\! id\n", 2, "\\!"),
    (b"COPY t (a) FROM stdin;\n\\! inside data is data\n\\.\n\\! id\n", 4, "\\!"),
])
def test_a_psql_meta_command_anywhere_outside_quotes_is_refused_naming_its_line(
        dump: bytes, line: int, command: str) -> None:
    assert refusal(dump) == f"dump.sql line {line}: psql meta-command {command} is not allowed"


def test_unterminated_input_and_oversized_statements_are_refused() -> None:
    assert refusal(b"SELECT 1;\nSELECT $$ never closed\n") == \
        "dump.sql line 2: unterminated dollar-quoted string at the end of the file"
    assert "COPY data without its end marker" in refusal(b"COPY t (a) FROM stdin;\n1\n2\n")
    with pytest.raises(DumpRefused, match="line 2: statement longer than 1 MiB"):
        split(b"SELECT 1;\nSELECT '" + b"x" * (2 << 20) + b"';\n", max_statement_bytes=1 << 20)


def test_statement_text_starts_at_its_first_token_and_line_numbers_skip_comments() -> None:
    (stmt,) = Lexer(stream(b"--\n-- Name: t\n--\n\n  CREATE TABLE t (\n a int\n);\n")).statements()
    assert stmt == Statement(5, b"CREATE TABLE t (\n a int\n);", stmt.head)
    assert stmt.words[:3] == ["CREATE", "TABLE", "T"]


# -- what an import may run ------------------------------------------------------------------------

@pytest.mark.parametrize("sql", [
    b"RESET ROLE;", b"SET ROLE postgres;", b"SET SESSION ROLE postgres;", b"SET LOCAL ROLE postgres;",
    b"SET SESSION AUTHORIZATION postgres;", b"RESET SESSION AUTHORIZATION;", b"RESET ALL;",
    b"SET \"role\" = postgres;",
])
def test_changing_the_role_the_import_runs_as_is_refused(sql: bytes) -> None:
    result = verdict(sql)
    assert result.action == "refuse" and "would change the role the import runs as" in result.reason


@pytest.mark.parametrize(("sql", "why"), [
    (b"COPY t TO PROGRAM 'id > /tmp/x';", "only COPY … FROM stdin"),
    (b"COPY t FROM PROGRAM 'id';", "only COPY … FROM stdin"),
    (b"COPY t FROM '/etc/passwd';", "only COPY … FROM stdin"),
    (b"COPY (SELECT 1) TO '/tmp/x';", "only COPY … FROM stdin"),
    (b"COPY t (a) FROM stdin WITH (FORMAT binary);", "only COPY … FROM stdin"),
    (b"CREATE EXTENSION adminpack;", "extension ADMINPACK is not a trusted extension"),
    (b"CREATE EXTENSION IF NOT EXISTS dblink WITH SCHEMA public;", "extension DBLINK is not a trusted"),
    (b"ALTER SYSTEM SET archive_command = 'id';", "ALTER SYSTEM acts outside"),
    (b"CREATE ROLE evil SUPERUSER;", "CREATE ROLE acts outside"),
    (b"ALTER ROLE CURRENT_USER PASSWORD 'x';", "ALTER ROLE acts outside"),
    (b"ALTER USER x SET search_path = evil;", "ALTER USER acts outside"),
    (b"DROP ROLE x;", "DROP ROLE acts outside"),
    (b"CREATE OR REPLACE TRUSTED PROCEDURAL LANGUAGE plpython3u;", "CREATE LANGUAGE acts outside"),
    (b"CREATE LANGUAGE plperlu;", "CREATE LANGUAGE acts outside"),
    (b"ALTER DATABASE other SET default_transaction_read_only = on;", "ALTER DATABASE acts outside"),
    (b"CREATE DATABASE x;", "CREATE DATABASE acts outside"),
    (b"DROP OWNED BY CURRENT_USER;", "DROP OWNED acts outside"),
    (b"CREATE EVENT TRIGGER e ON ddl_command_start EXECUTE FUNCTION f();", "CREATE EVENT TRIGGER acts outside"),
    (b"CREATE SUBSCRIPTION s CONNECTION 'host=evil' PUBLICATION p;", "CREATE SUBSCRIPTION acts outside"),
    (b"CREATE SERVER s FOREIGN DATA WRAPPER postgres_fdw;", "CREATE SERVER acts outside"),
    (b"CREATE FOREIGN DATA WRAPPER w;", "CREATE FOREIGN DATA WRAPPER acts outside"),
    (b"CREATE USER MAPPING FOR CURRENT_USER SERVER s;", "CREATE USER MAPPING acts outside"),
    (b"COMMENT ON DATABASE other IS NULL;", "COMMENT ON DATABASE acts outside"),
    (b"COMMENT ON ROLE x IS NULL;", "COMMENT ON ROLE acts outside"),
    (b"SECURITY LABEL FOR p ON ROLE x IS 'y';", "SECURITY ON ROLE acts outside"),
    (b"LOAD 'evil';", "LOAD statements are not part of a pg_dump dump"),
    (b"DO $$ BEGIN PERFORM 1; END $$;", "DO statements are not part"),
    (b"CALL p();", "CALL statements are not part"),
    (b"ROLLBACK;", "ROLLBACK statements are not part"),
    (b"/* hidden */ -- also\n  REASSIGN OWNED BY x TO y;", "REASSIGN statements are not part"),
    (b"SET client_encoding = 'SJIS';", "client encoding SJIS is not supported"),
])
def test_statements_acting_beyond_the_database_are_refused(sql: bytes, why: str) -> None:
    result = verdict(sql)
    assert result.action == "refuse" and why in result.reason, result


@pytest.mark.parametrize(("sql", "action"), [
    (b"CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;", "run"),
    (b"COMMENT ON EXTENSION pg_trgm IS 'text similarity';", "skip"),
    (b"GRANT SELECT ON TABLE public.t TO metabase;", "skip"),
    (b"REVOKE ALL ON SCHEMA public FROM PUBLIC;", "skip"),
    (b"ALTER DEFAULT PRIVILEGES FOR ROLE odoo GRANT ALL ON TABLES TO x;", "skip"),
    (b"ALTER TABLE public.t OWNER TO odoo;", "skip"),
    (b"ALTER TABLE ONLY public.t ADD CONSTRAINT t_pkey PRIMARY KEY (id);", "run"),
    (b"BEGIN;", "skip"),
    (b"COMMIT;", "skip"),
    (b"COPY public.\"Weird (name)\" (id, \"a)b\") FROM stdin;", "copy"),
    (b"SELECT pg_catalog.set_config('search_path', '', false);", "run"),
    (b"SET client_encoding = 'UTF8';", "run"),
    (b"CREATE FOREIGN TABLE f (a int) SERVER s;", "run"),
    (b"COMMENT ON TABLE public.t IS 'ALTER ROLE x';", "run"),
])
def test_what_pg_dump_writes_is_run_or_skipped_like_pg_restore_no_owner_no_privileges(sql: bytes, action: str) -> None:
    assert verdict(sql).action == action
