"""Which way the compose driver reaches filestores: through the volumes' directories on this host
by default, through the data-plane agent when the estate says so or when the engine is remote
(its volumes' directories are not on this host)."""

from __future__ import annotations

from pathlib import Path

import pytest

from odooplane.drivers.agent import AgentStorage
from odooplane.drivers.base import EdgeSpec
from odooplane.drivers.compose.driver import ComposeDriver, ComposeStorage
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
