"""Probes of what runs, built for fleets of thousands: one query per cluster for PostgreSQL's view
of every database, asynchronous HTTP and per-database queries with bounded concurrency and
timeouts. Plain data out; judging it is the caller's job."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import ssl
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from odooplane.services.postgres import ClusterConn, connect

LONG_QUERY_S = 300
KEY_DOCUMENTS = ("sale_order", "account_move", "stock_picking", "purchase_order")
DOCUMENTS_BUDGET_MS = 2000


@dataclass(frozen=True)
class HttpResult:
    status: int | None
    latency_ms: float | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status == 200


async def http_get(host: str, port: int, path: str, *, headers: dict[str, str] | None = None,
                   timeout: float = 5.0) -> HttpResult:
    """GET over a fresh connection (Odoo answers ``Connection: close``); never raises."""
    started = time.perf_counter()
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, TimeoutError) as exc:
        return HttpResult(None, None, type(exc).__name__)
    try:
        head = {"Host": f"{host}:{port}", "Connection": "close", "User-Agent": "odooplane-probe", **(headers or {})}
        request = f"GET {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in head.items()) + "\r\n"
        writer.write(request.encode())
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), timeout)
        parts = line.decode(errors="replace").split()
        status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
        await asyncio.wait_for(reader.read(), timeout)  # the whole answer counts in the latency
        return HttpResult(status, (time.perf_counter() - started) * 1000, None)
    except (OSError, TimeoutError, ValueError) as exc:
        return HttpResult(None, None, type(exc).__name__)
    finally:
        writer.close()


@dataclass(frozen=True)
class DatabaseActivity:
    connections: int
    connection_limit: int  # the database's limit, or the cluster's max_connections
    size_bytes: int
    long_running: int
    lock_waits: int
    xid_age: int
    active_ms: float = 0.0  # PostgreSQL 14+: time its sessions spent executing (pg_stat_database), cumulative


@dataclass(frozen=True)
class ClusterActivity:
    max_connections: int
    databases: dict[str, DatabaseActivity]
    replication_lag_s: float | None


def cluster_activity(cluster: ClusterConn, databases: Iterable[str]) -> ClusterActivity:
    """PostgreSQL's view of every given database in one round trip."""
    names = list(databases)
    with connect(cluster) as conn:
        max_conn = int(str(conn.execute("SHOW max_connections").fetchone()[0]))  # type: ignore[index]
        version = int(str(conn.execute("SHOW server_version_num").fetchone()[0]))  # type: ignore[index]
        active = ("(SELECT coalesce(s.active_time, 0) FROM pg_stat_database s WHERE s.datid = d.oid)"
                  if version >= 140000 else "0")
        rows = conn.execute(
            "SELECT d.datname, d.datconnlimit, pg_database_size(d.oid), age(d.datfrozenxid), "
            " (SELECT count(*) FROM pg_stat_activity a WHERE a.datname = d.datname), "
            " (SELECT count(*) FROM pg_stat_activity a WHERE a.datname = d.datname AND a.state = 'active' "
            "   AND a.query_start < now() - make_interval(secs => %s)), "
            " (SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "   WHERE a.datname = d.datname AND NOT l.granted), "
            f" {active} "
            "FROM pg_database d WHERE d.datname = ANY(%s)", (LONG_QUERY_S, names),
        ).fetchall()
        lag_row = conn.execute(
            "SELECT max(extract(epoch FROM replay_lag)) FROM pg_stat_replication").fetchone()
    out = {}
    for name, limit, size, xid, conns, long_running, waits, active_ms in rows:
        if size is None:  # dropped while the query ran (a restore's swap): as if not found
            continue
        limit_value = int(str(limit))
        out[str(name)] = DatabaseActivity(int(str(conns)), limit_value if limit_value >= 0 else max_conn,
                                          int(str(size)), int(str(long_running)), int(str(waits)), int(str(xid)),
                                          float(str(active_ms)) if active_ms is not None else 0.0)
    lag = float(str(lag_row[0])) if lag_row and lag_row[0] is not None else None
    return ClusterActivity(max_conn, out, lag)


@dataclass
class OdooActivity:
    """What an Odoo database says about itself (cron lag, queues, business documents)."""

    cron_overdue: int = 0
    cron_lag_s: float = 0.0
    queue_backlog: int | None = None
    documents_last_hour: dict[str, int] = field(default_factory=dict)
    documents_baseline: dict[str, float] = field(default_factory=dict)  # same hour, previous 4 weeks
    slow_tables: list[str] = field(default_factory=list)  # counting exceeded its time budget
    error: str | None = None
    sampled_at: dt.datetime | None = None  # when it was read (None: now, by this sweep)

    def as_data(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["sampled_at"] = self.sampled_at.isoformat() if self.sampled_at else None
        return data

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> OdooActivity:
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in fields}
        if values.get("sampled_at"):
            values["sampled_at"] = dt.datetime.fromisoformat(values["sampled_at"])
        return cls(**values)


async def odoo_activity(cluster: ClusterConn, database: str, *, now: dt.datetime, cron_grace_s: int = 3600,
                        timeout: float = 10.0) -> OdooActivity:
    """One connection, a handful of queries; a database that cannot be read reports the error."""
    result = OdooActivity()
    kwargs = cluster.kwargs(database)
    try:
        conn = await asyncio.wait_for(psycopg.AsyncConnection.connect(autocommit=True, **kwargs), timeout)  # type: ignore[arg-type]
    except (psycopg.Error, TimeoutError) as exc:
        result.error = type(exc).__name__
        return result
    try:
        async with conn:
            naive_now = now.astimezone(dt.UTC).replace(tzinfo=None)
            cur = await conn.execute(
                "SELECT to_regclass('public.ir_cron'), to_regclass('public.queue_job'), "
                + ", ".join(f"to_regclass('public.{t}')" for t in KEY_DOCUMENTS))
            present = await cur.fetchone()
            assert present is not None
            if present[0] is not None:
                cur = await conn.execute(
                    "SELECT count(*), coalesce(max(extract(epoch FROM (%s - nextcall))), 0) FROM ir_cron "
                    "WHERE active AND nextcall < %s", (naive_now, naive_now - dt.timedelta(seconds=cron_grace_s)))
                row = await cur.fetchone()
                if row:
                    result.cron_overdue, result.cron_lag_s = int(row[0]), float(row[1])
            if present[1] is not None:
                cur = await conn.execute("SELECT count(*) FROM queue_job WHERE state IN ('pending', 'enqueued')")
                row = await cur.fetchone()
                result.queue_backlog = int(row[0]) if row else 0
            hour_ago = naive_now - dt.timedelta(hours=1)
            # create_date has no index in Odoo: on a huge table this scans, so it gets a time budget
            # and a table that does not answer in time is left out (no signal rather than a slow sweep).
            await conn.execute("SELECT set_config('statement_timeout', %s, false)", (str(DOCUMENTS_BUDGET_MS),))
            for table, exists in zip(KEY_DOCUMENTS, present[2:], strict=True):
                if exists is None:
                    continue
                query = sql.SQL("SELECT count(*) FILTER (WHERE create_date >= %s), "
                                "count(*) FILTER (WHERE " + " OR ".join(
                                    ["(create_date >= %s AND create_date < %s)"] * 4) + ") FROM {} "
                                "WHERE create_date >= %s").format(sql.Identifier(table))
                # The last hour, and the same hour of each of the 4 previous weeks.
                params: list[object] = [hour_ago]
                for week in range(1, 5):
                    start = hour_ago - dt.timedelta(weeks=week)
                    params += [start, start + dt.timedelta(hours=1)]
                params.append(hour_ago - dt.timedelta(weeks=4))
                try:
                    cur = await conn.execute(query, params)
                    row = await cur.fetchone()
                except psycopg.errors.QueryCanceled:
                    result.slow_tables.append(table)
                    continue
                if row:
                    result.documents_last_hour[table] = int(row[0])
                    result.documents_baseline[table] = float(row[1]) / 4
    except (psycopg.Error, TimeoutError) as exc:
        result.error = type(exc).__name__
    return result


def certificate_expiry(host: str, port: int, server_name: str, *, timeout: float = 5.0) -> dt.datetime | None:
    """notAfter of the certificate served for ``server_name`` (SNI), or None when none is served or
    the one served does not cover the name (Traefik's self-signed default certificate)."""
    import socket

    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw, \
                context.wrap_socket(raw, server_hostname=server_name) as tls:
            der = tls.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError):
        return None
    if not der:
        return None
    from cryptography import x509

    cert = x509.load_der_x509_certificate(der)
    return cert.not_valid_after_utc if _covers(cert, server_name) else None


def _covers(cert: object, server_name: str) -> bool:
    from cryptography import x509

    assert isinstance(cert, x509.Certificate)
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.DNSName)
    except x509.ExtensionNotFound:
        return False
    wanted = server_name.lower()
    for name in (n.lower() for n in names):
        if name == wanted or (name.startswith("*.") and wanted.split(".", 1)[-1] == name[2:] and "." in wanted):
            return True
    return False


@dataclass(frozen=True)
class RedisInfo:
    used_memory: int = 0
    maxmemory: int = 0  # 0: unlimited
    evicted_keys: int = 0
    connected_clients: int = 0
    error: str | None = None


async def redis_info(host: str, port: int, *, password: str | None = None, timeout: float = 5.0) -> RedisInfo:
    """Memory and evictions of a Redis server (INFO memory, stats, clients); never raises."""
    import redis.asyncio as aioredis
    from redis.exceptions import RedisError

    client = aioredis.Redis(host=host, port=port, password=password, socket_timeout=timeout,
                            socket_connect_timeout=timeout)
    try:
        info = await client.info()
    except (RedisError, OSError, TimeoutError) as exc:
        return RedisInfo(error=type(exc).__name__)
    finally:
        await client.aclose()
    return RedisInfo(int(info.get("used_memory", 0)), int(info.get("maxmemory", 0)),
                     int(info.get("evicted_keys", 0)), int(info.get("connected_clients", 0)))
