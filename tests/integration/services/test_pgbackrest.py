"""Point-in-time recovery with the real pgBackRest and real PostgreSQL binaries: a throwaway
managed-style cluster archives into a posix repository; restores to a time and to the end of the
archive land in new clusters that hold exactly the rows committed by then and never archive."""

from __future__ import annotations

import datetime as dt
import json
import os
import pwd
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from odooplane import execute
from odooplane.clock import wait_until
from odooplane.drivers.local import managed_pg, pgbackrest
from odooplane.errors import PermanentError
from odooplane.services import pg_binaries
from odooplane.services import postgres as pg
from tests.support.services import free_port

pytestmark = pytest.mark.integration

ARCHIVE_TIMEOUT_S = 10  # short, so the test can measure the RPO that archive_timeout alone gives


def _binaries_or_skip() -> pg_binaries.PgBinaries:
    if shutil.which("pgbackrest") is None:
        pytest.skip("pgbackrest is not installed (Debian package `pgbackrest`)")
    try:
        binaries = pg_binaries.find()
    except PermanentError as exc:
        pytest.skip(f"no PostgreSQL server binaries (initdb): {exc}")
    if not (binaries.bin_dir / "pg_ctl").is_file():
        pytest.skip(f"{binaries.bin_dir} has no pg_ctl")
    return binaries


@dataclass
class Source:
    layout: managed_pg.ClusterLayout
    cfg: pgbackrest.PgBackRestConfig
    conn: pg.ClusterConn
    base: Path
    user: str | None


def _pg_ctl(binaries: pg_binaries.PgBinaries, layout: managed_pg.ClusterLayout, user: str | None,
            *action: str) -> None:
    execute.run([binaries.tool("pg_ctl"), "-D", str(layout.pgdata), *action], user=user, cwd=layout.root,
                timeout=120, what=f"pg_ctl {action[-1]}")


@pytest.fixture(scope="module")
def source() -> Iterator[Source]:
    binaries = _binaries_or_skip()
    user = managed_pg.service_user()
    base = Path(tempfile.mkdtemp(prefix="odooplane-pitr-", dir="/var/tmp"))
    base.chmod(0o755)
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(base, entry.pw_uid, entry.pw_gid)
    layout = managed_pg.ClusterLayout(base / "src")
    password = secrets.token_urlsafe(18)
    port = free_port()
    started = False
    try:
        managed_pg.initdb(binaries, layout, superuser_password=password, user=user)
        cfg = pgbackrest.config_for_cluster(layout, base_dir=base / "pitr", stanza="src", port=port,
                                            binaries=binaries, password=password, os_user=user,
                                            archive_timeout=ARCHIVE_TIMEOUT_S)
        pgbackrest.prepare(cfg)
        # autovacuum off: no commit we did not make, so "after the last archived commit" is exact.
        extra = {**pgbackrest.archiving_settings(cfg), "autovacuum": False}
        managed_pg.write_settings(layout, managed_pg.render_settings(port=port, run_dir=layout.run_dir, extra=extra),
                                  user=user)
        _pg_ctl(binaries, layout, user, "-l", str(layout.root / "postgres.log"), "-w", "-t", "60", "start")
        started = True
        conn = pg.ClusterConn(name="src", host="127.0.0.1", port=port, user="postgres", password=password)
        yield Source(layout, cfg, conn, base, user)
    finally:
        if started:
            _pg_ctl(binaries, layout, user, "-m", "fast", "-w", "stop")
        shutil.rmtree(base, ignore_errors=True)


def _one(conn: pg.ClusterConn, query: str) -> object:
    with pg.connect(conn) as c:
        row = c.execute(query).fetchone()
    assert row is not None
    return row[0]


def _switch_and_wait(src: Source, archive_id: str, *, timeout: float = 60) -> float:
    """Force a WAL switch and poll (deadline, no sleep) until the closed segment is archived;
    return how long that took."""
    t0 = time.monotonic()
    segment = str(_one(src.conn, "SELECT pg_walfile_name(pg_switch_wal())"))
    assert wait_until(lambda: pgbackrest.wal_archived(src.cfg, segment, archive_id=archive_id), timeout=timeout), (
        f"{segment} not archived within {timeout} s"
    )
    return time.monotonic() - t0


def _labels(copy: pgbackrest.RestoredCluster) -> list[str]:
    with pg.connect(copy.conn()) as c:
        return [str(r[0]) for r in c.execute("SELECT label FROM pitr_probe ORDER BY id").fetchall()]


def _restore(src: Source, name: str, target: dt.datetime | None) -> tuple[pgbackrest.RestoredCluster, float]:
    t0 = time.monotonic()
    copy = pgbackrest.restore_to_time(src.cfg, target_time=target, target_dir=src.base / name, port=free_port())
    return copy, round(time.monotonic() - t0, 3)


def test_pitr_restores_to_a_time_and_to_the_end_of_the_archive(source: Source,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    cfg = source.cfg
    metrics: dict[str, object] = {"archive_timeout_s": ARCHIVE_TIMEOUT_S}
    assert "archive-push" in str(_one(source.conn, "SHOW archive_command"))
    assert (cfg.config_file.read_text() == pgbackrest.render_config(cfg))

    pgbackrest.stanza_create(cfg)
    pgbackrest.stanza_create(cfg)  # idempotent
    t0 = time.monotonic()
    pgbackrest.check(cfg)
    metrics["check_s"] = round(time.monotonic() - t0, 3)

    t0 = time.monotonic()
    full = pgbackrest.backup(cfg, "full")
    metrics["backup_full_s"] = round(time.monotonic() - t0, 3)
    assert full.kind == "full"
    assert full.stopped_at >= full.started_at
    assert full.wal_start and full.wal_stop and full.size > 0 and full.repo_size > 0
    si = pgbackrest.stanza_info(cfg)
    assert si.status_code == 0 and si.archive_id and si.wal_max
    assert [b.label for b in si.backups] == [full.label]
    archive_id = si.archive_id

    with pg.connect(source.conn) as c:
        c.execute("CREATE TABLE pitr_probe (id serial PRIMARY KEY, label text NOT NULL)")
        c.execute("INSERT INTO pitr_probe (label) VALUES ('A')")
        t1 = c.execute("SELECT now()").fetchone()[0]  # type: ignore[index]
    assert isinstance(t1, dt.datetime)
    _switch_and_wait(source, archive_id)

    with pg.connect(source.conn) as c:
        c.execute("INSERT INTO pitr_probe (label) VALUES ('B')")
        committed_b = c.execute("SELECT clock_timestamp()").fetchone()[0]  # type: ignore[index]
    assert isinstance(committed_b, dt.datetime)
    restorable = pgbackrest.latest_restorable(cfg)
    assert restorable is not None
    # Before the WAL switch, B is committed but not yet restorable (it waits for archive_timeout).
    metrics["exposure_before_switch_s"] = round((committed_b - restorable).total_seconds(), 3)
    assert restorable < committed_b
    metrics["switch_to_archived_s"] = round(_switch_and_wait(source, archive_id), 3)
    restorable = pgbackrest.latest_restorable(cfg)
    assert restorable is not None
    # The newest restorable point now lies after the last commit: RPO 0 once the switch is archived.
    metrics["restorable_minus_last_commit_s"] = round((restorable - committed_b).total_seconds(), 3)
    metrics["rpo_after_forced_switch_s"] = round(max((committed_b - restorable).total_seconds(), 0.0), 3)
    assert restorable >= committed_b
    with pg.connect(source.conn) as c:
        t2 = c.execute("SELECT now()").fetchone()[0]  # type: ignore[index]
    assert isinstance(t2, dt.datetime)

    t0 = time.monotonic()
    incr = pgbackrest.backup(cfg, "incr")
    metrics["backup_incr_s"] = round(time.monotonic() - t0, 3)
    assert incr.kind == "incr" and incr.prior == full.label
    assert [b.label for b in pgbackrest.info(cfg)] == [full.label, incr.label]

    copies: list[pgbackrest.RestoredCluster] = []
    try:
        at_t1, metrics["restore_t1_s"] = _restore(source, "restore-t1", t1)
        copies.append(at_t1)
        assert at_t1.backup_label == full.label  # the incremental ended after T1
        assert not at_t1.reached_archive_end
        assert _labels(at_t1) == ["A"]
        assert _one(at_t1.conn(), "SHOW archive_mode") == "off"
        assert _one(at_t1.conn(), "SELECT pg_is_in_recovery()") is False
        # The copy writes and switches WAL, yet nothing of it reaches the source's stanza.
        with pg.connect(at_t1.conn()) as c:
            c.execute("INSERT INTO pitr_probe (label) VALUES ('copy')")
            copy_segment = str(c.execute("SELECT pg_walfile_name(pg_switch_wal())").fetchone()[0])  # type: ignore[index]
            archived = c.execute("SELECT archived_count FROM pg_stat_archiver").fetchone()[0]  # type: ignore[index]
        assert archived == 0
        assert not copy_segment.startswith("00000001")  # promoted onto a new timeline
        at_t1.stop(remove=True)
        assert not at_t1.layout.root.exists()
        assert not pgbackrest.wal_archived(cfg, copy_segment, archive_id=archive_id)

        at_t2, metrics["restore_t2_s"] = _restore(source, "restore-t2", t2)
        copies.append(at_t2)
        assert at_t2.reached_archive_end  # no commit after T2 in the archive: replayed to its end
        assert _labels(at_t2) == ["A", "B"]
        at_t2.stop(remove=True)

        latest, metrics["restore_latest_s"] = _restore(source, "restore-latest", None)
        copies.append(latest)
        assert latest.backup_label == incr.label
        assert _labels(latest) == ["A", "B"]
        assert _one(latest.conn(), "SHOW archive_mode") == "off"
        assert _one(latest.conn(), "SHOW port") == str(latest.port)
        latest.stop(remove=True)
    finally:
        for copy in copies:
            copy.stop(remove=True)

    # RPO with archive_timeout alone: commit C, then poll until its segment is archived.
    with pg.connect(source.conn) as c:
        c.execute("INSERT INTO pitr_probe (label) VALUES ('C')")
        committed_at = time.monotonic()
        segment = str(c.execute("SELECT pg_walfile_name(pg_current_wal_lsn())").fetchone()[0])  # type: ignore[index]
    assert wait_until(lambda: pgbackrest.wal_archived(cfg, segment, archive_id=archive_id),
                      timeout=ARCHIVE_TIMEOUT_S + 30, interval=0.2)
    natural_rpo = time.monotonic() - committed_at
    metrics["rpo_archive_timeout_only_s"] = round(natural_rpo, 3)
    assert natural_rpo <= ARCHIVE_TIMEOUT_S + 15
    with capsys.disabled():
        print("\nPITR-METRICS " + json.dumps(metrics, sort_keys=True))


def test_restore_refuses_impossible_targets(source: Source) -> None:
    cfg = source.cfg
    pgbackrest.stanza_create(cfg)
    backups = pgbackrest.info(cfg)
    if not backups:
        backups = [pgbackrest.backup(cfg, "full")]
    before = backups[0].started_at - dt.timedelta(hours=1)
    with pytest.raises(PermanentError, match="oldest backup"):
        pgbackrest.restore_to_time(cfg, target_time=before, target_dir=source.base / "never", port=free_port())
    assert not (source.base / "never").exists()
    with pytest.raises(PermanentError, match="timezone-aware"):
        pgbackrest.restore_to_time(cfg, target_time=dt.datetime(2030, 1, 1), target_dir=source.base / "naive",
                                   port=free_port())
    busy = source.base / "busy"
    busy.mkdir()
    (busy / "file").write_text("x")
    with pytest.raises(PermanentError, match="not empty"):
        pgbackrest.restore_to_time(cfg, target_time=None, target_dir=busy, port=free_port())
    with pytest.raises(PermanentError, match="source cluster's port"):
        pgbackrest.restore_to_time(cfg, target_time=None, target_dir=source.base / "same", port=cfg.pg_port)


def test_config_and_settings_are_self_contained(tmp_path: Path) -> None:
    """Pure renderers: no /etc path, no secret in the file, archive_command quoted for the shell."""
    layout = managed_pg.ClusterLayout(tmp_path / "my cluster")
    cfg = pgbackrest.config_for_cluster(
        layout, base_dir=tmp_path / "pitr dir", stanza="main", port=5999,
        binaries=pg_binaries.PgBinaries(Path("/usr/lib/postgresql/15/bin"), "test"), password="s3cret-pw",
        os_user=None, pgbackrest_bin="/usr/bin/pgbackrest", retention_full=3)
    text = pgbackrest.render_config(cfg)
    assert "/etc" not in text and "s3cret-pw" not in text and "s3cret-pw" not in repr(cfg)
    assert "repo1-retention-full=3" in text and f"pg1-socket-path={layout.run_dir}" in text
    assert "[main]" in text and "pg1-port=5999" in text
    settings = pgbackrest.archiving_settings(cfg)
    assert settings["archive_mode"] is True and settings["wal_level"] == "replica"
    assert int(settings["max_wal_senders"]) >= 3 and int(settings["archive_timeout"]) <= 60
    assert settings["archive_command"] == (
        f"/usr/bin/pgbackrest '--config={tmp_path}/pitr dir/pgbackrest.conf' --stanza=main archive-push %p")
    restore = pgbackrest.restore_argv(cfg, pgdata=tmp_path / "new", target_time=dt.datetime(
        2025, 1, 2, 3, 4, 5, 600, tzinfo=dt.timezone(dt.timedelta(hours=2))), backup_set="X")
    assert "--target=2025-01-02 01:04:05.000600+00" in restore and "--archive-mode=off" in restore
    assert "--target-action=promote" in restore and restore[-1] == "restore"
    with pytest.raises(PermanentError):
        pgbackrest.config_for_cluster(layout, base_dir=tmp_path / "p", stanza="bad name", port=1,
                                      binaries=cfg.binaries, password=None, os_user=None, pgbackrest_bin="x")
    with pytest.raises(PermanentError):
        pgbackrest.config_for_cluster(layout, base_dir=tmp_path / "p", stanza="ok", port=1, binaries=cfg.binaries,
                                      password=None, os_user=None, pgbackrest_bin="x", archive_timeout=300)
