"""The driver contract suite's fixtures: one driver of each kind for a test module (``fake`` in
memory, ``local`` with the real supervisord and Traefik, ``compose`` on a private Docker Engine
with images built from the local Debian base), and what each needs to run the simulator as its
Odoo. The compose leg is skipped, with the reason, only where a Docker Engine cannot run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from odooplane.drivers.base import ClusterSpec, Driver, EdgeSpec, OdooCommand, OdooWorkload, StackRef
from odooplane.drivers.fake import FakeDriver
from odooplane.layout import Layout
from odooplane.render.odoo_conf import OdooSettings
from odooplane.render.traefik import EnvRoute
from odooplane.services.postgres import ClusterConn
from tests.support.docker_fixtures import base_image, engine
from tests.support.estate import unique
from tests.support.services import free_port

__all__ = ["Harness", "base_image", "engine"]

SERIES = 18


def pg_admin() -> ClusterConn:
    """The test PostgreSQL (ODOOPLANE_TEST_PG) as an administrator's connection."""
    url = urlsplit(os.environ["ODOOPLANE_TEST_PG"])
    return ClusterConn(name="main", host=url.hostname or "127.0.0.1", port=url.port or 5432,
                       user=url.username or "postgres", password=url.password)


@dataclass
class Harness:
    """A driver under contract and how to make what the suite asks of it."""

    driver: Driver
    edge: EdgeSpec
    cluster_address: tuple[str, int]  # where its workloads' database cluster is, as the driver maps it
    admin: ClusterConn = field(default_factory=pg_admin)  # that cluster, as its administrator
    names: list[str] = field(default_factory=list)

    @property
    def fake(self) -> FakeDriver | None:
        return self.driver if isinstance(self.driver, FakeDriver) else None

    def workload(self, *, boot_fail: bool = False) -> OdooWorkload:
        """A dedicated environment's Odoo on the simulator, serving no database (it needs none to
        answer its health check), named ``odoo-<route name>`` as an environment's is."""
        name = f"odoo-{unique('c')}"
        self.names.append(name)
        extra: dict[str, str | int | float | bool] = {"sim_boot_fail": True} if boot_fail else {}
        settings = OdooSettings(series_major=SERIES, db_user="contract", db_password=unique("pw"),
                                dbfilter="^contract$", admin_passwd_hash="x", max_cron_threads=0, extra=extra)
        return OdooWorkload(name=name, role="environment", target=f"contract/{name}",
                            stack=StackRef(series_major=SERIES, simulator=True), settings=settings,
                            cluster="main", cluster_address=self.cluster_address, storage=f"env-{name[5:]}",
                            http_port=free_port(), evented_port=free_port(), evented=False, stop_grace_s=5)

    def route(self, workload: OdooWorkload) -> EnvRoute:
        slug = workload.name.removeprefix("odoo-")
        return EnvRoute(name=slug, hostnames=(f"{slug}.localhost",), http_port=workload.http_port,
                        evented_port=None, series_major=SERIES)

    def failing_command(self, workload: OdooWorkload) -> tuple[OdooCommand, str]:
        """A one-shot command Odoo refuses, and the reason its log gives: neutralize without a
        database (the fake is told to fail it the same way)."""
        reason = 'Neutralize command needs a database name. Use "-d" argument'
        if self.fake is not None:
            self.fake.fail_next_odoo(reason)
        return OdooCommand(workload=workload, args=(), what="Odoo neutralize", log_name="neutralize",
                           subcommand="neutralize", log_scope=workload.storage.removeprefix("env-")), reason

    def through_edge(self, host: str, path: str = "/web/health") -> httpx.Response:
        port = self.edge.http_address.rpartition(":")[2]
        return httpx.get(f"http://127.0.0.1:{port}{path}", headers={"Host": host}, timeout=10)


def _edge() -> EdgeSpec:
    return EdgeSpec(http_address=f"127.0.0.1:{free_port()}", api_port=free_port(), trusted_proxies=(),
                    access_log=False)


def _local(root: Path) -> Iterator[Harness]:
    from odooplane.drivers.local import LocalDriver

    edge = _edge()
    driver = LocalDriver(Layout(root / "data"), edge)
    driver.prepare()
    try:
        driver.ensure_edge()
        yield Harness(driver, edge, ("127.0.0.1", 5432))
    finally:
        driver.shutdown()


def _compose(root: Path, request: pytest.FixtureRequest) -> Iterator[Harness]:
    from odooplane.drivers.compose.driver import ComposeDriver
    from odooplane.estate.models import ComposeSettings
    from tests.support.docker_engine import DockerEngine

    engine: DockerEngine = request.getfixturevalue("engine")
    base_image: str = request.getfixturevalue("base_image")
    edge = _edge()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DOCKER_HOST", engine.host)
        patch.setenv("DOCKER_CONFIG", str(engine.root / "client"))
        project = unique("contract")
        driver = ComposeDriver(Layout(root / "data"), edge, estate_id=project, platform_name=project,
                               settings=ComposeSettings(project=project, base_image=base_image, edge_image="build",
                                                        postgres_image="build"))
        driver.prepare()
        try:
            driver.ensure_edge()
            # A container cannot reach the host's loopback: the workloads' cluster is a managed one,
            # a service of the project (the simulator asks it for its databases on every request).
            port, password = free_port(), unique("pw")
            driver.ensure_cluster(ClusterSpec(name="main", port=port, superuser_password=password),
                                  step=lambda _name, action, **_kw: action())
            yield Harness(driver, edge, ("127.0.0.1", port),
                          ClusterConn(name="main", host="127.0.0.1", port=port, user="postgres", password=password))
        finally:
            try:
                driver.purge()
            finally:
                driver.shutdown()


@pytest.fixture(scope="module", params=["fake", pytest.param("local", marks=pytest.mark.integration),
                                        pytest.param("compose", marks=[pytest.mark.integration,
                                                                       pytest.mark.docker])])
def harness(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    root = tmp_path_factory.mktemp(f"contract-{request.param}")
    if request.param == "fake":
        edge = _edge()
        fake = FakeDriver(root, edge)
        fake.prepare()
        fake.ensure_edge()
        try:
            yield Harness(fake, edge, ("127.0.0.1", 5432))
        finally:
            fake.shutdown()
    elif request.param == "local":
        yield from _local(root)
    else:
        yield from _compose(root, request)
