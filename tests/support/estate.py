"""Build throwaway estates for integration and e2e tests: unique tenant names, free ports, the
test PostgreSQL as an external cluster, the data directory in a temporary directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import yaml

from tests.support.services import free_port, port_block


def unique(prefix: str = "t") -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


@dataclass
class TestEstate:
    __test__ = False  # not a test class
    path: Path
    data: dict[str, Any]
    env: dict[str, str] = field(default_factory=dict)

    @property
    def data_dir(self) -> Path:
        return self.path.parent / "data"

    @property
    def runtime_dir(self) -> Path:
        """Where Odoo's directories (envs/, pools/, templates/, logs/envs, logs/pools) live: the data
        directory, or — as root — a directory of Odoo's service user under /var/lib/odooplane."""
        from odooplane.services.service_users import runtime_dir

        return runtime_dir(self.data_dir, estate_id=self.estate_id())

    @property
    def edge_port(self) -> int:
        return int(self.data["platform"]["edge"]["http_port"])

    def write(self) -> None:
        self.path.write_text(yaml.safe_dump(self.data, sort_keys=False))

    def cli(self, *args: str, check: bool = True, extra_env: dict[str, str] | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """Run ``odooplane ARGS`` as a user would, in a subprocess."""
        env = {**os.environ, **self.env, **(extra_env or {})}
        proc = subprocess.run([sys.executable, "-m", "odooplane", *args], capture_output=True, text=True,
                              env=env, timeout=timeout, check=False, cwd=self.path.parent)
        if check and proc.returncode != 0:
            raise AssertionError(f"odooplane {' '.join(args)} exited {proc.returncode}\n"
                                 f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
        return proc

    def status(self) -> dict[str, Any]:
        proc = self.cli("status", "-f", str(self.path), "--json", check=False)
        assert proc.returncode in (0, 5), proc.stderr
        return json.loads(proc.stdout)  # type: ignore[no-any-return]

    def wait_serving(self, context: str = "", timeout: float = 150.0) -> None:
        """Every environment healthy and served, asked until so: status takes health from the last
        sweep of the worker while it is recent, and one taken while a process was still starting
        says "failing" until the next (AssertionError naming those that never serve)."""
        from odooplane.clock import wait_until

        seen: list[dict[str, Any]] = []

        def healthy() -> bool:
            seen.append(self.status())
            return bool(seen[-1]["healthy"])

        if not wait_until(healthy, timeout=timeout, interval=2.0):
            unhealthy = [{k: e.get(k) for k in ("target", "state", "health", "health_checked_at", "route")}
                         for e in seen[-1]["environments"] if e.get("health") != "ok" or e.get("route") != "served"]
            raise AssertionError(f"{context}: not serving after {timeout:.0f} s: {unhealthy}")

    def cluster_url(self, name: str = "main") -> str:
        """The administrative URL of cluster ``name`` (a managed one: from the state database)."""
        cluster = self.data["clusters"][name]
        if cluster["kind"] == "external":
            return str(cluster["url"])
        from odooplane.store import db, ports
        from odooplane.store.secrets import SecretBox

        store = db.open_store(f"sqlite:///{self.data_dir / 'state.db'}")
        try:
            password = SecretBox(store, self.secret_key()).get(f"cluster/{name}/superuser")
            port = ports.allocated(store)[(f"cluster/{name}", "pg")]
        finally:
            store.close()
        return f"postgresql://postgres:{password}@127.0.0.1:{port}/postgres"

    def secret_key(self) -> bytes:
        """The estate's secrets key: from the environment Odooplane runs in, else its key file."""
        from odooplane.store.secrets import KEY_ENV, load_key

        key = self.env.get(KEY_ENV)
        return key.encode() if key else load_key(self.data_dir / "secret.key")

    def secret(self, name: str) -> str | None:
        """Read a stored secret the way Odooplane does (white-box, for isolation tests)."""
        from odooplane.store import db
        from odooplane.store.secrets import SecretBox

        store = db.open_store(self.data.get("platform", {}).get("state_db") or
                              f"sqlite:///{self.data_dir / 'state.db'}")
        try:
            return SecretBox(store, self.secret_key()).get(name)
        finally:
            store.close()

    def admin_password(self, target: str) -> str:
        """The admin user's password of environment ``tenant/env`` (set by Odooplane at creation)."""
        value = self.secret(f"env/{target}/admin_user_password")
        assert value, f"no admin password stored for {target}"
        return value

    def session_db(self, target: str, host: str | None = None) -> str:
        """Log in through the edge as admin of ``target``; return the session's database."""
        from tests.support.odoo_client import session_db

        tenant, env = target.split("/")
        return session_db(f"http://127.0.0.1:{self.edge_port}", host or f"{tenant}-{env}.localhost",
                          password=self.admin_password(target))

    def estate_id(self) -> str:
        import sqlalchemy as sa

        from odooplane.store.db import normalise_url

        url = self.data.get("platform", {}).get("state_db") or f"sqlite:///{self.data_dir / 'state.db'}"
        engine = sa.create_engine(normalise_url(url))
        with engine.connect() as conn:
            value = conn.execute(sa.text("SELECT value FROM meta WHERE key='estate_id'")).scalar()
        engine.dispose()
        return str(value)


_SHARED: Path | None = None


def shared_dir(key: Path) -> Path:
    """A directory every user may read (0755, under /tmp), standing in for ``key`` (a pytest
    tmp_path: pytest keeps its temporary root 0700). As root, Odoo runs as an unprivileged service
    user: addons it must load live here, as a real addons checkout would be readable."""
    global _SHARED
    if _SHARED is None:
        import atexit
        import shutil
        import tempfile

        _SHARED = Path(tempfile.mkdtemp(prefix="odooplane-shared-"))
        _SHARED.chmod(0o755)
        atexit.register(shutil.rmtree, _SHARED, True)
    directory = _SHARED / uuid.uuid5(uuid.NAMESPACE_URL, str(key)).hex[:12]
    directory.mkdir(mode=0o755, exist_ok=True)
    directory.chmod(0o755)
    return directory


def open_to_all(root: Path) -> None:
    """Make everything under ``root`` readable (and directories enterable) by every user."""
    for path in [root, *root.rglob("*")]:
        path.chmod(path.stat().st_mode | (0o055 if path.is_dir() else 0o044))


def make_estate(tmp_path: Path, tenants: dict[str, dict[str, Any]], *, cluster: str = "external",
                stack: dict[str, Any] | None = None) -> TestEstate:
    """Return an estate with ``tenants``; ``cluster`` 'external' (the test PostgreSQL) or 'managed'."""
    clusters: dict[str, Any] = {
        "external": {"main": {"kind": "external", "url": os.environ["ODOOPLANE_TEST_PG"]}},
        "managed": {"main": {"kind": "managed"}},
    }[cluster]
    low, high = port_block()
    data = {
        "platform": {
            "name": unique("e"),
            "data_dir": "data",
            "default_stack": "odoo",
            "default_cluster": "main",
            "edge": {"http_port": free_port(), "api_port": free_port()},
            "metrics_port": free_port(),
            "ports": {"start": low, "end": high},
        },
        "clusters": clusters,
        "stacks": {"odoo": stack or real_or_sim_stack()},
        "tenants": tenants,
        # Manual backups only: a scheduled policy would start the worker, whose first tick backs
        # every new environment up at once — tests that want it say so.
        "backups": {"policies": {"standard": {"schedule": None}}},
    }
    estate = TestEstate(tmp_path / "estate.yaml", data,
                        env={"XDG_STATE_HOME": str(tmp_path / "xdg"), "ODOOPLANE_RETRY_ATTEMPTS": "2",
                             "ODOOPLANE_RETRY_MAX_DELAY": "0.5"})
    estate.write()
    return estate


def real_or_sim_stack() -> dict[str, Any]:
    """The real Odoo tier when ODOO_SOURCE/ODOO_PYTHON are set, the simulator otherwise."""
    source = os.environ.get("ODOO_SOURCE")
    if source:
        return {"series": os.environ.get("ODOO_SERIES", "18.0"), "source": source,
                "python": os.environ.get("ODOO_PYTHON", sys.executable)}
    return {"series": "18.0", "simulator": True}


def owned_objects(estate_id: str, url: str | None = None) -> tuple[set[str], set[str]]:
    """Databases and roles on the test PostgreSQL (or ``url``) marked as owned by ``estate_id``."""
    with psycopg.connect(url or os.environ["ODOOPLANE_TEST_PG"], autocommit=True) as conn:
        dbs = conn.execute(
            "SELECT d.datname FROM pg_database d WHERE shobj_description(d.oid, 'pg_database') LIKE %s",
            (f"odooplane:{estate_id}:%",)).fetchall()
        roles = conn.execute(
            "SELECT r.rolname FROM pg_roles r WHERE shobj_description(r.oid, 'pg_authid') LIKE %s",
            (f"odooplane:{estate_id}:%",)).fetchall()
    return {str(r[0]) for r in dbs}, {str(r[0]) for r in roles}
