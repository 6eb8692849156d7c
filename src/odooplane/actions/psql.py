"""``psql``: a PostgreSQL session in an environment's database as the role Odoo uses for it, or —
audited like every use — as the cluster's administrator. The password goes to psql in its
environment (``PGPASSWORD``), never on its command line, and is never printed."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from odooplane.actions import estate_file
from odooplane.actions.access import guard
from odooplane.errors import NotFound, UsageError
from odooplane.estate.resolve import EnvRef
from odooplane.operations.desired import artifacts
from odooplane.services import pg_tools
from odooplane.store import audit

CLUSTER_PREFIX = "cluster:"


@dataclass(frozen=True)
class Session:
    """What to run: ``argv`` with ``env`` added to the environment (the password)."""

    argv: list[str]
    env: dict[str, str]
    role: str
    database: str
    cluster: str
    estate: str  # the estate's platform name, to say where the session goes


def prepare(path: Path | None, target: str, *, admin: bool, extra: list[str]) -> Session:
    """The psql session for ``target`` (``tenant/env``, or ``cluster:NAME`` with ``admin``), recorded
    in the audit log with the actor before it is handed out.

    Raise UsageError for a malformed target, NotFound for one that is not declared or not
    provisioned."""
    ctx = estate_file.context(path, kubernetes=False)
    try:
        if target.startswith(CLUSTER_PREFIX):
            name = target[len(CLUSTER_PREFIX):]
            if not admin:
                raise UsageError(f"{target}: a cluster has no role of its own; add --admin for its administrator")
            if name not in ctx.estate.clusters:
                raise NotFound(f"{target}: no such cluster in {ctx.valid.path}")
            guard(ctx, "shell")  # a cluster's superuser: the estate as a whole
            conn = ctx.cluster_conn(name, allocate=False)
            if conn is None:
                raise NotFound(f"{target}: not provisioned yet (run apply)")
            database = conn.dbname
        else:
            try:
                ref = EnvRef.parse(target)
            except ValueError as exc:
                raise UsageError(f"{exc} (or cluster:NAME with --admin)") from exc
            env = ctx.valid.environment(ref)
            if env is None:
                raise NotFound(f"{target}: no such environment in {ctx.valid.path}")
            guard(ctx, "shell", [env])
            art = artifacts(ctx, env, create=False)
            if art is None:
                raise NotFound(f"{target}: not provisioned yet (run apply)")
            # Without --admin: the role Odoo connects as (its own, or its pool's), nothing more.
            conn = art.cluster if admin else dataclasses.replace(art.cluster, user=env.role, password=art.db_password)
            database = env.database
        audit.record(ctx.store, actor=ctx.actor, action="psql-admin" if admin else "psql", target=target,
                     outcome="opened", detail={"cluster": conn.name, "role": conn.user, "database": database})
        return Session(argv=pg_tools.psql_argv(pg_tools.client("psql"), conn, database=database, extra=extra),
                       env=pg_tools.env(conn), role=conn.user, database=database, cluster=conn.name,
                       estate=ctx.estate.platform.name)
    finally:
        ctx.close()
