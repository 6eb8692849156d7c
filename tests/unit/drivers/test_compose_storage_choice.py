"""Which way the compose driver reaches filestores: through the volumes' directories on this host
by default, through the data-plane agent when the estate says so or when the engine is remote
(its volumes' directories are not on this host)."""

from __future__ import annotations

from pathlib import Path

import pytest

from odooplane.drivers.agent import AgentStorage
from odooplane.drivers.base import EdgeSpec
from odooplane.drivers.compose.driver import ComposeDriver, ComposeStorage
from odooplane.errors import PermanentError
from odooplane.estate.models import ComposeSettings
from odooplane.layout import Layout

EDGE = EdgeSpec(http_address="127.0.0.1:1", api_port=1, trusted_proxies=(), access_log=False)


@pytest.mark.parametrize(("docker_host", "setting", "through_agent"), [
    (None, "host", False),
    ("unix:///run/docker.sock", "host", False),
    (None, "agent", True),
    ("tcp://10.0.0.5:2376", "host", True),
    ("ssh://deploy@docker-host", "host", True),
])
def test_the_agent_reaches_filestores_when_asked_or_when_the_engine_is_remote(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, docker_host: str | None, setting: str,
        through_agent: bool) -> None:
    if docker_host is None:
        monkeypatch.delenv("DOCKER_HOST", raising=False)
    else:
        monkeypatch.setenv("DOCKER_HOST", docker_host)
    driver = ComposeDriver(Layout(tmp_path), EDGE, settings=ComposeSettings.model_validate({"storage": setting}))
    assert isinstance(driver.storage, AgentStorage if through_agent else ComposeStorage)


def test_the_storage_setting_accepts_only_host_or_agent() -> None:
    with pytest.raises(ValueError, match="storage"):
        ComposeSettings.model_validate({"storage": "nfs"})


def test_in_the_worker_container_filestores_are_reached_through_the_agent(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine's volume directories are not mounted into the project's worker service."""
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setenv("ODOOPLANE_IN_CONTAINER", "compose")
    driver = ComposeDriver(Layout(tmp_path), EDGE, settings=ComposeSettings.model_validate({"storage": "host"}))
    assert isinstance(driver.storage, AgentStorage)


@pytest.mark.parametrize(("docker_host", "setting", "in_container"), [
    (None, "auto", True),
    ("unix:///tmp/engine/docker.sock", "auto", True),
    ("tcp://10.0.0.5:2376", "auto", False),
    ("ssh://deploy@docker-host", "auto", False),
    (None, "host", False),
    (None, "container", True),
])
def test_the_worker_runs_in_the_project_unless_asked_or_the_engine_is_remote(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, docker_host: str | None, setting: str,
        in_container: bool) -> None:
    if docker_host is None:
        monkeypatch.delenv("DOCKER_HOST", raising=False)
    else:
        monkeypatch.setenv("DOCKER_HOST", docker_host)
    driver = ComposeDriver(Layout(tmp_path), EDGE, settings=ComposeSettings.model_validate({"worker": setting}))
    assert driver._worker_in_container() is in_container


def test_a_worker_container_with_a_remote_engine_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "tcp://10.0.0.5:2376")
    driver = ComposeDriver(Layout(tmp_path), EDGE, settings=ComposeSettings.model_validate({"worker": "container"}))
    with pytest.raises(PermanentError, match=r"platform\.compose\.worker: container needs an engine of this host"):
        driver._worker_in_container()
