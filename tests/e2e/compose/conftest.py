"""The compose tier: a private Docker Engine and a local base image for the session."""

from tests.support.docker_fixtures import base_image, engine

__all__ = ["base_image", "engine"]
