"""What ``odooplane render`` shows is what the drivers write: the same desired runtime handed to a
driver's ensure_* methods (the engine and supervisord replaced by stand-ins) leaves, file for file,
the texts its ``render_artifacts`` returns."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from odooplane.actions import estate_file
from odooplane.drivers import registry
from odooplane.drivers.base import DesiredRuntime
from odooplane.drivers.compose import artifacts as compose_artifacts
from odooplane.drivers.compose import engine as compose_engine
from odooplane.drivers.compose import images as compose_images
from odooplane.drivers.compose.driver import ComposeDriver
from odooplane.drivers.compose.engine import Compose
from odooplane.drivers.local import driver as local_driver
from odooplane.drivers.local.supervisor import Supervisor
from odooplane.layout import Layout
from odooplane.operations.context import edge_spec, render_context
from odooplane.operations.desired import desired_runtime
from odooplane.services import mailcatcher, traefik

QUICKSTART = Path(__file__).parents[3] / "examples" / "quickstart.yaml"


@pytest.fixture
def estate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("ODOO_SOURCE", "ODOO_PYTHON", "ODOOPLANE_SIMULATOR", "ODOOPLANE_ESTATE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("odooplane.services.service_users.odoo_user", lambda create=True: None)
    monkeypatch.setattr("odooplane.services.service_users.runtime_dir", lambda data_dir, estate_id: data_dir)
    monkeypatch.setattr(traefik, "binary", lambda: f"{sys.prefix}/bin/traefik")
    target = tmp_path / "estate.yaml"
    shutil.copy(QUICKSTART, target)
    return target


def route_all(driver: Any, desired: DesiredRuntime) -> None:
    """The edge, every route and every pool service, as apply makes them."""
    driver.ensure_edge()
    for route in desired.routes:
        driver.ensure_route(route)
    for pool in desired.pool_services:
        driver.ensure_pool_service(pool)


def written(root: Path, names: list[str]) -> dict[str, str]:
    return {name: (root / name).read_text() for name in names}


def test_compose_driver_writes_what_render_shows(estate: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    valid = estate_file.load(estate)
    ctx = render_context(valid, "compose")
    desired = desired_runtime(ctx)
    rendered = registry.render("compose", desired, ctx.layout, edge_spec(valid), estate_id="",
                               platform=valid.estate.platform)
    for name in ("simulator", "mail_sink", "postgres", "traefik"):
        image = name.replace("_", "-").replace("traefik", "edge")
        monkeypatch.setattr(compose_images, name, lambda *a, _i=image, **k: f"odooplane/{_i}:built")
    monkeypatch.setattr(compose_engine, "volume_mountpoint", lambda volume: ctx.layout.root / "volumes" / volume)
    monkeypatch.setattr(ComposeDriver, "_container", lambda self, service: None)
    monkeypatch.setattr(Compose, "up", lambda self, *a, **k: None)
    monkeypatch.setattr(traefik.TraefikApi, "ping", lambda self: True)
    monkeypatch.setattr(os, "chown", lambda *a, **k: None)
    monkeypatch.setattr(compose_images, "control", lambda *a, **k: "odooplane/control:built")
    monkeypatch.setattr(ComposeDriver, "_revision_key", lambda self: compose_artifacts.RENDER_KEY)
    monkeypatch.delenv("DOCKER_HOST", raising=False)  # the worker in the project, on the default socket
    driver = ComposeDriver(Layout(valid.data_dir), edge_spec(valid), None, estate_id="",
                           platform_name=valid.estate.platform.name,
                           settings=valid.estate.platform.compose)
    for spec in desired.clusters:
        driver.ensure_cluster(spec, step=lambda *a, **k: None)
    for w in desired.workloads:
        driver.configure_workload(w)
    route_all(driver, desired)
    driver.ensure_mail_sink({m.port: m.directory for m in desired.mail_listeners})
    monkeypatch.setattr(driver.host, "process_names", lambda: [])
    (worker,) = desired.processes  # the quick start's backups are scheduled
    driver.ensure_process(worker)
    assert rendered.base == driver.root
    assert "secrets/worker.env" in rendered.files and "\n  worker:\n" in rendered.files["compose.yaml"]
    assert written(driver.root, sorted(rendered.files)) == rendered.files
    assert "compose.yaml" in rendered.files and compose_artifacts.BUILT in rendered.files["compose.yaml"]


def test_local_driver_writes_what_render_shows(estate: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    valid = estate_file.load(estate)
    ctx = render_context(valid, "local")
    desired = desired_runtime(ctx)
    rendered = registry.render("local", desired, ctx.layout, edge_spec(valid), platform=valid.estate.platform)
    applied: list[str] = []
    monkeypatch.setattr(Supervisor, "_update", lambda self: applied.append("update"))
    monkeypatch.setattr(Supervisor, "_group_names", lambda self: [])
    monkeypatch.setattr(Supervisor, "info", lambda self, name: None)
    monkeypatch.setattr(traefik.TraefikApi, "ping", lambda self: True)
    driver = local_driver.LocalDriver(Layout(valid.data_dir), edge_spec(valid))
    monkeypatch.setattr(driver.odoo, "check", lambda w: None)
    for w in desired.workloads:
        driver.ensure_workload(w)
    for spec in desired.processes:
        driver.ensure_process(spec)
    route_all(driver, desired)
    # The listener file is the operations' (operations/mail.py publishes it with this function).
    ctx.layout.mail.mkdir(parents=True)
    ctx.layout.mail_listeners.write_text(mailcatcher.listeners_text(
        {m.target: (m.port, m.directory) for m in desired.mail_listeners}))
    assert applied  # supervisord was asked to load the programs
    assert written(driver.layout.root, sorted(rendered.files)) == rendered.files
    assert "supervisor/programs/worker.conf" in rendered.files or any(
        p.endswith("worker.conf") for p in rendered.files), sorted(rendered.files)
