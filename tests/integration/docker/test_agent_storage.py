"""The compose driver's filestores on real named volumes, both ways: through the data-plane agent
(``platform.compose.storage: agent``, and what a remote DOCKER_HOST gets: every Storage method done
by ``docker run --rm --network none`` containers of the agent image, nothing left running) and
through the volumes' directories on this host (``storage: host``) — the same answers, and what
either writes owned by Odoo's uid."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from odooplane.drivers.agent import AgentStorage
from odooplane.drivers.base import AgentTask, EdgeSpec, FilestoreRef, filestore_argument
from odooplane.drivers.compose.driver import ComposeDriver
from odooplane.errors import PermanentError
from odooplane.estate.models import ComposeSettings
from odooplane.layout import Layout
from tests.support import storage_contract
from tests.support.docker_engine import DockerEngine
from tests.support.estate import unique

pytestmark = [pytest.mark.integration, pytest.mark.docker]

EDGE = EdgeSpec(http_address="127.0.0.1:1", api_port=1, trusted_proxies=(), access_log=False)


@pytest.fixture(params=["agent", "host"])
def driver(request: pytest.FixtureRequest, tmp_path: Path, engine: DockerEngine, base_image: str,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[ComposeDriver]:
    monkeypatch.setenv("DOCKER_HOST", engine.host)
    monkeypatch.setenv("DOCKER_CONFIG", str(engine.root / "client"))
    project = unique("agent")
    drv = ComposeDriver(Layout(tmp_path / "data"), EDGE, estate_id="agent-test", platform_name=project,
                        settings=ComposeSettings(project=project, base_image=base_image, storage=request.param))
    try:
        yield drv
    finally:
        for volume in engine.docker("volume", "ls", "--quiet", "--filter",
                                    f"label=com.docker.compose.project={project}").stdout.split():
            engine.docker("volume", "rm", "--force", volume, check=False)


def test_every_storage_method_works_on_named_volumes(driver: ComposeDriver, engine: DockerEngine,
                                                     tmp_path: Path) -> None:
    assert isinstance(driver.storage, AgentStorage) == (driver.settings.storage == "agent")
    name = driver.project.replace("-", "_")
    storage_contract.exercise(driver.storage, tmp_path / "control", name=name)
    assert engine.docker("ps", "--all", "--quiet").stdout.split() == []  # every agent container is gone
    if driver.settings.storage == "agent":  # through the host's directories, a read makes the volume again
        assert engine.docker("volume", "ls", "--quiet", "--filter",
                             f"label=com.docker.compose.project={driver.project}").stdout.split() == []


def test_what_is_loaded_into_a_volume_is_odoo_s(driver: ComposeDriver, tmp_path: Path) -> None:
    ref = FilestoreRef("env-owned", "owned")
    driver.storage.ensure_storage(ref.storage)
    source = tmp_path / "restored"
    (source / "ab").mkdir(parents=True)
    (source / "ab" / "abc").write_bytes(b"x")
    assert driver.storage.load(source, ref) == 1
    mountpoint = driver.data_dir(ref.storage)  # the engine is on this host: look at the volume itself
    for path in (mountpoint, mountpoint / "filestore" / "owned", mountpoint / "filestore" / "owned" / "ab" / "abc"):
        assert (path.stat().st_uid, path.stat().st_gid) == (101, 101), path


@pytest.mark.parametrize("driver", ["agent"], indirect=True)  # run_agent is the same with either storage
def test_the_agent_s_refusals_reach_the_control_plane(driver: ComposeDriver) -> None:
    live = FilestoreRef("env-refused", "refused")
    with pytest.raises(PermanentError, match=r"refused:filestore/refused does not exist: nothing to move"):
        driver.run_agent(AgentTask("move", {"source": filestore_argument(live),
                                            "target": filestore_argument(live.sibling(".old"))}))
    with pytest.raises(PermanentError, match="is not a storage"):
        driver.run_agent(AgentTask("size", {"ref": {"storage": "env-../x", "database": "a"}}))
