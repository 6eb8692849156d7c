"""Dumps and loads with the PostgreSQL client tools of this host, connected to the cluster over
the network: the local driver's (its clusters are on this host) and every driver's for a cluster
it does not run (an external one)."""

from __future__ import annotations

import shutil
from pathlib import Path

from odooplane import execute
from odooplane.services import pg_tools
from odooplane.services.postgres import ClusterConn

DUMP_TIMEOUT_S = 6 * 3600.0


class ClientDatabases:
    """:class:`~odooplane.drivers.base.Databases` with ``pg_dump``/``pg_restore`` of this host."""

    def dump(self, conn: ClusterConn, database: str, into: Path, *, jobs: int = 2,
             snapshot: str | None = None) -> None:
        if into.exists():
            shutil.rmtree(into)
        into.parent.mkdir(parents=True, exist_ok=True)
        execute.run(pg_tools.dump_argv(pg_tools.client("pg_dump"), conn, database=database, out_dir=into, jobs=jobs,
                                       snapshot=snapshot),
                    env=pg_tools.env(conn), secrets=[conn.password or ""], what="pg_dump", timeout=DUMP_TIMEOUT_S)

    def dump_sql(self, conn: ClusterConn, database: str, out_file: Path) -> None:
        execute.run(pg_tools.plain_dump_argv(pg_tools.client("pg_dump"), conn, database=database, out_file=out_file),
                    env=pg_tools.env(conn), secrets=[conn.password or ""], what="pg_dump", timeout=DUMP_TIMEOUT_S)

    def restore(self, role_conn: ClusterConn, database: str, dump_dir: Path, *, jobs: int = 2) -> None:
        execute.run(pg_tools.restore_argv(pg_tools.client("pg_restore"), role_conn, database=database,
                                          dump_dir=dump_dir, jobs=jobs),
                    env=pg_tools.env(role_conn), secrets=[role_conn.password or ""], what="pg_restore",
                    timeout=DUMP_TIMEOUT_S)
