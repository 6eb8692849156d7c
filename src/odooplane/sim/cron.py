"""Scheduled actions: ``ir.cron._process_jobs`` and the loops that call it.

For one database: skip it unless ``base`` has this series' version and no
module is being installed/upgraded; take every active job whose ``nextcall``
has passed (or that has a due trigger), lock it (``FOR NO KEY UPDATE SKIP
LOCKED``, so concurrent cron workers never run a job twice), "run" it, then
move ``nextcall`` forward by its interval past now and set ``lastcall``.

Which databases get visited is the important part for pools:
- threaded servers (``workers = 0``) run ``max_cron_threads`` threads that only
  visit databases whose registry is loaded in the process (served since start);
- prefork cron workers round-robin over ``db_name`` if set, else ``list_dbs``
  (databases owned by the pool's role), one database per wake-up; with
  ``odooplane_dbrouter`` loaded and ``odooplane_cron_partition = I/N`` set,
  over this process's share of them only (sim/dbrouter.py).
Both sleep ``sim_cron_interval`` seconds (real Odoo: 60 s, plus a per-worker
jitter) and wake up early on ``NOTIFY cron_trigger``.
"""

from __future__ import annotations

import calendar
import datetime
import logging
import select
import threading
import time
from collections.abc import Callable

import psycopg

from odooplane.sim import database, dbrouter, logs
from odooplane.sim.config import Config
from odooplane.sim.database import Connection, execute

_logger = logging.getLogger("odoo.addons.base.models.ir_cron")


def add_interval(moment: datetime.datetime, number: int, unit: str) -> datetime.datetime:
    """``_intervalTypes``: add ``number`` minutes/hours/days/weeks/months."""
    if unit == "months":
        month = moment.month - 1 + number
        year, month = moment.year + month // 12, month % 12 + 1
        day = min(moment.day, calendar.monthrange(year, month)[1])
        return moment.replace(year=year, month=month, day=day)
    seconds = {"minutes": 60, "hours": 3600, "days": 86400, "weeks": 7 * 86400}.get(unit, 86400)
    return moment + datetime.timedelta(seconds=seconds * number)


def _now(conn: Connection) -> datetime.datetime:
    row = execute(conn, "SELECT (now() at time zone 'UTC')").fetchone()
    assert row is not None
    value: datetime.datetime = row[0]
    return value


def _ready_jobs(conn: Connection) -> list[int]:
    rows = execute(conn, """
        SELECT id FROM ir_cron
         WHERE active = true
           AND (nextcall <= (now() at time zone 'UTC')
                OR id IN (SELECT cron_id FROM ir_cron_trigger WHERE call_at <= (now() at time zone 'UTC')))
         ORDER BY failure_count, priority, id""").fetchall()
    return [int(job_id) for (job_id,) in rows]


def _run_job(conn: Connection, job_id: int) -> bool:
    job = execute(conn, """
        SELECT id, cron_name, interval_number, interval_type, nextcall FROM ir_cron
         WHERE active = true AND id = %s
           AND (nextcall <= (now() at time zone 'UTC')
                OR EXISTS (SELECT 1 FROM ir_cron_trigger WHERE cron_id = ir_cron.id
                                                         AND call_at <= (now() at time zone 'UTC')))
           FOR NO KEY UPDATE SKIP LOCKED""", (job_id,)).fetchone()
    if job is None:
        conn.rollback()  # another worker holds it or already ran it
        return False
    _, name, number, unit, nextcall = job
    start = time.monotonic()
    _logger.info("Job %r (%s) starting", name, job_id)
    _logger.info("Job %r (%s) done in %.3fs", name, job_id, time.monotonic() - start)
    now = _now(conn)
    while nextcall <= now:
        nextcall = add_interval(nextcall, int(number), str(unit))
    execute(conn, "UPDATE ir_cron SET nextcall = %s, lastcall = %s, failure_count = 0, first_failure_date = NULL"
                  " WHERE id = %s", (nextcall, now, job_id))
    execute(conn, "DELETE FROM ir_cron_trigger WHERE cron_id = %s AND call_at < (now() at time zone 'UTC')",
            (job_id,))
    conn.commit()
    _logger.info("Job %r (%s) completed", name, job_id)
    return True


def process_jobs(config: Config, dbname: str) -> int:
    """Run every ready job of ``dbname``; return how many ran. Never raises for a bad database."""
    logs.set_dbname(dbname)
    ran = 0
    try:
        with database.connect(config, dbname) as conn:
            row = execute(conn, "SELECT latest_version FROM ir_module_module WHERE name = 'base'").fetchone()
            if row is None or row[0] is None:
                _logger.warning("Skipping database %s because of modules to install/upgrade/remove.", dbname)
                return 0
            if row[0] != config.release.base_version:
                _logger.warning("Skipping database %s as its base version is not %s.", dbname,
                                config.release.base_version)
                return 0
            jobs = _ready_jobs(conn)
            if not jobs:
                return 0
            changes = execute(conn, "SELECT COUNT(*) FROM ir_module_module WHERE state LIKE 'to %'").fetchone()
            if changes and changes[0]:
                _logger.warning("Skipping database %s because of modules to install/upgrade/remove.", dbname)
                return 0
            conn.commit()
            for job_id in jobs:
                ran += _run_job(conn, job_id)
    except psycopg.errors.UndefinedTable:
        _logger.warning("Tried to poll an undefined table on database %s.", dbname)
    except psycopg.Error:
        _logger.warning("Exception in cron:", exc_info=True)
    finally:
        logs.set_dbname(None)
    return ran


def listen(config: Config) -> Connection:
    """A connection to ``postgres`` listening on ``cron_trigger`` (unless the cluster is in recovery)."""
    conn = database.connect(config, "postgres", autocommit=True)
    row = execute(conn, "SELECT pg_is_in_recovery()").fetchone()
    if row and not row[0]:
        execute(conn, "LISTEN cron_trigger")
    else:
        _logger.warning("PG cluster in recovery mode, cron trigger not activated")
    return conn


def wait(conn: Connection, timeout: float, *extra_fds: int) -> None:
    """Sleep up to ``timeout`` seconds, waking up on a cron_trigger notification or a readable extra fd."""
    try:
        select.select([conn.fileno(), *extra_fds], [], [], timeout)
        list(conn.notifies(timeout=0))
    except (OSError, ValueError, psycopg.Error):
        time.sleep(min(timeout, 1.0))


def cron_thread(number: int, config: Config, loaded_dbs: Callable[[], list[str]], stopping: threading.Event) -> None:
    """A threaded server's cron thread: visit the databases whose registry is loaded here."""
    conn: Connection | None = None
    while not stopping.is_set():
        try:
            if conn is None or conn.closed or conn.broken:
                conn = listen(config)
            wait(conn, config.sim.cron_interval + number)
        except psycopg.Error:
            _logger.warning("cron%d cannot reach PostgreSQL, retrying", number, exc_info=True)
            conn = None
            stopping.wait(config.sim.cron_interval)
            continue
        time.sleep(number / 100)
        for dbname in loaded_dbs():
            if stopping.is_set():
                break
            process_jobs(config, dbname)


def cron_db_list(config: Config) -> list[str]:
    """``WorkerCron._db_list``: ``db_name`` if set (even with a dbfilter), else ``list_dbs(True)``;
    with ``odooplane_dbrouter`` loaded, only this process's ``odooplane_cron_partition`` of it."""
    dbs = config.db_names if config["db_name"] else database.list_dbs(config, force=True)
    if dbrouter.MODULE in config.server_wide_modules:
        mine = dbrouter.cron_partition(dbs, config.options.get("odooplane_cron_partition"))
        if mine is not None:
            return mine
    return dbs
