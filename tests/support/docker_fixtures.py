"""Session fixtures of the Docker tiers: a private Docker Engine and the local base image (skipped,
with the reason, only where a Docker Engine cannot run)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import docker_engine, images


@pytest.fixture(scope="session")
def engine() -> Iterator[docker_engine.DockerEngine]:
    reason = docker_engine.skip_reason()
    if reason is not None:
        pytest.skip(reason)
    with docker_engine.private_engine() as running:
        yield running


@pytest.fixture(scope="session")
def base_image(engine: docker_engine.DockerEngine) -> str:
    return images.base_image(engine)
