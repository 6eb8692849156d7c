"""Stacks that name an image (container drivers) and engine resources per environment and pool:
what validation accepts and refuses, and how they reach the workload a driver runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from odooplane.drivers.base import OdooWorkload, StackRef
from odooplane.estate import validate
from odooplane.render.odoo_conf import OdooSettings
from tests.unit.estate.test_validate import GOOD, problems, write

COMPOSE = GOOD.replace("platform: {default_stack: sim, default_cluster: main}",
                       "platform: {default_stack: sim, default_cluster: main, driver: compose}")


def test_an_image_stack_runs_on_compose(tmp_path: Path) -> None:
    text = COMPOSE.replace('stacks: {sim: {series: "18.0", simulator: true}}',
                           'stacks: {sim: {series: "18.0", image: "odoo:18.0"}}')
    valid = validate.validate(write(tmp_path, text))
    assert valid.estate.stacks["sim"].image == "odoo:18.0"


def test_an_image_stack_on_the_local_driver_is_refused_at_its_path(tmp_path: Path) -> None:
    text = GOOD.replace('stacks: {sim: {series: "18.0", simulator: true}}',
                        'stacks: {sim: {series: "18.0", image: "odoo:18.0"}}')
    found = problems(tmp_path, text)
    assert any("stacks.sim.image" in p and "platform.driver: compose" in p for p in found), found


@pytest.mark.parametrize(("stack", "fragment"), [
    ('{series: "18.0", image: "odoo:18.0", simulator: true}', "not simulator: true and image"),
    ('{series: "18.0"}', "set 'source'"),
    ('{series: "18.0", image: "Odoo 18"}', "is not an image reference"),
])
def test_a_stack_runs_exactly_one_thing(tmp_path: Path, stack: str, fragment: str) -> None:
    text = COMPOSE.replace('{series: "18.0", simulator: true}', stack)
    found = problems(tmp_path, text)
    assert any(fragment in p for p in found), found


def test_resources_reach_dedicated_and_pooled_environments(tmp_path: Path) -> None:
    text = COMPOSE.replace("prod: {modules: [sale]}",
                           "prod: {modules: [sale], resources: {cpus: 1.5, memory_mib: 4096}}")
    text += "pools: {std: {resources: {cpus: 2, memory_mib: 3000}}}\n"
    text = text.replace("staging: {}", "staging: {placement: {shared: std}}")
    valid = validate.validate(write(tmp_path, text))
    envs = {str(e.ref): e for e in valid.environments}
    assert envs["acme/prod"].resources is not None and envs["acme/prod"].resources.cpus == 1.5
    staging = envs["acme/staging"].resources
    assert staging is not None and (staging.cpus, staging.memory_mib) == (2, 3000)


@pytest.mark.parametrize(("change", "where", "fragment"), [
    (("prod: {modules: [sale]}", "prod: {modules: [sale], resources: {memory_mib: 1024}}"),
     "environments.prod.resources.memory_mib", "below limits.memory_hard_mib (2560)"),
    (("staging: {}", "staging: {placement: {shared: std}, resources: {cpus: 1}}"),
     "environments.staging.resources", "set resources on the pool"),
    (("prod: {modules: [sale]}", "prod: {modules: [sale], resources: {cpus: 0}}"),
     "environments.prod.resources.cpus", "greater than 0"),
])
def test_resources_that_cannot_work_are_refused(tmp_path: Path, change: tuple[str, str], where: str,
                                                fragment: str) -> None:
    text = COMPOSE.replace(*change) + "pools: {std: {}}\n"
    found = problems(tmp_path, text)
    assert any(where in p and fragment in p for p in found), found


def _workload(**extra: object) -> OdooWorkload:
    settings = OdooSettings(series_major=18, db_user="u", db_password="p", db_name="d", dbfilter="^d$",
                            admin_passwd_hash="h", workers=0, max_cron_threads=1)
    return OdooWorkload(name="odoo-a__prod", role="environment", target="a/prod",
                        stack=StackRef(series_major=18, simulator=True), settings=settings, cluster="main",
                        cluster_address=("127.0.0.1", 5432), storage="env-a__prod", http_port=20000,
                        evented_port=20001, evented=False, **extra)  # type: ignore[arg-type]


def test_resources_change_the_revision_and_no_resources_keep_it() -> None:
    plain = _workload()
    assert _workload(cpus=None, memory_mib=None).revision == plain.revision
    assert _workload(cpus=1.0).revision != plain.revision
    assert _workload(memory_mib=3000).revision != _workload(memory_mib=3001).revision


def test_point_in_time_recovery_on_compose_is_accepted(tmp_path: Path) -> None:
    text = COMPOSE.replace("clusters: {main: {kind: managed}}", "clusters: {main: {kind: managed, pitr: {}}}")
    valid, found = validate.check(write(tmp_path, text))
    assert valid is not None and not found, found
    cluster = valid.estate.clusters["main"]
    assert getattr(cluster, "pitr", None) is not None


def test_acme_at_a_compose_edge_is_accepted(tmp_path: Path) -> None:
    text = COMPOSE.replace("driver: compose}", "driver: compose, edge: {tls: {https_port: 8443, acme: {email: "
                                               "ops@example.com}}}}")
    valid, found = validate.check(write(tmp_path, text))
    assert valid is not None and not found, found
    tls = valid.estate.platform.edge.tls
    assert tls is not None and tls.acme is not None


def _source_stack(tmp_path: Path) -> str:
    tree = tmp_path / "odoo"
    tree.mkdir(exist_ok=True)
    (tree / "odoo-bin").write_text("")
    return COMPOSE.replace('{series: "18.0", simulator: true}', f'{{series: "18.0", source: "{tree}"}}')


def test_a_source_stack_on_compose_needs_a_wheelhouse(tmp_path: Path) -> None:
    found = problems(tmp_path, _source_stack(tmp_path))
    assert any("stacks.sim.source" in p and "platform.compose.wheelhouse" in p for p in found), found
    text = _source_stack(tmp_path).replace("driver: compose}", "driver: compose, compose: {wheelhouse: wheels}}")
    found = problems(tmp_path, text)
    assert any("platform.compose.wheelhouse" in p and "wheels is not a directory" in p for p in found), found
    (tmp_path / "wheels").mkdir()
    assert validate.validate(write(tmp_path, text)).estate.platform.compose.wheelhouse == "wheels"


def test_a_source_stack_renders_as_the_image_odooplane_builds() -> None:
    from odooplane.drivers.compose import artifacts
    from odooplane.render import dockerfile

    found = artifacts.odoo_image(StackRef(series_major=18, simulator=False, source="/src/odoo"), built=None)
    assert (found.image, found.entrypoint) == ("odooplane/odoo:built", dockerfile.SOURCE.entrypoint)
    image = artifacts.odoo_image(StackRef(series_major=18, simulator=False, image="odoo:18.0"), built=None)
    assert (image.image, image.entrypoint) == ("odoo:18.0", dockerfile.OFFICIAL.entrypoint)
