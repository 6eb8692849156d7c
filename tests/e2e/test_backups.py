"""Backups that are proven to restore: confirmed snapshots, sandbox verification with evidence,
restores (in place, into another environment, at a time), Odoo's zip format, the worker's
schedule, and the failures a real repository has (unreachable S3, corruption, missing files,
a full disk, a kill mid-way)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.support.estate import TestEstate, make_estate, unique
from tests.support.s3 import start_moto

pytestmark = pytest.mark.e2e


def db_url(database: str) -> str:
    return os.environ["ODOOPLANE_TEST_PG"].rsplit("/", 1)[0] + f"/{database}"


def sql(database: str, query: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    with psycopg.connect(db_url(database), autocommit=True) as conn:
        cur = conn.execute(query, params)
        return cur.fetchall() if cur.description else []


@pytest.fixture
def estate(tmp_path: Path) -> Iterator[TestEstate]:
    t = unique("b")
    est = make_estate(tmp_path, {t: {"environments": {"prod": {}, "staging": {"backup": False}}}})
    est.tenant = t  # type: ignore[attr-defined]
    try:
        est.cli("apply", str(est.path), "-q")
        yield est
    finally:
        est.cli("down", "-f", str(est.path), "--purge", "--yes", check=False)


def backup(est: TestEstate, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return est.cli("backup", "run", *args, "-f", str(est.path), "--json", check=check)


def test_backup_is_confirmed_then_proven_by_verification(estate: TestEstate) -> None:
    t = estate.tenant  # type: ignore[attr-defined]
    result = json.loads(backup(estate, f"{t}/prod").stdout)
    (made,) = result["backups"]
    snapshot = made["snapshots"]["local"]
    listed = json.loads(estate.cli("backup", "list", "-f", str(estate.path), "--json").stdout)
    assert [(b["target"], b["snapshot"], b["verified"]) for b in listed] == [(f"{t}/prod", snapshot, None)]
    verified = json.loads(estate.cli("verify", f"{t}/prod", "-f", str(estate.path), "--json").stdout)
    assert verified[0]["ok"] is True and verified[0]["rto_s"] > 0 and verified[0]["snapshot"] == snapshot
    assert verified[0]["details"]["attachments"] > 0 and verified[0]["details"]["boot"]["login"] == 200
    listed = json.loads(estate.cli("backup", "list", "-f", str(estate.path), "--json").stdout)
    assert listed[0]["verified"] is True
    records = json.loads(estate.cli("evidence", "-f", str(estate.path), "--json").stdout)
    kinds = [(r["kind"], r["ok"]) for r in records]
    assert ("backup", True) in kinds and ("restore-verification", True) in kinds
    proof = next(r for r in records if r["kind"] == "restore-verification")
    assert proof["data"]["snapshot"] == snapshot and "PASSED" in proof["summary"]
    # Nothing of the sandbox stays behind.
    leftovers = sql("postgres", f"SELECT datname FROM pg_database WHERE datname LIKE 'vfy-{t}-%%'")
    assert leftovers == []
    # staging has `backup: false`: not backed up, and the worker is supervised for prod.
    assert all(b["target"] != f"{t}/staging" for b in listed)
    assert estate.status()["healthy"]


def test_manifest_lists_every_artifact_with_its_checksum(estate: TestEstate) -> None:
    t = estate.tenant  # type: ignore[attr-defined]
    snapshot = json.loads(backup(estate, f"{t}/prod").stdout)["backups"][0]["snapshots"]["local"]
    stage = estate.data_dir / "backups" / "staging" / f"{t}__prod"
    repo = estate.data_dir / "backups" / "repositories" / "local"
    password = estate.secret("backup/local/password")
    dumped = subprocess.run(["restic", "-r", str(repo), "dump", snapshot, str(stage / "manifest.json")],
                            env={**os.environ, "RESTIC_PASSWORD": password or ""}, capture_output=True, check=True)
    manifest = json.loads(dumped.stdout)
    assert manifest["series"] == "18.0" and "base" in manifest["modules"] and manifest["pg_version"] >= 150000
    assert manifest["row_counts"]["res_partner"] >= 1 and manifest["attachments"]["count"] >= 1
    assert any(k.startswith("dump/") for k in manifest["artifacts"])
    assert any(k.startswith("filestore/") for k in manifest["artifacts"])
    assert all(len(v) == 64 for v in manifest["artifacts"].values())

    confirmed = json.loads(estate.cli("evidence", "-f", str(estate.path), "--json", "--kind", "backup").stdout)[0]
    assert dt.datetime.fromisoformat(manifest["dumped_at"]) < dt.datetime.fromisoformat(confirmed["ts"]), \
        "the success is recorded after the dump, never before"


def test_missing_attachment_file_fails_verification_naming_it(estate: TestEstate) -> None:
    t = estate.tenant  # type: ignore[attr-defined]
    store_fname = str(sql(f"{t}_prod", "SELECT store_fname FROM ir_attachment WHERE store_fname IS NOT NULL "
                                       "ORDER BY id LIMIT 1")[0][0])
    victim = estate.runtime_dir / "envs" / f"{t}__prod" / "data" / "filestore" / f"{t}_prod" / store_fname
    victim.unlink()
    backup(estate, f"{t}/prod")
    proc = estate.cli("verify", f"{t}/prod", "-f", str(estate.path), "--json", check=False)
    assert proc.returncode == 1
    (result,) = json.loads(proc.stdout)
    assert result["ok"] is False
    assert any("missing from the filestore" in f and store_fname in f for f in result["failures"])


def test_restore_in_place_at_a_time_and_into_another_environment(estate: TestEstate) -> None:
    t = estate.tenant  # type: ignore[attr-defined]
    sql(f"{t}_prod", "INSERT INTO res_partner (name, active) VALUES ('first', true)")
    backup(estate, f"{t}/prod")
    between = sql("postgres", "SELECT now()")[0][0]
    sql(f"{t}_prod", "INSERT INTO res_partner (name, active) VALUES ('second', true)")
    backup(estate, f"{t}/prod")
    sql(f"{t}_prod", "INSERT INTO res_partner (name, active) VALUES ('third', true)")
    at = between.isoformat()  # type: ignore[attr-defined]
    restored = json.loads(estate.cli("restore", f"{t}/prod", "--at", at, "-f", str(estate.path), "--json").stdout)
    assert restored["in_place"] is True
    names = {r[0] for r in sql(f"{t}_prod", "SELECT name FROM res_partner WHERE name IN ('first','second','third')")}
    assert names == {"first"}
    assert estate.session_db(f"{t}/prod") == f"{t}_prod"
    uuid_prod = sql(f"{t}_prod", "SELECT value FROM ir_config_parameter WHERE key = 'database.uuid'")[0][0]
    copy = json.loads(estate.cli("restore", f"{t}/staging", "--from", f"{t}/prod", "-f", str(estate.path),
                                 "--json").stdout)
    assert copy["in_place"] is True and copy["source"] == f"{t}/prod"
    names = {r[0] for r in sql(f"{t}_staging", "SELECT name FROM res_partner WHERE name IN ('first','second')")}
    assert names == {"first", "second"}
    uuid_staging = sql(f"{t}_staging", "SELECT value FROM ir_config_parameter WHERE key = 'database.uuid'")[0][0]
    assert uuid_staging != uuid_prod, "a copy gets its own identity"
    assert estate.session_db(f"{t}/staging") == f"{t}_staging"
    # Production's data, not neutralized, now serves a staging environment: a guardrail says so.
    checked = json.loads(estate.cli("policy", "check", f"{t}/staging", "-f", str(estate.path), "--json",
                                    check=False).stdout)
    assert {(f["rule"], f["status"]) for f in checked["findings"]} >= {("non-production-neutralized", "fail")}


def test_odoo_zip_export_and_import(estate: TestEstate, tmp_path: Path) -> None:
    t = estate.tenant  # type: ignore[attr-defined]
    sql(f"{t}_prod", "INSERT INTO res_partner (name, active) VALUES ('zipped', true)")
    out = tmp_path / "prod.zip"
    estate.cli("export", f"{t}/prod", str(out), "-f", str(estate.path))
    import zipfile

    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        manifest = json.loads(archive.read("manifest.json"))
    assert "dump.sql" in names and any(n.startswith("filestore/") for n in names)
    assert manifest["odoo_dump"] == "1" and manifest["major_version"] == "18.0" and "base" in manifest["modules"]
    estate.cli("import", f"{t}/staging", "--from", str(out), "--yes", "-f", str(estate.path))
    assert sql(f"{t}_staging", "SELECT count(*) FROM res_partner WHERE name = 'zipped'") == [(1,)]
    # A zip whose SQL fails half-way is refused and the environment stays as it was.
    broken = tmp_path / "broken.zip"
    with zipfile.ZipFile(out) as source, zipfile.ZipFile(broken, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "dump.sql":
                data = data.replace(b"CREATE TABLE", b"CREATE TABLE nonsense (", 1)
            target.writestr(item, data)
    proc = estate.cli("import", f"{t}/staging", "--from", str(broken), "--yes", "-f", str(estate.path), check=False)
    assert proc.returncode == 1 and "dump.sql line" in proc.stderr
    assert sql(f"{t}_staging", "SELECT count(*) FROM res_partner WHERE name = 'zipped'") == [(1,)]
    hostile = tmp_path / "hostile.zip"
    with zipfile.ZipFile(hostile, "w") as archive:
        archive.writestr("dump.sql", "SELECT 1;")
        archive.writestr("filestore/../../escape", "x")
    proc = estate.cli("import", f"{t}/staging", "--from", str(hostile), "--yes", "-f", str(estate.path), check=False)
    assert proc.returncode == 2 and "outside the extraction directory" in proc.stderr


def test_worker_fires_the_schedule(estate: TestEstate) -> None:
    t = estate.tenant  # type: ignore[attr-defined]
    estate.data["backups"]["policies"]["standard"]["schedule"] = "0 2 * * *"
    estate.write()
    # The worker already runs (health sweeps): a schedule needs no new process.
    plan = json.loads(estate.cli("plan", str(estate.path), "--json").stdout)
    assert "worker" not in {c["target"] for c in plan["changes"]}
    estate.cli("apply", str(estate.path), "-q")
    status = json.loads(estate.cli("status", "-f", str(estate.path), "--json").stdout)
    assert status["healthy"]

    def worker(now: str) -> dict[str, Any]:
        return json.loads(estate.cli("worker", "--once", "--json", "-f", str(estate.path),  # type: ignore[no-any-return]
                                     extra_env={"ODOOPLANE_FAKE_NOW": now}).stdout)

    with ThreadPoolExecutor(2) as pool:  # two workers of the estate: each fire time is claimed once
        both = list(pool.map(worker, ["2031-03-02T02:01:00"] * 2))
    assert sorted(w["backed_up"] for w in both) == [[], [f"{t}/prod"]], "two workers, one backup"
    assert [w["failures"] for w in both] == [[], []]
    again = json.loads(estate.cli("worker", "--once", "--json", "-f", str(estate.path),
                                  extra_env={"ODOOPLANE_FAKE_NOW": "2031-03-02T02:30:00"}).stdout)
    assert again["backed_up"] == []
    next_day = json.loads(estate.cli("worker", "--once", "--json", "-f", str(estate.path),
                                     extra_env={"ODOOPLANE_FAKE_NOW": "2031-03-03T02:00:30"}).stdout)
    assert next_day["backed_up"] == [f"{t}/prod"]
    week_later = json.loads(estate.cli("worker", "--once", "--json", "-f", str(estate.path),
                                       extra_env={"ODOOPLANE_FAKE_NOW": "2031-03-10T02:00:30"}).stdout)
    assert week_later["verified"] == [f"{t}/prod"], "the standard policy verifies weekly"


def test_a_backup_killed_mid_way_records_no_success(estate: TestEstate) -> None:
    t = estate.tenant  # type: ignore[attr-defined]
    killed = estate.cli("backup", "run", f"{t}/prod", "-f", str(estate.path), check=False,
                        extra_env={"ODOOPLANE_TEST_KILL_AT": f"upload-local:{t}/prod:after"})
    assert killed.returncode == -signal.SIGKILL
    records = json.loads(estate.cli("evidence", "-f", str(estate.path), "--json", "--kind", "backup").stdout)
    assert records == [], "a snapshot restic wrote but nobody confirmed is not a backup"
    ok = json.loads(backup(estate, f"{t}/prod").stdout)
    listed = json.loads(estate.cli("backup", "list", "-f", str(estate.path), "--json").stdout)
    assert [b["snapshot"] for b in listed] == [ok["backups"][0]["snapshots"]["local"]], \
        "the unconfirmed snapshot was forgotten"


def test_corrupted_repository_fails_check_and_verify(estate: TestEstate) -> None:
    t = estate.tenant  # type: ignore[attr-defined]
    backup(estate, f"{t}/prod")
    repo = estate.data_dir / "backups" / "repositories" / "local" / "data"
    packs = sorted(p for p in repo.rglob("*") if p.is_file())
    for pack in packs:
        data = bytearray(pack.read_bytes())
        data[len(data) // 2] ^= 0xFF
        pack.write_bytes(bytes(data))
    proc = estate.cli("backup", "check", "--read-data-subset", "100%", "-f", str(estate.path), check=False)
    assert proc.returncode == 1 and "failed" in proc.stdout.lower()
    proc = estate.cli("verify", f"{t}/prod", "-f", str(estate.path), "--json", check=False)
    assert proc.returncode == 1 and json.loads(proc.stdout)[0]["ok"] is False


def test_s3_offsite_and_an_unreachable_repository(tmp_path: Path) -> None:
    moto = start_moto(tmp_path / "moto.log")
    t = unique("s")
    try:
        moto.create_bucket("offsite")
        est = make_estate(tmp_path, {t: {"environments": {"prod": {"backup": "offsite"}}}})
        est.data["backups"] = {
            "repositories": {"local": {}, "s3": {"url": f"s3:{moto.endpoint}/offsite/odoo", "offsite": True,
                                                 "s3_access_key_id": "env:TEST_S3_KEY",
                                                 "s3_secret_access_key": "env:TEST_S3_SECRET"}},
            "policies": {"standard": {"schedule": None}, "offsite": {"targets": ["local", "s3"], "schedule": None}},
        }
        est.env.update({"TEST_S3_KEY": "test", "TEST_S3_SECRET": "test"})
        est.write()
        try:
            est.cli("apply", str(est.path), "-q")
            est.env["ODOOPLANE_RETRY_ATTEMPTS"] = "5"  # the S3 server slow to answer on a loaded machine is no failure
            made = json.loads(backup(est, f"{t}/prod").stdout)["backups"][0]
            est.env["ODOOPLANE_RETRY_ATTEMPTS"] = "2"  # below, the server is gone: it fails after a short retry
            assert set(made["snapshots"]) == {"local", "s3"}
            records = json.loads(est.cli("evidence", "-f", str(est.path), "--json", "--kind", "backup").stdout)
            assert {(r["data"]["repository"], r["data"]["offsite"]) for r in records} == {("local", False),
                                                                                           ("s3", True)}
            moto.stop()
            proc = backup(est, f"{t}/prod", "--repo", "s3", check=False)
            assert proc.returncode == 1
            failure = json.loads(proc.stdout)["failures"][0]
            assert "repository s3 is unreachable" in failure
            failed = [r for r in json.loads(est.cli("evidence", "-f", str(est.path), "--json").stdout)
                      if r["kind"] == "backup" and not r["ok"]]
            assert failed and "unreachable" in failed[0]["summary"]
            ops = json.loads(est.cli("operations", "-f", str(est.path), "--json", "-n", "1").stdout)
            steps = json.loads(est.cli("operations", str(ops[0]["id"]), "-f", str(est.path), "--json").stdout)["steps"]
            assert any(s["name"].startswith("upload-s3") and s["attempts"] >= 1 for s in steps), \
                "a temporary failure is retried before the backup is reported failed"
        finally:
            est.cli("down", "-f", str(est.path), "--purge", "--yes", check=False)
    finally:
        moto.stop()


def test_a_full_disk_is_a_clear_error_and_no_success(tmp_path: Path) -> None:
    mount = tmp_path / "small"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1M", "tmpfs", str(mount)], capture_output=True,
                      check=False).returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    t = unique("d")
    try:
        est = make_estate(tmp_path, {t: {"environments": {"prod": {}}}})
        est.data["backups"]["repositories"] = {"local": {"url": str(mount / "repo")}}
        est.write()
        try:
            est.cli("apply", str(est.path), "-q")
            filestore = est.runtime_dir / "envs" / f"{t}__prod" / "data" / "filestore" / f"{t}_prod" / "ff"
            filestore.mkdir(parents=True, exist_ok=True)
            blob = os.urandom(3 * 1024 * 1024)
            (filestore / hashlib.sha1(blob).hexdigest()).write_bytes(blob)
            proc = backup(est, f"{t}/prod", check=False)
            assert proc.returncode == 1
            assert "no space left on device" in proc.stdout.lower()
            records = json.loads(est.cli("evidence", "-f", str(est.path), "--json", "--kind", "backup").stdout)
            assert records and not any(r["ok"] for r in records)
        finally:
            est.cli("down", "-f", str(est.path), "--purge", "--yes", check=False)
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def scratch_postmasters(mark: str) -> list[int]:
    """PIDs of PostgreSQL servers whose data directory is a scratch copy named with ``mark``."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "/scratch/" in cmdline and mark in cmdline and "postgres" in cmdline:
            found.append(int(proc.name))
    return found


def archived_now(est: TestEstate, url: str, *, timeout: float) -> None:
    """Switch the WAL of the cluster at ``url`` and wait (polling ``pitr info``, with a deadline)
    until everything committed so far is restorable."""
    with psycopg.connect(url, autocommit=True) as conn:
        now = conn.execute("SELECT now()").fetchone()[0]  # type: ignore[index]
        conn.execute("SELECT pg_switch_wal()")
    deadline = time.monotonic() + timeout
    while True:
        newest = json.loads(est.cli("pitr", "info", "main", "-f", str(est.path), "--json").stdout)
        if newest["newest_restorable"] and dt.datetime.fromisoformat(newest["newest_restorable"]) >= now:
            return
        assert time.monotonic() < deadline, f"the WAL was not archived within {timeout:.0f} s"


def commit_a_then_b(est: TestEstate, url: str, *, timeout: float) -> dt.datetime:
    """Commit partner A, then B, in the database at ``url`` and wait until both are archived;
    return a time between the two commits."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO res_partner (name, active) VALUES ('A', true)")
        point: dt.datetime = conn.execute("SELECT now()").fetchone()[0]  # type: ignore[index]
        conn.execute("INSERT INTO res_partner (name, active) VALUES ('B', true)")
    archived_now(est, url, timeout=timeout)
    return point


def test_point_in_time_recovery_drills_and_a_restored_cluster(tmp_path: Path) -> None:
    """Managed cluster with WAL archiving: a tenant restored to a time has exactly what was
    committed then; drills judge RPO/RTO against objectives; a whole cluster restores into a new one."""
    t = unique("w")
    est = make_estate(tmp_path, {t: {"environments": {"prod": {
        "objectives": {"rpo": "1h", "rto": "1h", "processes": {"order_capture": {"rpo": "30m", "rto": "15m"}}}}}}},
        cluster="managed")
    est.data["clusters"]["main"]["pitr"] = {"archive_timeout_s": 10}
    est.write()
    try:
        est.cli("apply", str(est.path), "-q", timeout=600)
        info = json.loads(est.cli("pitr", "info", "main", "-f", str(est.path), "--json").stdout)
        assert info["backups"] and info["backups"][0]["type"] == "full"
        url = est.cluster_url().rsplit("/", 1)[0]
        point = commit_a_then_b(est, f"{url}/{t}_prod", timeout=60)
        killed = est.cli("restore", f"{t}/prod", "--pitr", "--at", point.isoformat(), "--yes", "-f", str(est.path),
                         check=False, extra_env={"ODOOPLANE_TEST_KILL_POINT": "pitr:scratch-running"})
        assert killed.returncode == -9, killed.stderr[-2000:]
        assert scratch_postmasters(f"restore-{t}__prod-"), "no scratch copy was running"
        # The next restore stops and removes what the killed one left, then restores.
        restored = json.loads(est.cli("restore", f"{t}/prod", "--pitr", "--at", point.isoformat(), "--yes",
                                      "-f", str(est.path), "--json").stdout)
        assert restored["checks"]["pitr"]["requested"].startswith(point.isoformat()[:19])
        with psycopg.connect(f"{url}/{t}_prod") as conn:
            names = {r[0] for r in conn.execute("SELECT name FROM res_partner WHERE name IN ('A', 'B')")}
        assert names == {"A"}
        assert est.session_db(f"{t}/prod") == f"{t}_prod"
        assert scratch_postmasters(f"restore-{t}__prod-") == []

        backup(est, f"{t}/prod")
        drills = json.loads(est.cli("drill", f"{t}/prod", "-f", str(est.path), "--json").stdout)
        assert drills[0]["ok"] is True and drills[0]["restored"] is True
        assert set(drills[0]["objectives"]) == {"environment", "order_capture"}
        pitr_drill = json.loads(est.cli("drill", f"{t}/prod", "--pitr", "-f", str(est.path), "--json").stdout)
        assert pitr_drill[0]["ok"] is True and pitr_drill[0]["rpo_s"] <= 60
        est.data["tenants"][t]["environments"]["prod"]["objectives"]["processes"]["order_capture"]["rpo"] = "1s"
        est.write()
        failed = est.cli("drill", f"{t}/prod", "-f", str(est.path), "--json", check=False)
        assert failed.returncode == 1
        verdict = json.loads(failed.stdout)[0]
        assert verdict["restored"] is True and verdict["ok"] is False
        assert any(v.startswith("order_capture: RPO") for v in verdict["verdicts"])
        drills_recorded = json.loads(est.cli("evidence", "--kind", "drill", "-f", str(est.path), "--json").stdout)
        assert [d["ok"] for d in drills_recorded] == [False, True, True]

        est.data["clusters"]["copy"] = {"kind": "managed"}
        est.write()
        est.cli("pitr", "restore-cluster", "main", "--to", "copy", "-f", str(est.path))
        est.cli("apply", str(est.path), "-q", timeout=600)
        with psycopg.connect(est.cluster_url("copy").rsplit("/", 1)[0] + f"/{t}_prod") as conn:
            assert {r[0] for r in conn.execute("SELECT name FROM res_partner WHERE name IN ('A', 'B')")} == {"A"}
    finally:
        est.cli("down", "-f", str(est.path), "--purge", "--yes", check=False)
