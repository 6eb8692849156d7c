"""A stack given by a source tree on the compose driver: Odooplane builds its image (the rendered
source Dockerfile, the wheels of the tree's requirements from ``platform.compose.wheelhouse``,
tagged by content), once per content. The tree here is a stand-in with real Odoo's shape (odoo-bin
and requirements.txt): the optional real-Odoo tier builds real Odoo from ODOO_SOURCE."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from odooplane.drivers.base import EdgeSpec, StackRef
from odooplane.drivers.compose.driver import ComposeDriver
from odooplane.errors import PermanentError
from odooplane.estate.models import ComposeSettings
from odooplane.layout import Layout
from odooplane.render import dockerfile
from odooplane.services import images
from tests.support.docker_engine import DockerEngine
from tests.support.estate import unique

pytestmark = [pytest.mark.integration, pytest.mark.docker]

EDGE = EdgeSpec(http_address="127.0.0.1:1", api_port=1, trusted_proxies=(), access_log=False)
ODOO_BIN = """#!/usr/bin/env python3
import sys
import attr  # a requirement: installed from the wheelhouse into the image's venv

if "--version" in sys.argv:
    print("Odoo Server 18.0 (a stand-in source tree, attrs %s)" % attr.__version__)
"""


def source_tree(root: Path, *, note: str = "") -> Path:
    tree = root / "odoo-src"
    tree.mkdir(parents=True, exist_ok=True)
    (tree / "odoo-bin").write_text(ODOO_BIN + note)
    (tree / "odoo-bin").chmod(0o755)
    (tree / "requirements.txt").write_text("\n".join(images.pinned(("attrs",))) + "\n")
    return tree


def test_a_source_stack_is_built_once_per_content_and_runs_its_odoo_bin(
        tmp_path: Path, engine: DockerEngine, base_image: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", engine.host)
    monkeypatch.setenv("DOCKER_CONFIG", str(engine.root / "client"))
    wheels = tmp_path / "wheels"
    images.download_wheels(wheels, images.pinned(("attrs",)))
    tree = source_tree(tmp_path)
    settings = ComposeSettings(project=unique("src"), base_image=base_image, wheelhouse=str(wheels))
    stack = StackRef(series_major=18, simulator=False, source=str(tree))
    driver = ComposeDriver(Layout(tmp_path / "data"), EDGE, estate_id="src", platform_name="src", settings=settings)
    tags: list[str] = []
    try:
        tag, entrypoint, uid, gid = driver._image(stack)
        tags.append(tag)
        assert tag.startswith("odooplane/odoo:") and (entrypoint, uid, gid) == (
            dockerfile.SOURCE.entrypoint, dockerfile.SOURCE.uid, dockerfile.SOURCE.gid)
        run = engine.docker("run", "--rm", "--network", "none", tag, "--version")
        assert run.stdout.startswith("Odoo Server 18.0 (a stand-in source tree, attrs "), run.stdout
        labels = json.loads(engine.docker("image", "inspect", "--format", "{{json .Config.Labels}}", tag).stdout)
        assert labels["odooplane.content"] == tag.rsplit(":", 1)[1]
        # Another apply (another driver) of the same tree: the same tag, nothing built.
        again = ComposeDriver(Layout(tmp_path / "data"), EDGE, estate_id="src", platform_name="src", settings=settings)
        created = engine.docker("image", "inspect", "--format", "{{.Created}}", tag).stdout
        assert again._image(stack)[0] == tag
        assert engine.docker("image", "inspect", "--format", "{{.Created}}", tag).stdout == created
        # A changed tree is another image.
        source_tree(tmp_path, note="# changed\n")
        changed = ComposeDriver(Layout(tmp_path / "data"), EDGE, estate_id="src", platform_name="src",
                                settings=settings)._image(stack)[0]
        tags.append(changed)
        assert changed != tag and changed.startswith("odooplane/odoo:")
    finally:
        for built in tags:
            engine.docker("image", "rm", "--force", built, check=False)


def test_a_source_stack_without_wheels_is_refused_with_what_to_do(tmp_path: Path) -> None:
    driver = ComposeDriver(Layout(tmp_path / "data"), EDGE, estate_id="src", platform_name="src",
                           settings=ComposeSettings(project=unique("src")))
    stack = StackRef(series_major=18, simulator=False, source=str(source_tree(tmp_path)))
    with pytest.raises(PermanentError, match=r"set platform.compose.wheelhouse"):
        driver._image(stack)
