"""A private Docker Engine for the session, and the local images the Docker tests run.

Skipped, with the reason, only where a Docker Engine cannot run (``docker_engine.skip_reason``)."""

from __future__ import annotations

import pytest

from tests.support import docker_engine, images
from tests.support.docker_fixtures import base_image, engine

__all__ = ["base_image", "engine"]


@pytest.fixture(scope="session")
def odooplane_image(engine: docker_engine.DockerEngine, base_image: str) -> str:
    return images.build_odooplane_image(engine, base_image)


@pytest.fixture(scope="session")
def postgres_image(engine: docker_engine.DockerEngine, base_image: str) -> str:
    return images.build_postgres_image(engine, base_image)
