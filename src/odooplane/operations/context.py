"""Everything an action needs for one estate: the validated estate, the data directory layout,
the state store, encrypted secrets, the driver and the clock — built once per command."""

from __future__ import annotations

import contextvars
import getpass
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from odooplane.clock import Clock, SystemClock, current
from odooplane.drivers import registry
from odooplane.drivers.base import Driver, EdgeSpec
from odooplane.errors import PermanentError
from odooplane.estate.models import ExternalCluster, ManagedCluster, Platform
from odooplane.estate.resolve import DesiredEnvironment, estate_path
from odooplane.estate.validate import ValidEstate
from odooplane.layout import Layout
from odooplane.services import secret_refs, service_users
from odooplane.services.postgres import ClusterConn
from odooplane.store import ports
from odooplane.store.db import Store, default_url, normalise_url, open_store
from odooplane.store.secrets import SecretBox, load_key


def secret_placeholder(name: str) -> str:
    """What rendered artifacts hold in place of the secret ``name`` (never its value, nor a hash of it)."""
    return f"<secret:{name}>"


@dataclass
class Provisional:
    """Render-only values: the artifacts of an estate are rendered without allocating or generating
    anything. Ports the state store already holds are used as they are; any other port is assigned
    here, in the order it is asked for, from the estate's port range (never recorded); every secret
    is a placeholder."""

    known: dict[tuple[str, str], int]  # (owner, purpose) -> port, read from the state store
    start: int
    end: int
    reserved: set[int]
    assigned: dict[tuple[str, str], int] = field(default_factory=dict)

    def port(self, owner: str, purpose: str, fixed: int | None = None) -> int:
        key = (owner, purpose)
        if fixed:
            return fixed
        if key in self.known:
            return self.known[key]
        if key not in self.assigned:
            taken = self.reserved | set(self.known.values()) | set(self.assigned.values())
            free = next((p for p in range(self.start, self.end + 1) if p not in taken), None)
            if free is None:
                raise PermanentError(f"platform.ports {self.start}-{self.end} has no port left for {owner} {purpose}")
            self.assigned[key] = free
        return self.assigned[key]

    def secret(self, name: str) -> str:
        return secret_placeholder(name)


# Who acts in this thread when it is not the process's user: a worker of the service running an
# operation someone requested sets it to them for as long as it runs it.
ACTING: contextvars.ContextVar[str | None] = contextvars.ContextVar("odooplane_acting", default=None)


def actor_name() -> str:
    return ACTING.get() or os.environ.get("ODOOPLANE_ACTOR") or getpass.getuser()


@dataclass
class Context:
    valid: ValidEstate
    layout: Layout
    store: Store
    secrets: SecretBox
    driver: Driver
    estate_id: str
    clock: Clock = field(default_factory=SystemClock)
    actor: str = field(default_factory=actor_name)
    odoo_user: service_users.ServiceUser | None = None  # who Odoo runs as (None: as ourselves)
    provisional: Provisional | None = None  # render only: nothing is allocated, no secret is read
    _ports_read: dict[tuple[str, str], int] | None = field(default=None, repr=False)  # inside reading()
    _asleep: frozenset[str] | None = field(default=None, repr=False)  # read once, until forget_asleep()

    def asleep(self) -> frozenset[str]:
        """The environments sleeping now (docs/cost.md#sleeping-non-production), read once per context."""
        if self._asleep is None:
            from odooplane.store import sleeping

            self._asleep = frozenset(t for t, s in sleeping.states(self.store).items() if s.asleep)
        return self._asleep

    def forget_asleep(self) -> None:
        self._asleep = None

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Answer reads of port allocations and secrets from one query each inside the block (for
        observing a whole estate). Nothing inside the block may allocate: writes of secrets drop
        their snapshot; ports are only read here."""
        self._ports_read = ports.allocated(self.store)
        try:
            with self.secrets.snapshot():
                yield
        finally:
            self._ports_read = None

    def allocated_ports(self) -> dict[tuple[str, str], int]:
        """Every (owner, purpose) -> port allocated (from the snapshot inside reading())."""
        return self._ports_read if self._ports_read is not None else ports.allocated(self.store)

    @property
    def odoo_user_name(self) -> str | None:
        return self.odoo_user.name if self.odoo_user else None

    def own(self, path: Path, *, recursive: bool = False) -> None:
        """Hand ``path`` (a directory or file Odoo must write or read) to Odoo's service user."""
        service_users.give(path, self.odoo_user, recursive=recursive)

    def make_dir(self, path: Path) -> Path:
        """``mkdir -p`` a directory of Odoo's (under the runtime directory): every directory made
        belongs to Odoo's service user."""
        made = [p for p in (path, *path.parents) if not p.exists()]
        path.mkdir(parents=True, exist_ok=True)
        for created in made:
            if created.is_relative_to(self.layout.run_root):
                self.own(created)
        return path

    @property
    def estate(self):  # type: ignore[no-untyped-def]
        return self.valid.estate

    @property
    def base_dir(self) -> Path:
        return self.valid.path.parent

    def close(self) -> None:
        self.store.close()

    # -- clusters ---------------------------------------------------------------------------
    def cluster_conn(self, name: str, *, allocate: bool = True) -> ClusterConn | None:
        """Return how to reach cluster ``name`` as an administrator.

        Raise PermanentError if its secrets cannot be resolved.
        """
        cluster = self.valid.estate.clusters[name]
        if isinstance(cluster, ExternalCluster):
            parts = urlsplit(cluster.url)
            password = (
                self.provisional.secret(f"cluster/{name}/password") if self.provisional and cluster.password
                else secret_refs.resolve(cluster.password, base_dir=self.base_dir, where=f"clusters.{name}.password")
                if cluster.password
                else None
            )
            return ClusterConn(
                name=name,
                host=parts.hostname or "127.0.0.1",
                port=parts.port or 5432,
                user=unquote(parts.username or "postgres"),
                password=password,
                dbname=(parts.path.lstrip("/") or "postgres"),
            )
        assert isinstance(cluster, ManagedCluster)
        if self.provisional is not None:
            return ClusterConn(name=name, host="127.0.0.1", user="postgres",
                               port=self.provisional.port(f"cluster/{name}", "pg", cluster.port),
                               password=self.provisional.secret(f"cluster/{name}/superuser"))
        if not allocate:
            known_port = self.allocated_ports().get((f"cluster/{name}", "pg")) or cluster.port
            known_password = self.secrets.get(f"cluster/{name}/superuser")
            if known_port is None or known_password is None:
                return None  # never created: nothing to observe
            return ClusterConn(name=name, host="127.0.0.1", port=known_port, user="postgres", password=known_password)
        port = self.cluster_port(name)
        password = self.secrets.get_or_create(f"cluster/{name}/superuser")
        return ClusterConn(name=name, host="127.0.0.1", port=port, user="postgres", password=password)

    def cluster_port(self, name: str) -> int:
        cluster = self.valid.estate.clusters[name]
        assert isinstance(cluster, ManagedCluster)
        owner = f"cluster/{name}"
        if cluster.port:
            ports.pin(self.store, owner=owner, purpose="pg", port=cluster.port)
            return cluster.port
        rng = self.valid.estate.platform.ports
        return ports.allocate(
            self.store, owner=owner, purpose="pg", start=rng.start, end=rng.end, reserved=self.reserved_ports()
        )

    def reserved_ports(self) -> set[int]:
        """Ports fixed in the estate: never handed out by allocation."""
        estate = self.valid.estate
        fixed = {estate.platform.edge.http_port, estate.platform.edge.api_port, estate.platform.metrics_port}
        if estate.platform.edge.tls:
            fixed.add(estate.platform.edge.tls.https_port)
        fixed |= {c.port for c in estate.clusters.values() if isinstance(c, ManagedCluster) and c.port}
        fixed |= {e.http_port for e in self.valid.environments if e.http_port}
        return fixed

    def env_marker_target(self, env: DesiredEnvironment) -> str:
        return str(env.ref)


def edge_spec(valid: ValidEstate) -> EdgeSpec:
    edge = valid.estate.platform.edge
    return EdgeSpec(
        http_address=f"{edge.bind}:{edge.http_port}",
        api_port=edge.api_port,
        trusted_proxies=tuple(edge.trusted_proxies),
        access_log=edge.access_log,
        trace_endpoint=f"http://127.0.0.1:{valid.estate.platform.metrics_port}/v1/traces",
        **_tls_spec(valid),
    )


def _tls_spec(valid: ValidEstate) -> dict[str, Any]:
    edge = valid.estate.platform.edge
    if edge.tls is None:
        return {}
    tls = edge.tls
    return {
        "https_address": f"{edge.bind}:{tls.https_port}",
        "redirect_http": tls.redirect_http,
        "certificates": tuple((str(estate_path(c.cert_file, valid.path)), str(estate_path(c.key_file, valid.path)))
                              for c in tls.certificates),
        "acme_email": tls.acme.email if tls.acme else None,
        "acme_ca": tls.acme.ca_server if tls.acme else None,
    }


def _owner_only(layout: Layout, *, service_inside: bool) -> None:
    """The data directory holds production data (dumps, filestores) and the key to the secrets:
    nobody but its owner may enter it, whatever an older version or the umask left.

    ``service_inside``: a service user works inside it (a managed cluster or Odoo directories an
    earlier version put there): traverse only (0711), never listing or reading."""
    for path, mode in ((layout.root, 0o711 if service_inside else 0o700), (layout.state_db, 0o600),
                       (layout.key_file, 0o600)):
        try:
            if path.stat().st_mode & 0o077 & ~mode:
                path.chmod(mode)
        except FileNotFoundError:
            continue


def runtime_platform(valid: ValidEstate) -> Platform:
    """``platform`` as a driver takes it: the paths it names made absolute (relative to the estate file)."""
    platform = valid.estate.platform
    if platform.compose.wheelhouse is None:
        return platform
    wheelhouse = str(estate_path(platform.compose.wheelhouse, valid.path))
    return platform.model_copy(update={"compose": platform.compose.model_copy(update={"wheelhouse": wheelhouse})})


def state_url(valid: ValidEstate) -> str:
    """The state database of ``valid`` (its URL as the store opens it)."""
    return normalise_url(valid.estate.platform.state_db or default_url(valid.data_dir))


def open_context(valid: ValidEstate, *, clock: Clock | None = None, store: Store | None = None) -> Context:
    """Open the state store (migrating it), the secret box and the driver for ``valid``. ``store``:
    one already open on ``valid``'s state database (a long-running process keeps its connections
    and compiled statements across edits of the estate)."""
    root = valid.data_dir
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    if store is None:
        store = open_store(state_url(valid))
    estate_id = store.estate_id()
    odoo_user = service_users.odoo_user()
    runtime = service_users.runtime_dir(root, estate_id=estate_id)
    layout = Layout(root, runtime=runtime)
    legacy = runtime == root and odoo_user is not None
    _owner_only(layout, service_inside=legacy or any(service_users.legacy_clusters(root)))
    if legacy:
        _adopt_legacy_runtime(layout, odoo_user)
    else:
        service_users.prepare_runtime(runtime, odoo_user)
    box = SecretBox(store, load_key(layout.key_file))
    driver = registry.create(valid.estate.platform.driver, layout, edge_spec(valid), odoo_user, estate_id=estate_id,
                             platform=runtime_platform(valid))
    return Context(
        valid=valid,
        layout=layout,
        store=store,
        secrets=box,
        driver=driver,
        estate_id=estate_id,
        clock=clock or current(),
        odoo_user=odoo_user,
    )


def _adopt_legacy_runtime(layout: Layout, user: service_users.ServiceUser | None) -> None:
    """Environments an earlier version ran as root inside the data directory: hand their
    directories to the Odoo service user once (they stay where they are)."""
    mark = layout.root / ".odoo-user"
    if user is None or mark.exists():
        return
    for path in (layout.envs, layout.pools, layout.templates, layout.run_root / "logs" / "envs",
                 layout.run_root / "logs" / "pools"):
        service_users.give(path, user, recursive=True)
    if (layout.run_root / "logs").exists():
        (layout.run_root / "logs").chmod(0o711)  # Odoo reaches its own logs/envs/<env> through it
    mark.write_text(user.name + "\n")


def render_context(valid: ValidEstate, driver: str) -> Context:
    """A context that renders ``valid`` for ``driver`` and changes nothing: the state store is read
    only if it exists (ports already allocated, the estate id), nothing is created in the data
    directory, ports not allocated yet are provisional and every secret is a placeholder."""
    import sqlalchemy as sa

    from odooplane.store.db import open_read_only

    root = valid.data_dir
    existing = open_read_only(valid.estate.platform.state_db or default_url(root))
    known = ports.allocated(existing) if existing else {}
    estate_id = (existing.meta_get("estate_id") or "") if existing else ""
    if existing:
        existing.close()
    # As apply would run here: as root, Odoo runs as its service user (if it exists yet) and its
    # directories live in the runtime directory.
    odoo_user = service_users.odoo_user(create=False)
    layout = Layout(root, runtime=service_users.runtime_dir(root, estate_id=estate_id or "estate"))
    rng = valid.estate.platform.ports
    store = Store(sa.create_engine("sqlite://"), "sqlite://")  # empty: rendering never reads or writes it
    ctx = Context(
        valid=valid, layout=layout, store=store, secrets=SecretBox(store, _UNUSED_KEY),
        driver=registry.create(driver, layout, edge_spec(valid), odoo_user, estate_id=estate_id,
                               platform=runtime_platform(valid)),
        estate_id=estate_id, odoo_user=odoo_user,
        provisional=Provisional(known=known, start=rng.start, end=rng.end, reserved=set()),
    )
    assert ctx.provisional is not None
    ctx.provisional.reserved = ctx.reserved_ports()
    return ctx


_UNUSED_KEY = b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="  # a valid Fernet key that never decrypts anything
