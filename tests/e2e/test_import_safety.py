"""`import` of a zip from somebody else, end to end through the CLI: psql meta-commands and SQL
that reaches beyond the environment's database are refused naming the line, and provably had no
effect (no file written, no password hash copied, the environment untouched, nothing left behind);
zip bombs are refused quickly in bounded memory while a large honest dump loads in bounded
memory; a new environment is filled without a question; `psql` opens a session as the
environment's own role (or, audited, as the administrator)."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.support.estate import TestEstate, make_estate, unique

pytestmark = pytest.mark.e2e

POOL = unique("q")  # pool roles are cluster-wide names: unique per run
RSS_LIMIT_MB = 300


def sql(database: str, query: str) -> list[tuple[object, ...]]:
    url = os.environ["ODOOPLANE_TEST_PG"].rsplit("/", 1)[0] + f"/{database}"
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(query.encode())
        return cur.fetchall() if cur.description else []


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestEstate]:
    tmp = tmp_path_factory.mktemp("import")
    t = unique("i")
    est = make_estate(tmp, {t: {"environments": {"prod": {}, "staging": {"backup": False},
                                                 "pooled": {"placement": {"shared": POOL}}}}})
    est.data["pools"] = {POOL: {"processes": 1, "workers": 0}}
    est.write()
    est.tenant = t  # type: ignore[attr-defined]
    est.env["ODOOPLANE_ACTOR"] = "import-tester"
    try:
        est.cli("apply", str(est.path), "-q", timeout=900)
        sql(f"{t}_staging", "INSERT INTO res_partner (name, active) VALUES ('sentinel', true)")
        est.cli("export", f"{t}/prod", str(tmp / "prod.zip"), "-f", str(est.path))
        yield est
    finally:
        est.cli("down", "-f", str(est.path), "--purge", "--yes", check=False)


def base_zip(estate: TestEstate) -> Path:
    return estate.path.parent / "prod.zip"


def with_dump(estate: TestEstate, out: Path, tail: bytes, *, compresslevel: int | None = None) -> tuple[Path, int]:
    """The exported zip with ``tail`` appended to its dump.sql; return it and the line ``tail`` starts on."""
    with zipfile.ZipFile(base_zip(estate)) as source, \
            zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=compresslevel) as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "dump.sql":
                first = data.count(b"\n") + 1
                data += tail
            target.writestr(item, data)
    return out, first


def leftovers(estate: TestEstate) -> list[object]:
    t = estate.tenant  # type: ignore[attr-defined]
    # Half-made databases (opl_new_…) of this estate: marked with its id, or not marked yet.
    mine = f"odooplane:{estate.estate_id()}:%"
    found: list[object] = [r[0] for r in sql(
        "postgres", f"SELECT datname FROM pg_database WHERE datname LIKE '{t}%\\_\\_restore' OR (datname LIKE "
        f"'opl\\_new\\_%' AND coalesce(shobj_description(oid, 'pg_database'), '{mine}') LIKE '{mine}')")]
    for root in {estate.data_dir, getattr(estate, "runtime_dir", estate.data_dir)}:  # Odoo's files may live apart
        found += [p for p in root.rglob("import-*") if p.is_dir()]  # the import's sandbox
        found += list(root.rglob(f"{t}_staging.restore"))  # its staged filestore
    return found


def staging_untouched(estate: TestEstate) -> bool:
    t = estate.tenant  # type: ignore[attr-defined]
    return sql(f"{t}_staging", "SELECT count(*) FROM res_partner WHERE name = 'sentinel'") == [(1,)]


def stolen_anywhere() -> list[tuple[object, ...]]:
    found = []
    for (name,) in sql("postgres", "SELECT datname FROM pg_database WHERE datallowconn"):
        try:
            found += sql(str(name), "SELECT current_database() FROM pg_tables WHERE tablename = 'stolen'")
        except psycopg.Error:
            continue  # a database we may not enter, or one being dropped
    return found


CHECK_FUNCTION = rb"""CREATE FUNCTION public.evil(int) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE 'RESET ROLE';
  EXECUTE 'CREATE TABLE public.stolen AS SELECT rolname, rolpassword FROM pg_catalog.pg_authid';
  RETURN true;
END $$;
CREATE TABLE public.evil_table (a int CHECK (public.evil(a)));
COPY public.evil_table (a) FROM stdin;
1
\.
"""

# (case, payload with {marker} for a file it would write, line offset of the culprit, what the message says)
ESCAPES = [
    ("shell-at-line-start", b"\\! id > {marker}\n", 0, "psql meta-command \\! is not allowed"),
    ("shell-mid-line", b"SELECT 1; \\! id > {marker}\n", 0, "psql meta-command \\! is not allowed"),
    ("output-file", b"\\o {marker}\nSELECT rolpassword FROM pg_authid;\n", 0, "psql meta-command \\o is not allowed"),
    ("client-copy", b"\\copy (SELECT 1) TO '{marker}'\n", 0, "psql meta-command \\copy is not allowed"),
    ("include", b"\\i /etc/passwd\n", 0, "psql meta-command \\i is not allowed"),
    ("include-relative", b"\\ir {marker}\n", 0, "psql meta-command \\ir is not allowed"),
    ("gexec", b"SELECT 'CREATE TABLE stolen AS SELECT * FROM pg_authid' \\gexec\n", 0,
     "psql meta-command \\gexec is not allowed"),
    ("set-variable", b"\\set ON_ERROR_STOP off\n", 0, "psql meta-command \\set is not allowed"),
    ("reset-role", b"\n\nRESET ROLE;\nCREATE TABLE public.stolen AS SELECT * FROM pg_authid;\n", 2,
     "RESET ROLE would change the role the import runs as"),
    ("set-role", b"SET ROLE postgres;\n", 0, "SET ROLE would change the role the import runs as"),
    ("session-authorization", b"SET SESSION AUTHORIZATION postgres;\n", 0,
     "SET SESSION AUTHORIZATION would change the role"),
    ("copy-to-program", b"COPY public.res_partner TO PROGRAM 'id > {marker}';\n", 0, "only COPY … FROM stdin"),
    ("copy-from-server-file", b"COPY public.res_partner (name) FROM '/etc/passwd';\n", 0, "only COPY … FROM stdin"),
    ("untrusted-extension", b"CREATE EXTENSION IF NOT EXISTS adminpack;\n", 0, "extension ADMINPACK is not a trusted"),
    ("untrusted-fdw", b"CREATE EXTENSION file_fdw;\n", 0, "extension FILE_FDW is not a trusted"),
    ("alter-system", b"ALTER SYSTEM SET archive_command = 'id > {marker}';\n", 0, "ALTER SYSTEM acts outside"),
    ("create-role", b"CREATE ROLE {role} SUPERUSER LOGIN;\n", 0, "CREATE ROLE acts outside"),
    ("untrusted-language", b"CREATE LANGUAGE plpython3u;\n", 0, "CREATE LANGUAGE acts outside"),
    ("do-block", b"DO $$ BEGIN EXECUTE 'CREATE TABLE public.stolen AS SELECT * FROM pg_authid'; END $$;\n", 0,
     "DO statements are not part of a pg_dump dump"),
    ("read-pg-authid", b"CREATE TABLE public.stolen AS\n  SELECT rolname, rolpassword FROM pg_authid;\n", 0,
     "which the import runs as: permission denied for table pg_authid"),
    ("reset-role-in-a-function", CHECK_FUNCTION, 8, "which the import runs as: permission denied for table pg_authid"),
]


@pytest.mark.parametrize(("payload", "offset", "message"), [c[1:] for c in ESCAPES], ids=[c[0] for c in ESCAPES])
def test_import_refuses_sql_reaching_beyond_the_database_naming_the_line(
        estate: TestEstate, tmp_path: Path, payload: bytes, offset: int, message: str) -> None:
    t = estate.tenant  # type: ignore[attr-defined]
    marker = tmp_path / "written-by-the-dump"
    role = f"evil_{t}"
    zipped, line = with_dump(estate, tmp_path / "hostile.zip",
                             payload.replace(b"{marker}", str(marker).encode()).replace(b"{role}", role.encode()))
    proc = estate.cli("import", f"{t}/staging", "--from", str(zipped), "--yes", "-f", str(estate.path), check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"step sql failed: dump.sql line {line + offset}: " in proc.stderr, proc.stderr
    assert message in proc.stderr, proc.stderr
    # None of it happened, and nothing of the attempt stays.
    assert not marker.exists()
    assert stolen_anywhere() == []
    assert sql("postgres", f"SELECT 1 FROM pg_roles WHERE rolname = '{role}'") == []
    assert sql("postgres", "SELECT 1 FROM pg_file_settings WHERE name = 'archive_command' "
                           f"AND setting LIKE '%{marker.name}%'") == []
    assert staging_untouched(estate)
    assert leftovers(estate) == []


def test_an_honest_dump_with_tricky_content_imports(estate: TestEstate, tmp_path: Path) -> None:
    t = estate.tenant  # type: ignore[attr-defined]
    tricky = rb"""
CREATE FUNCTION public.shout(text) RETURNS text LANGUAGE plpgsql AS $body$
BEGIN
  RETURN upper($1) || ' \! not a command; -- nor this';
END $body$;
CREATE TABLE public.tricky (id integer, body text);
COPY public.tricky (id, body) FROM stdin;
1	back\\slash\ttab\nnew line
2	\\.
3	it's $$ ; \\! id
\.
COMMENT ON TABLE public.tricky IS E'it\'s \\ fine';
GRANT SELECT ON TABLE public.tricky TO PUBLIC;
"""
    zipped, _ = with_dump(estate, tmp_path / "tricky.zip", tricky)
    result = json.loads(estate.cli("import", f"{t}/staging", "--from", str(zipped), "--yes", "-f", str(estate.path),
                                   "--json").stdout)
    assert result["skipped"].get("privileges (GRANT/REVOKE)") == 1
    rows = sql(f"{t}_staging", "SELECT id, body FROM tricky ORDER BY id")
    assert rows == [(1, "back\\slash\ttab\nnew line"), (2, "\\."), (3, "it's $$ ; \\! id")]
    assert sql(f"{t}_staging", "SELECT shout('x'), obj_description('tricky'::regclass)") == \
        [("X \\! not a command; -- nor this", "it's \\ fine")]
    assert sql(f"{t}_staging", "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'") == \
        [(f"{t}_staging",)]
    assert leftovers(estate) == []
    assert estate.status()["healthy"]
    sql(f"{t}_staging", "INSERT INTO res_partner (name, active) VALUES ('sentinel', true)")  # for the next tests


def test_import_into_a_pooled_environment_loads_as_the_pool_role(estate: TestEstate) -> None:
    t = estate.tenant  # type: ignore[attr-defined]
    estate.cli("import", f"{t}/pooled", "--from", str(base_zip(estate)), "--yes", "-f", str(estate.path))
    assert sql(f"{t}_pooled", "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'") == \
        [(f"pool_{POOL}",)]
    assert leftovers(estate) == []


def run_measured(estate: TestEstate, *args: str) -> tuple[subprocess.CompletedProcess[str], float, float]:
    """Run the CLI in a wrapper process that reports its peak RSS; return (process, MB, seconds)."""
    report = estate.path.parent / f"rss-{time.monotonic_ns()}"
    wrapper = ("import resource, subprocess, sys\n"
               "code = subprocess.run(sys.argv[2:]).returncode\n"
               "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))\n"
               "sys.exit(code)\n")
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", wrapper, str(report), sys.executable, "-m", "odooplane", *args],
                          capture_output=True, text=True, env={**os.environ, **estate.env}, timeout=900,
                          cwd=estate.path.parent, check=False)
    elapsed = time.monotonic() - started
    peak_mb = int(report.read_text()) / 1024
    report.unlink()
    print(f"odooplane {args[0]}: peak RSS {peak_mb:.0f} MB in {elapsed:.1f} s")
    return proc, peak_mb, elapsed


def test_a_zip_bomb_is_refused_quickly_in_bounded_memory(estate: TestEstate, tmp_path: Path) -> None:
    t = estate.tenant  # type: ignore[attr-defined]
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        with archive.open("dump.sql", "w", force_zip64=True) as out:
            block = b"SELECT 1;\n" * (1 << 20)  # 10 MiB
            for _ in range((1 << 30) // len(block) + 1):  # 1 GiB
                out.write(block)
        archive.writestr("manifest.json", json.dumps({"major_version": "18.0"}))
    assert bomb.stat().st_size < 8 << 20
    proc, peak_mb, elapsed = run_measured(estate, "import", f"{t}/staging", "--from", str(bomb), "--yes",
                                          "-f", str(estate.path))
    assert proc.returncode == 2, proc.stderr
    assert "dump.sql would expand more than 200:1" in proc.stderr and "ODOOPLANE_IMPORT_MAX_RATIO" in proc.stderr
    assert elapsed < 20 and peak_mb < RSS_LIMIT_MB
    assert staging_untouched(estate) and leftovers(estate) == []


def test_a_large_honest_dump_imports_in_bounded_memory(estate: TestEstate, tmp_path: Path) -> None:
    t = estate.tenant  # type: ignore[attr-defined]
    rows, rng = 2_000_000, random.Random(7)
    words = [f"{rng.getrandbits(40):x}" for _ in range(5000)]
    lines = [b"CREATE TABLE public.big_history (id integer, partner text, note text);\n",
             b"COPY public.big_history (id, partner, note) FROM stdin;\n"]
    for i in range(rows):
        lines.append(f"{i}\tpartner {words[i % 4999]}\t{' '.join(words[(i * 7 + k) % 5000] for k in range(10))} "
                     f"\\\\ {i * 31}\n".encode())
    lines.append(b"\\.\n")
    tail = b"".join(lines)
    del lines
    assert len(tail) > 250 << 20
    zipped, _ = with_dump(estate, tmp_path / "big.zip", tail, compresslevel=1)
    del tail
    proc, peak_mb, _ = run_measured(estate, "import", f"{t}/staging", "--from", str(zipped), "--yes", "--json",
                                    "-f", str(estate.path))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["database_bytes"] > 250 << 20
    assert sql(f"{t}_staging", "SELECT count(*) FROM big_history") == [(rows,)]
    assert peak_mb < RSS_LIMIT_MB
    sql(f"{t}_staging", "DROP TABLE big_history")
    sql(f"{t}_staging", "INSERT INTO res_partner (name, active) VALUES ('sentinel', true)")


def test_import_asks_only_when_it_would_replace_data(estate: TestEstate) -> None:
    t = estate.tenant  # type: ignore[attr-defined]
    # Without a terminal a question cannot be answered: replacing staging is refused...
    proc = estate.cli("import", f"{t}/staging", "--from", str(base_zip(estate)), "-f", str(estate.path), check=False)
    assert proc.returncode == 1 and "Replace the database of" in proc.stdout + proc.stderr
    assert staging_untouched(estate)
    # ...while a new, empty environment is simply filled.
    estate.data["tenants"][t]["environments"]["fresh"] = {"backup": False}
    estate.write()
    proc = estate.cli("import", f"{t}/fresh", "--from", str(base_zip(estate)), "-f", str(estate.path), check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Replace" not in proc.stdout + proc.stderr
    assert sql(f"{t}_fresh", "SELECT count(*) > 0 FROM res_partner") == [(True,)]


def audit_entries(estate: TestEstate, target: str) -> list[tuple[str, str, str, dict[str, object]]]:
    from odooplane.store import audit, db

    store = db.open_store(f"sqlite:///{estate.data_dir / 'state.db'}")
    try:
        return [(e.actor, e.action, e.outcome, dict(e.detail or {})) for e in audit.entries(store, target=target)]
    finally:
        store.close()


def test_psql_opens_a_session_as_the_environment_role_and_audits_it(
        estate: TestEstate, monkeypatch: pytest.MonkeyPatch) -> None:
    t = estate.tenant  # type: ignore[attr-defined]
    query = ["--", "-X", "-At", "-c", "SELECT current_user, current_database()"]
    own = estate.cli("psql", f"{t}/prod", "-f", str(estate.path), *query)
    assert own.stdout.strip() == f"{t}_prod|{t}_prod"
    pooled = estate.cli("psql", f"{t}/pooled", "-f", str(estate.path), *query)
    assert pooled.stdout.strip() == f"pool_{POOL}|{t}_pooled"
    admin = estate.cli("psql", f"{t}/prod", "--admin", "-f", str(estate.path), *query)
    assert admin.stdout.strip() == f"postgres|{t}_prod"
    cluster = estate.cli("psql", "cluster:main", "--admin", "-f", str(estate.path), "--", "-X", "-At", "-c",
                         "SELECT current_user")
    assert cluster.stdout.strip() == "postgres"
    failing = estate.cli("psql", f"{t}/prod", "-f", str(estate.path), "--", "-X", "-v", "ON_ERROR_STOP=1", "-c",
                         "SELECT * FROM pg_authid", check=False)
    assert failing.returncode == 1 and "permission denied for table pg_authid" in failing.stderr
    assert estate.cli("psql", "cluster:main", "-f", str(estate.path), check=False).returncode == 2
    assert estate.cli("psql", f"{t}/nowhere", "-f", str(estate.path), check=False).returncode == 3
    entries = audit_entries(estate, f"{t}/prod")
    assert ("import-tester", "psql", "opened", {"cluster": "main", "role": f"{t}_prod", "database": f"{t}_prod"}) \
        in entries
    assert ("import-tester", "psql-admin", "opened", {"cluster": "main", "role": "postgres",
                                                      "database": f"{t}_prod"}) in entries
    assert any(e[1] == "psql-admin" for e in audit_entries(estate, "cluster:main"))
    # The password reaches psql through its environment, never its command line.
    from odooplane.actions import psql

    for key, value in estate.env.items():
        monkeypatch.setenv(key, value)
    session = psql.prepare(estate.path, f"{t}/prod", admin=False, extra=["-c", "SELECT 1"])
    password = estate.secret(f"env/{t}/prod/db_password")
    assert password and session.env == {"PGPASSWORD": password}
    assert not any(password in arg for arg in session.argv)


def test_an_import_killed_anywhere_converges_when_run_again(estate: TestEstate) -> None:
    """Last in this module: it replaces staging's data with production's."""
    from tests.support.crash import kill_at, registered_temporaries, temporary_databases, trace

    t = estate.tenant  # type: ignore[attr-defined]
    again = ("import", f"{t}/staging", "--from", str(base_zip(estate)), "--yes", "-f", str(estate.path))
    points = trace(estate, *again)
    chosen = ["import:directory-created#1", "step:extract#1", "create-database:renamed#1", "step:sql#1",
              "step:checks#1", "step:identity#1", "swap:old-renamed#1", "swap:files-moved-aside#1"]
    assert set(chosen) <= set(points), points
    for point in chosen:
        kill_at(estate, point, *again)
        estate.cli(*again)
        assert temporary_databases(estate, t) == [] and registered_temporaries(estate) == [], point
        assert leftovers(estate) == [], point
        assert sql(f"{t}_staging", "SELECT count(*) > 0 FROM res_partner") == [(True,)], point
    assert estate.status()["healthy"]
