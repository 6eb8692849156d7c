"""Dumps and loads of a managed cluster's databases inside the cluster's own container.

``pg_dump``/``pg_restore`` are the server's own (the same major version, whatever this host has),
run with ``docker exec`` as the image's postgres user over the container's unix socket, where local
connections are trusted: no password travels, and a restore still connects as the database's own
ordinary role (``-U role``), never as the superuser. The files go through the engine's API as a tar
stream (``tar`` in the container, unpacked here with the agent's refusals: no member outside the
target, no link, no device), so this works against a remote engine as well. The container keeps
the dump in a scratch directory under ``/tmp`` only while it is copied, and removes it after.

A cluster the driver does not run (an external one) is dumped and loaded with this host's client
tools (:class:`~odooplane.drivers.pg_client.ClientDatabases`).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from odooplane import execute
from odooplane.agent import archive, tree
from odooplane.agent.errors import AgentError
from odooplane.drivers.agent import scratch_tar
from odooplane.drivers.compose import engine
from odooplane.drivers.pg_client import DUMP_TIMEOUT_S, ClientDatabases
from odooplane.errors import PermanentError
from odooplane.render import compose as render
from odooplane.services import pg_tools
from odooplane.services.postgres import ClusterConn

SOCKET_DIR = "/var/run/postgresql"
POSTGRES_USER = "postgres"  # the image's account that runs the server (uid 999)

# The container of a cluster this driver runs, for a connection to it (None: not one of its own).
FindContainer = Callable[[ClusterConn], "str | None"]


class ComposeDatabases:
    """:class:`~odooplane.drivers.base.Databases` of the compose driver."""

    def __init__(self, find: FindContainer) -> None:
        self._find = find
        self._client = ClientDatabases()

    @staticmethod
    def _inside(conn: ClusterConn) -> ClusterConn:
        """``conn`` as the container reaches its own server: the unix socket, no password."""
        return replace(conn, host=SOCKET_DIR, port=render.POSTGRES_PORT, password=None)

    @staticmethod
    def _exec(container: str, *argv: str, what: str, stdin: Path | None = None, stdout: Path | None = None,
              timeout: float = DUMP_TIMEOUT_S) -> None:
        flags = ["--interactive"] if stdin is not None else []
        result = engine.docker_streams("exec", *flags, "--user", POSTGRES_USER, container, *argv,
                                       stdin=stdin, stdout=stdout, timeout=timeout)
        execute.raise_for(result, what=what)

    @contextmanager
    def _scratch(self, container: str) -> Iterator[str]:
        """A new directory of the container's own (``/tmp/odooplane-<random>``, owner-only; mkdir
        fails if the name exists), removed afterwards."""
        path = f"/tmp/odooplane-{secrets.token_hex(6)}"  # noqa: S108 - in the container, made by mkdir below
        try:
            self._exec(container, "mkdir", "-m", "0700", "--", path, what="a scratch directory", timeout=60)
            yield path
        finally:
            engine.docker("exec", "--user", POSTGRES_USER, container, "rm", "-rf", "--", path, check=False)

    def dump(self, conn: ClusterConn, database: str, into: Path, *, jobs: int = 2,
             snapshot: str | None = None) -> None:
        container = self._find(conn)
        if container is None:
            self._client.dump(conn, database, into, jobs=jobs, snapshot=snapshot)
            return
        tree.remove_tree(into)
        with self._scratch(container) as scratch, scratch_tar(into) as tar:
            self._exec(container, *pg_tools.dump_argv("pg_dump", self._inside(conn), database=database,
                                                      out_dir=Path(scratch) / "dump", jobs=jobs, snapshot=snapshot),
                       what=f"pg_dump in the container of cluster {conn.name}")
            self._exec(container, "tar", "-C", f"{scratch}/dump", "-cf", "-", ".", stdout=tar,
                       what=f"reading the dump of {database} from the container of cluster {conn.name}")
            try:
                with tar.open("rb") as stream:
                    archive.load(stream, into)
            except AgentError as exc:
                tree.remove_tree(into)
                raise PermanentError(f"the dump of {database} from cluster {conn.name} is refused: {exc}") from None

    def dump_sql(self, conn: ClusterConn, database: str, out_file: Path) -> None:
        container = self._find(conn)
        if container is None:
            self._client.dump_sql(conn, database, out_file)
            return
        self._exec(container, *pg_tools.plain_dump_argv("pg_dump", self._inside(conn), database=database,
                                                        out_file=Path("/dev/stdout")),
                   stdout=out_file, what=f"pg_dump in the container of cluster {conn.name}")

    def restore(self, role_conn: ClusterConn, database: str, dump_dir: Path, *, jobs: int = 2) -> None:
        container = self._find(role_conn)
        if container is None:
            self._client.restore(role_conn, database, dump_dir, jobs=jobs)
            return
        with self._scratch(container) as scratch, scratch_tar(dump_dir) as tar:
            with tar.open("wb") as out:
                archive.export(dump_dir, out)
            self._exec(container, "tar", "-C", scratch, "--no-same-owner", "-xf", "-", stdin=tar,
                       what=f"copying the dump of {database} into the container of cluster {role_conn.name}")
            self._exec(container, *pg_tools.restore_argv("pg_restore", self._inside(role_conn), database=database,
                                                         dump_dir=Path(scratch), jobs=jobs),
                       what=f"pg_restore as {role_conn.user} in the container of cluster {role_conn.name}")
