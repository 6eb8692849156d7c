"""The fleet health sweep: every environment probed concurrently — HTTP through the edge and
directly, PostgreSQL, the edge's routers and error rate, backups and restore proofs, crons, queues,
business activity, filestore and disk, process restarts, certificates — and judged into checks
with a status (ok, warning, critical) and the value that decided it."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import shutil
from dataclasses import dataclass, field
from typing import Any, Literal

from odooplane import files
from odooplane.errors import OdooplaneError
from odooplane.estate import durations
from odooplane.estate.models import AlertThresholds
from odooplane.estate.resolve import DesiredEnvironment
from odooplane.operations.context import Context
from odooplane.operations.desired import EnvArtifacts, artifacts, pool_artifacts
from odooplane.render.traefik import DATABASE_HEADER, part_of
from odooplane.services import probes, secret_refs, traefik
from odooplane.store import evidence, journal

Status = Literal["ok", "warning", "critical", "unknown"]
ORDER: dict[str, int] = {"ok": 0, "unknown": 1, "warning": 2, "critical": 3}
DEFAULT_RPO_S = 26 * 3600  # a daily backup, with slack, when no objective says otherwise
EDGE_MIN_REQUESTS = 20  # fewer requests between two sweeps say nothing about an error rate
# Every environment gets /web/health through the edge on every sweep (and directly on its process
# when that fails, to tell a proxy problem from an Odoo one). Up to DEEP_BUDGET per sweep also get
# /web/login through the edge (a page that renders, with its assets and the tenant's registry);
# the worker's sweeps probe the login page on the rotation of the slow signals below, so that a
# sweep stays near its floor (one request per environment) and does not load the pools it measures.
DEEP_BUDGET = 200
# The worker reads each database's slow signals (cron lag, queue backlog, business documents: a
# connection and a few queries inside the tenant's database) every SLOW_EVERY-th sweep, a rotating
# share of the fleet each time; in between the last value is carried, with its age. A sweep asked
# for by a person (`odooplane health`) reads them all.
SLOW_EVERY = 5
VERIFY_MAX_AGE = {"after-each": 2 * 86400, "daily": 2 * 86400, "weekly": 8 * 86400}


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    value: float | str | None
    detail: str = ""


@dataclass
class EnvHealth:
    target: str
    tenant: str
    environment: str
    stage: str
    placement: str
    pool: str
    business_unit: str
    tier: str
    checks: list[Check] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    labelled: list[tuple[str, dict[str, str], float]] = field(default_factory=list)  # extra-labelled series

    @property
    def status(self) -> Status:
        statuses: list[Status] = [c.status for c in self.checks]
        return max(statuses, key=lambda s: ORDER[s], default="unknown")

    @property
    def failing(self) -> list[Check]:
        return [c for c in self.checks if c.status in ("warning", "critical")]

    def labels(self) -> dict[str, str]:
        return {"tenant": self.tenant, "environment": self.environment, "pool": self.pool,
                "business_unit": self.business_unit, "tier": self.tier, "stage": self.stage}


@dataclass
class FleetHealth:
    at: dt.datetime
    environments: list[EnvHealth]
    host: dict[str, float]
    host_checks: list[Check] = field(default_factory=list)
    sweep_s: float = 0.0
    probe_ms: dict[str, list[float]] = field(default_factory=dict)
    guardrails: list[Any] = field(default_factory=list)  # estate/guardrails.Finding of the swept environments
    edge_metrics: bool = True  # the edge's metrics were read (its counters in the environments' metrics are real)

    @property
    def status(self) -> Status:
        statuses = [e.status for e in self.environments] + [c.status for c in self.host_checks]
        return max(statuses, key=lambda s: ORDER[s], default="ok")


def _severity(env: DesiredEnvironment) -> Status:
    """How bad an outage is: production of production-grade tiers is critical, the rest warning."""
    return "critical" if env.stage in ("production", "dr") and env.labels.tier in (
        "production", "mission-critical", "standard") else "warning"


def _threshold(value: float, warning: float, critical: float) -> Status:
    return "critical" if value >= critical else ("warning" if value >= warning else "ok")


@dataclass(frozen=True)
class _HttpPlan:
    art: EnvArtifacts | None
    direct_port: int | None
    deep: bool  # also /web/login through the edge
    gate: asyncio.Semaphore | None  # the pool's bound on requests in flight


async def _http(ctx: Context, env: DesiredEnvironment, plan: _HttpPlan,
                timings: dict[str, list[float]]) -> list[tuple[str, probes.HttpResult]]:
    edge = ctx.estate.platform.edge
    host = env.hostnames[0]
    gate = plan.gate

    async def get(port: int, path: str, headers: dict[str, str]) -> probes.HttpResult:
        if gate is None:
            return await probes.http_get("127.0.0.1", port, path, headers=headers)
        async with gate:
            return await probes.http_get("127.0.0.1", port, path, headers=headers)

    header = {DATABASE_HEADER: env.database} if env.pool else {}
    tasks = {"health_edge": get(edge.http_port, "/web/health", {"Host": host})}
    if plan.deep:
        tasks["login_edge"] = get(edge.http_port, "/web/login", {"Host": host})
    done = list(zip(tasks, await asyncio.gather(*tasks.values()), strict=True))
    if plan.direct_port and not done[0][1].ok:
        # The edge failed: ask the process directly, to tell a proxy problem from an Odoo one.
        done.append(("health_direct", await get(plan.direct_port, "/web/health", header)))
    for name, result in done:
        if result.latency_ms is not None:
            timings.setdefault(name, []).append(result.latency_ms)
    return done


async def _sweep_async(ctx: Context, envs: list[DesiredEnvironment], arts: dict[str, EnvArtifacts | None], *,
                       timings: dict[str, list[float]], pool_ports: dict[str, int], now: dt.datetime,
                       concurrency: int, deep: set[str], carried: dict[str, probes.OdooActivity],
                       sweepers: int = 1) -> tuple[dict[str, list[tuple[str, probes.HttpResult]]],
                                  dict[str, probes.OdooActivity], dict[str, probes.RedisInfo]]:
    gate = asyncio.Semaphore(concurrency)
    # A pool serves many databases from one connection pool per process (db_maxconn): probing more of
    # them at once than it has connections makes Odoo answer "The Connection Pool Is Full" — the sweep
    # must not cause the outage it looks for. Requests in flight per pool stay within half its connections
    # (shared among the workers sweeping at once).
    pool_gates = {p.name: asyncio.Semaphore(max(1, p.processes * p.db_maxconn // 2 // max(1, sweepers)))
                  for p in ctx.valid.pools}
    cron_grace = int(durations.parse(ctx.estate.monitoring.thresholds.cron_lag).total_seconds())

    async def one(env: DesiredEnvironment) -> tuple[str, list[tuple[str, probes.HttpResult]], probes.OdooActivity]:
        async with gate:
            art = arts[str(env.ref)]
            direct_port = art.http_port if art and art.http_port else pool_ports.get(env.pool or "")
            plan = _HttpPlan(art, direct_port, str(env.ref) in deep, pool_gates.get(env.pool or ""))
            http = await _http(ctx, env, plan, timings)
            if art is None:
                return str(env.ref), http, probes.OdooActivity(error="not provisioned")
            if str(env.ref) in carried:
                return str(env.ref), http, carried[str(env.ref)]
            started = asyncio.get_running_loop().time()
            activity = await probes.odoo_activity(art.cluster, env.database, now=now, cron_grace_s=cron_grace)
            timings.setdefault("odoo_db", []).append((asyncio.get_running_loop().time() - started) * 1000)
            return str(env.ref), http, activity

    servers = ctx.estate.monitoring.redis
    wanted = sorted({e.redis for e in envs if e.redis and e.redis in servers})

    async def redis_one(name: str) -> probes.RedisInfo:
        server = servers[name]
        password = secret_refs.resolve(server.password, base_dir=ctx.valid.path.parent,
                                       where=f"monitoring.redis.{name}.password") if server.password else None
        started = asyncio.get_running_loop().time()
        info = await probes.redis_info(server.host, server.port, password=password)
        timings.setdefault("redis", []).append((asyncio.get_running_loop().time() - started) * 1000)
        return info

    results, infos = await asyncio.gather(asyncio.gather(*(one(env) for env in envs)),
                                          asyncio.gather(*(redis_one(n) for n in wanted)))
    return ({r[0]: r[1] for r in results}, {r[0]: r[2] for r in results}, dict(zip(wanted, infos, strict=True)))


def sweep(ctx: Context, *, targets: list[DesiredEnvironment] | None = None, concurrency: int = 64,
          observer: str = "cli", deep_budget: int = DEEP_BUDGET, slow_every: int | None = None,
          sweepers: int = 1) -> FleetHealth:
    """Probe ``targets`` (default: every environment) now; never raises for a sick environment.
    ``slow_every``: read the figures inside databases for a rotating 1/N of the fleet and carry the
    others' (default: SLOW_EVERY for the worker, every database for anyone else). ``sweepers``: how
    many workers sweep their shares of the fleet at once (each pool's bound on requests in flight is
    theirs to share)."""
    import time

    started = time.perf_counter()
    now = ctx.clock.now()
    envs = targets if targets is not None else list(ctx.valid.environments)
    timings: dict[str, list[float]] = {}
    with ctx.reading():  # secrets and ports: one query each, whatever the number of environments
        pool_arts = {pool.name: pool_artifacts(ctx, pool, create=False) for pool in ctx.valid.pools}
        arts = {str(e.ref): artifacts(ctx, e, create=False, pools=pool_arts) for e in envs}
    pool_ports = {name: art.processes[0].http_port for name, art in pool_arts.items() if art}
    # PostgreSQL, once per cluster.
    activity: dict[str, probes.DatabaseActivity] = {}
    replication_lag: dict[str, float] = {}
    t0 = time.perf_counter()
    for cluster_name in sorted({e.cluster_name for e in envs}):
        conn = ctx.cluster_conn(cluster_name, allocate=False)
        if conn is None:
            continue
        try:
            seen = probes.cluster_activity(conn, [e.database for e in envs if e.cluster_name == cluster_name])
        except OdooplaneError:
            continue
        activity.update(seen.databases)
        if seen.replication_lag_s is not None:
            replication_lag[cluster_name] = seen.replication_lag_s
    timings["postgres_cluster"] = [(time.perf_counter() - t0) * 1000]
    # The edge: routers and error counters, once.
    t0 = time.perf_counter()
    api = traefik.TraefikApi(ctx.estate.platform.edge.api_port)
    routers = api.routers() or {}
    metrics_text = api.metrics() or ""
    requests = traefik.router_requests(metrics_text)
    served = traefik.router_response_bytes(metrics_text)
    timings["edge_api"] = [(time.perf_counter() - t0) * 1000]
    memory = _SweepMemory(ctx, observer)
    every = slow_every or (SLOW_EVERY if observer == "worker" else 1)
    deep = memory.deep_slice([str(e.ref) for e in envs], deep_budget_for(len(envs), every=every, budget=deep_budget))
    carried = memory.carried_activity([str(e.ref) for e in envs], every=every)
    http, odoo, redis = asyncio.run(_sweep_async(ctx, envs, arts, timings=timings, pool_ports=pool_ports, now=now,
                                                 concurrency=concurrency, deep=deep, carried=carried,
                                                 sweepers=sweepers))
    memory.keep_activity({t: act for t, act in odoo.items() if t not in carried and act.error != "not provisioned"},
                         now)
    thresholds = ctx.estate.monitoring.thresholds
    records = _evidence_index(ctx)
    processes = ctx.driver.processes()
    fleet = FleetHealth(at=now, environments=[], host=_host(ctx), edge_metrics=bool(metrics_text))
    _judge_host(fleet, thresholds)
    changing = operation_running(ctx)
    asleep = ctx.asleep()
    for env in envs:
        t = str(env.ref)
        art = arts[t]
        health = EnvHealth(t, env.ref.tenant, env.ref.env, env.stage, env.placement, env.pool or "",
                           env.labels.business_unit or "", env.labels.tier)
        change = next((op for op in changing if op.target in (t, "estate") or op.target.startswith("estate ")), None)
        if change is not None and not any(name == "health_edge" and r.ok for name, r in http.get(t, [])):
            # Down while an apply, restore or import changes it (a real Odoo init takes minutes): not an outage
            # to page for, and no env_up series so that OdooDown cannot fire; the next sweep judges it.
            health.checks.append(Check("changing", "unknown", change.kind,
                                       f"not answering while operation #{change.id} ({change.kind}) runs"))
            fleet.environments.append(health)
            continue
        if t in asleep:
            # Stopped on purpose by its schedule: not an outage (no env_up series: OdooDown cannot fire);
            # its database, backups and files are still judged.
            health.checks.append(Check("asleep", "ok", env.schedule or "", f"asleep by schedule {env.schedule}"))
            health.metrics["env_asleep"] = 1.0
            _judge_postgres(health, env, activity.get(env.database), thresholds)
            _judge_backups(ctx, health, env, records, now)
            _judge_files(ctx, health, env, art)
            fleet.environments.append(health)
            continue
        _judge_http(health, env, http.get(t, []))
        _judge_postgres(health, env, activity.get(env.database), thresholds)
        if env.cluster_name in replication_lag:
            lag = replication_lag[env.cluster_name]
            health.metrics["pg_replication_lag_seconds"] = lag
            if lag > 300:
                health.checks.append(Check("pg_replication_lag", "warning", round(lag), "standby replay lag"))
        if env.redis:
            _judge_redis(health, env, redis.get(env.redis), memory)
        _judge_edge(health, env, routers, requests, thresholds=thresholds, memory=memory)
        health.metrics["edge_response_bytes_total"] = sum(v for name, v in served.items()
                                                          if part_of(name, env.ref.slug))
        _judge_backups(ctx, health, env, records, now)
        _judge_odoo(health, env, odoo.get(t), now, thresholds)
        _judge_files(ctx, health, env, art)
        program = f"odoo-{env.ref.slug}" if env.pool is None else f"pool-{env.pool}-0"
        health.metrics["process_restarts_total"] = float(memory.restarts(program, processes.get(program)))
        _judge_tls(ctx, health, env, now)
        fleet.environments.append(health)
    memory.save()
    fleet.sweep_s = round(time.perf_counter() - started, 3)
    fleet.probe_ms = timings
    return fleet


def deep_budget_for(count: int, *, every: int, budget: int = DEEP_BUDGET) -> int:
    """How many of ``count`` environments get the login-page probe this sweep: the budget, and with
    the worker's rotation (``every`` > 1) no more than its share, so each is asked every N-th sweep."""
    return min(budget, count) if every <= 1 else min(budget, -(-count // every))


CHANGING_KINDS = ("apply", "down", "restore", "import", "move", "clone", "promote", "upgrade")


def operation_running(ctx: Context) -> list[journal.OperationRow]:
    """Operations that change what runs (apply, restore, import…) and are running now (from any
    host: alive while their heartbeat is fresh)."""
    return [op for op in journal.live_operations(ctx.store, limit=20) if op.kind in CHANGING_KINDS]


def _judge_http(health: EnvHealth, env: DesiredEnvironment, results: list[tuple[str, probes.HttpResult]]) -> None:
    by_name = dict(results)
    edge = by_name.get("health_edge")
    up = bool(edge and edge.ok)
    health.metrics["env_up"] = 1.0 if up else 0.0
    for name, result in results:
        if result.latency_ms is not None:
            path = "/web/health" if name.startswith("health") else "/web/login"
            via = "edge" if name.endswith("edge") else "direct"
            health.labelled.append(("env_http_latency_seconds", {"path": path, "via": via}, result.latency_ms / 1000))
    if edge is None:
        return
    status: Status = "ok" if up else _severity(env)
    detail = f"/web/health via edge: {edge.status or edge.error} in {edge.latency_ms or 0:.0f} ms"
    direct = by_name.get("health_direct")
    if direct is not None:  # asked because the edge failed: whose fault is it?
        detail += ("; the process answers directly (the edge or its route fails)" if direct.ok else
                   f"; the process does not answer either ({direct.status or direct.error})")
    health.checks.append(Check("http", status, edge.status or edge.error, detail))
    login = by_name.get("login_edge")
    if login is not None and up and not login.ok:
        health.checks.append(Check("login", _severity(env), login.status or login.error,
                                   f"/web/login via edge answered {login.status or login.error}"))


def _judge_postgres(health: EnvHealth, env: DesiredEnvironment, db: probes.DatabaseActivity | None,
                    thresholds: AlertThresholds) -> None:
    if db is None:
        health.checks.append(Check("postgres", _severity(env), None, "database not found on its cluster"))
        return
    ratio = db.connections / max(db.connection_limit, 1)
    page_at = thresholds.connection_ratio
    health.metrics.update(pg_connections=db.connections, pg_connection_limit=db.connection_limit,
                          pg_database_size_bytes=db.size_bytes, pg_long_running_queries=db.long_running,
                          pg_lock_waits=db.lock_waits, pg_xid_age=db.xid_age, pg_active_time_ms_total=db.active_ms)
    health.checks.append(Check("pg_connections", _threshold(ratio, page_at - 0.1, page_at), round(ratio, 2),
                               f"{db.connections} of {db.connection_limit} connections"))
    if db.long_running:
        health.checks.append(Check("pg_long_queries", "warning", db.long_running,
                                   f"{db.long_running} queries running for more than 5 min"))
    if db.lock_waits:
        health.checks.append(Check("pg_lock_waits", "warning", db.lock_waits, f"{db.lock_waits} lock waits"))
    health.checks.append(Check("pg_xid_age", _threshold(db.xid_age, 1_000_000_000, 1_500_000_000), db.xid_age,
                               "transaction id age (wraparound at 2^31)"))


def _judge_edge(health: EnvHealth, env: DesiredEnvironment, routers: dict[str, traefik.RouterState],
                requests: dict[str, tuple[float, float]], *, thresholds: AlertThresholds,
                memory: _SweepMemory) -> None:
    router = routers.get(env.ref.slug)
    if router is None or router.status != "enabled":
        health.checks.append(Check("route", _severity(env), router.status if router else "missing",
                                   router.error if router else "no router for its hostnames"))
    else:
        health.checks.append(Check("route", "ok", "enabled"))
    # Traefik counts since it started: judge what happened since the previous sweep.
    mine = [v for name, v in requests.items() if part_of(name, env.ref.slug)]
    total_now, errors_now = sum(v[0] for v in mine), sum(v[1] for v in mine)
    total = memory.delta(f"edge:{env.ref.slug}:total", int(total_now))
    errors = memory.delta(f"edge:{env.ref.slug}:5xx", int(errors_now))
    health.metrics["edge_requests_total"] = total_now
    health.metrics["edge_responses_5xx_total"] = errors_now
    ratio = errors / total if total >= EDGE_MIN_REQUESTS else 0.0
    health.metrics["edge_5xx_ratio"] = ratio
    if ratio > thresholds.edge_5xx_ratio:
        health.checks.append(Check("edge_5xx", "warning", round(ratio, 3),
                                   f"{errors} of {total} requests answered 5xx since the last sweep"))


def _evidence_index(ctx: Context) -> dict[tuple[str, str], evidence.Evidence]:
    """Newest backup attempt, newest backup (ok) and newest verification per target."""
    out: dict[tuple[str, str], evidence.Evidence] = {}
    for record in evidence.query(ctx.store, limit=100000):
        if record.kind == "backup":
            out.setdefault((record.target, "backup-attempt"), record)
        if record.kind == "backup" and record.ok:
            out.setdefault((record.target, "backup"), record)
        elif record.kind == "restore-verification":
            out.setdefault((record.target, "verification"), record)
            if record.ok:
                out.setdefault((record.target, "verified"), record)
    return out


def _judge_backups(ctx: Context, health: EnvHealth, env: DesiredEnvironment,
                   records: dict[tuple[str, str], evidence.Evidence], now: dt.datetime) -> None:
    if env.backup_policy is None:
        return
    policy = ctx.estate.backups.policies[env.backup_policy]
    rpo = durations.parse(env.objectives.rpo).total_seconds() if env.objectives else DEFAULT_RPO_S
    health.metrics["backup_rpo_seconds"] = rpo
    last = records.get((health.target, "backup"))
    attempt = records.get((health.target, "backup-attempt"))
    if attempt is not None and not attempt.ok:
        # The newest attempt failed: say why (restic missing, a full disk…), not just how old the last one is.
        reason = str(attempt.data.get("error") or attempt.summary)
        age = (now - last.ts).total_seconds() if last is not None else None
        status_: Status = "critical" if policy.schedule and (age is None or age > rpo) else "warning"
        since = f"newest confirmed backup {age / 3600:.1f} h old" if age is not None else "never backed up"
        if last is not None:
            health.metrics["backup_last_success_timestamp_seconds"] = last.ts.timestamp()
        health.checks.append(Check("backup", status_, "failing", f"backup failing: {reason} ({since})"))
    elif last is None:
        health.checks.append(Check("backup", "critical" if policy.schedule else "warning", None, "never backed up"))
    else:
        age = (now - last.ts).total_seconds()
        health.metrics["backup_last_success_timestamp_seconds"] = last.ts.timestamp()
        status: Status = "critical" if age > rpo else "ok"
        health.checks.append(Check("backup", status, round(age), f"newest confirmed backup {age / 3600:.1f} h old "
                                                                 f"(RPO {rpo / 3600:.1f} h)"))
    max_age = VERIFY_MAX_AGE.get(policy.verify)
    if max_age is None:
        return
    health.metrics["restore_verification_max_age_seconds"] = max_age
    verified = records.get((health.target, "verified"))
    newest = records.get((health.target, "verification"))
    if newest is not None and not newest.ok:
        health.checks.append(Check("restore_verified", "critical", "failed", "the newest restore verification failed"))
    elif verified is None:
        health.checks.append(Check("restore_verified", "warning", None, "no backup has been proven to restore"))
    else:
        age = (now - verified.ts).total_seconds()
        health.metrics["restore_verified_last_timestamp_seconds"] = verified.ts.timestamp()
        health.checks.append(Check("restore_verified", "warning" if age > max_age else "ok", round(age),
                                   f"newest verified restore {age / 86400:.1f} days old"))


def _judge_odoo(health: EnvHealth, env: DesiredEnvironment, act: probes.OdooActivity | None, now: dt.datetime,
                thresholds: AlertThresholds) -> None:
    if act is None or act.error:
        health.checks.append(Check("odoo_db", "warning", act.error if act else None, "the database could not be read"))
        return
    health.metrics.update(cron_overdue_jobs=act.cron_overdue, cron_lag_seconds=act.cron_lag_s)
    age = ""
    if act.sampled_at is not None:  # carried from an earlier sweep (the worker reads it every few sweeps)
        seconds = max(0.0, (now - act.sampled_at).total_seconds())
        health.metrics["odoo_activity_age_seconds"] = seconds
        age = f" (read {seconds:.0f} s ago)"
    health.checks.append(Check("cron", "warning" if act.cron_overdue else "ok", round(act.cron_lag_s),
                               (f"{act.cron_overdue} active cron job(s) overdue by more than {thresholds.cron_lag}"
                                if act.cron_overdue else "no cron overdue") + age))
    if act.queue_backlog is not None:
        health.metrics["queue_job_backlog"] = act.queue_backlog
        if act.queue_backlog > 1000:
            health.checks.append(Check("queue", "warning", act.queue_backlog, "queue_job backlog"))
    business = _in_business_hours(env, now)
    health.metrics["business_hours"] = 1.0 if business else 0.0
    for table, count in act.documents_last_hour.items():
        baseline = act.documents_baseline.get(table, 0.0)
        model = table.replace("_", ".")  # sale_order → sale.order, as Odoo names it
        health.labelled.append(("business_documents_last_hour", {"model": model}, float(count)))
        health.labelled.append(("business_documents_baseline", {"model": model}, baseline))
        if business and baseline >= thresholds.activity_min_baseline and \
                count < thresholds.activity_drop_ratio * baseline:
            health.checks.append(Check("business_activity", "warning", count,
                                       f"{model}: {count} created in the last hour, usually {baseline:.0f}"))


def _in_business_hours(env: DesiredEnvironment, now: dt.datetime) -> bool:
    hours = env.business_hours
    if hours is None:
        return False
    from zoneinfo import ZoneInfo

    local = now.astimezone(ZoneInfo(hours.timezone))
    day = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[local.weekday()]
    return day in hours.days and hours.start <= local.strftime("%H:%M") < hours.end


def _judge_files(ctx: Context, health: EnvHealth, env: DesiredEnvironment, art: EnvArtifacts | None) -> None:
    if art is None:
        return
    health.metrics["filestore_bytes"] = float(ctx.driver.storage.size(art.filestore_ref))


def _host(ctx: Context) -> dict[str, float]:
    usage = shutil.disk_usage(ctx.layout.root)
    return {"disk_free_ratio": usage.free / usage.total, "disk_free_bytes": float(usage.free)}


class _SweepMemory:
    """What the previous sweep saw (process start times, Redis eviction counters), kept in a small
    JSON file beside the state database so that sweeps can count changes."""

    def __init__(self, ctx: Context, observer: str) -> None:
        # One file per observer: the worker's sweeps must not eat the changes a person's sweep counts.
        self.path = ctx.layout.root / f"health-memory-{observer}.json"
        try:
            self.data: dict[str, Any] = json.loads(self.path.read_text())
        except (OSError, ValueError):
            self.data = {}

    def restarts(self, program: str, state: Any) -> int:
        """Restarts seen of ``program``: a start time that changed since the last sweep counts one."""
        entry = self.data.setdefault(f"process:{program}", {"start": None, "count": 0})
        started = getattr(state, "started_at", None)
        if started:
            if entry["start"] is not None and entry["start"] != started:
                entry["count"] += 1
            entry["start"] = started
        return int(entry["count"])

    def delta(self, key: str, value: int) -> int:
        """How much a counter grew since the last sweep (0 the first time, or after a reset)."""
        previous = self.data.get(key)
        self.data[key] = value
        return max(0, value - int(previous)) if previous is not None else 0

    def deep_slice(self, targets: list[str], budget: int) -> set[str]:
        """The environments probed in depth this sweep: all of them up to ``budget``, else the next
        ``budget`` in a rotation that covers the whole fleet every ceil(n / budget) sweeps."""
        if len(targets) <= budget:
            return set(targets)
        return set(self._rotation(targets, budget, "deep_cursor"))

    def carried_activity(self, targets: list[str], *, every: int) -> dict[str, probes.OdooActivity]:
        """The slow signals not read this sweep: with ``every`` N, each environment's are read
        every N-th sweep (a rotating 1/N of the fleet, plus any never read); the others' last
        values are returned, with when they were read."""
        if every <= 1 or not targets:
            return {}
        kept: dict[str, Any] = self.data.get("activity", {})
        share = -(-len(targets) // every)
        due = set(self._rotation(targets, share, "slow_cursor"))
        return {t: probes.OdooActivity.from_data(kept[t]) for t in targets if t not in due and t in kept}

    def keep_activity(self, read: dict[str, probes.OdooActivity], at: dt.datetime) -> None:
        kept: dict[str, Any] = self.data.setdefault("activity", {})
        for target, activity in read.items():
            kept[target] = dataclasses.replace(activity, sampled_at=at).as_data()

    def _rotation(self, targets: list[str], budget: int, cursor: str) -> list[str]:
        """The next ``budget`` of ``targets`` (sorted) after the persisted ``cursor``, which moves on."""
        start = int(self.data.get(cursor, 0)) % len(targets)
        self.data[cursor] = (start + budget) % len(targets)
        ordered = sorted(targets)
        return (ordered + ordered)[start:start + budget]

    def save(self) -> None:
        """Write the memory whole: another sweeper on this host reading it never sees half of it."""
        try:
            files.atomic_write(self.path, json.dumps(self.data))
        except OSError:
            pass


def _judge_redis(health: EnvHealth, env: DesiredEnvironment, info: probes.RedisInfo | None,
                 memory: _SweepMemory) -> None:
    if info is None:
        return
    if info.error:
        health.checks.append(Check("redis", _severity(env), info.error, f"Redis {env.redis} does not answer"))
        return
    health.metrics.update(redis_used_memory_bytes=info.used_memory, redis_maxmemory_bytes=info.maxmemory,
                          redis_evicted_keys_total=info.evicted_keys)
    evicted = memory.delta(f"redis:{env.redis}:evicted", info.evicted_keys) if env.redis else 0
    if evicted:
        health.checks.append(Check("redis_evictions", "warning", evicted,
                                   f"Redis {env.redis} evicted {evicted} keys since the last sweep"))
    elif info.maxmemory and info.used_memory / info.maxmemory > 0.9:
        health.checks.append(Check("redis_memory", "warning", round(info.used_memory / info.maxmemory, 2),
                                   f"Redis {env.redis} near its maxmemory"))
    else:
        health.checks.append(Check("redis", "ok", info.used_memory))


def _judge_host(fleet: FleetHealth, thresholds: AlertThresholds) -> None:
    ratio = fleet.host["disk_free_ratio"]
    status = _threshold(-ratio, -thresholds.disk_free_ratio, -thresholds.disk_free_ratio / 2)
    free_gib = fleet.host["disk_free_bytes"] / 2**30
    fleet.host_checks.append(Check("disk_free", status, round(ratio, 3),
                                   f"{ratio:.0%} of the data disk free ({free_gib:.1f} GiB)"))


def _judge_tls(ctx: Context, health: EnvHealth, env: DesiredEnvironment, now: dt.datetime) -> None:
    tls = ctx.estate.platform.edge.tls
    if tls is None:
        return
    for host in env.hostnames:
        expiry = probes.certificate_expiry("127.0.0.1", tls.https_port, host)
        if expiry is None:
            health.checks.append(Check("tls", "warning", None, f"{host}: no certificate served"))
            continue
        days = (expiry - now).total_seconds() / 86400
        health.labelled.append(("tls_certificate_expiry_timestamp_seconds", {"hostname": host}, expiry.timestamp()))
        warn_days = ctx.estate.monitoring.thresholds.certificate_days
        status: Status = "critical" if days < 3 else ("warning" if days < warn_days else "ok")
        health.checks.append(Check("tls", status, round(days, 1), f"{host}: certificate expires in {days:.0f} days"))
