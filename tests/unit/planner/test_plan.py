"""The planner is a pure diff: observed facts in, the changes apply would make out."""

from __future__ import annotations

import datetime as dt
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from odooplane.drivers.base import ProcessState
from odooplane.estate import validate
from odooplane.estate.resolve import EnvRef
from odooplane.planner import plan as planner
from odooplane.planner.observed import ClusterObservation, EnvObservation, FailedUpgrade, Observed, Orphan
from odooplane.services.odoo import Probe

ESTATE = """
platform: {default_stack: sim, default_cluster: main}
clusters: {main: {kind: external, url: "postgresql://postgres@127.0.0.1:5432/postgres"}}
stacks: {sim: {series: "18.0", simulator: true}}
tenants:
  acme:
    environments:
      prod: {modules: [sale, stock]}
"""
REF = EnvRef("acme", "prod")
RUNNING = ProcessState("odoo-acme__prod", "RUNNING", 42, 0, "")


@pytest.fixture
def valid(tmp_path: Path) -> validate.ValidEstate:
    path = tmp_path / "estate.yaml"
    path.write_text(textwrap.dedent(ESTATE))
    return validate.validate(path)


def converged() -> EnvObservation:
    return EnvObservation(
        ref=REF, provisioned=True, role_exists=True, database_exists=True,
        modules={"base": "installed", "sale": "installed", "stock": "installed"}, config_exists=True,
        config_current=True, process=RUNNING, process_current=True, route_exists=True, route_current=True,
        route_served=True, health=Probe(True, 200, 3.0, None),
    )


def observed(env: EnvObservation, *, orphans: list[Orphan] | None = None, edge: bool = True) -> Observed:
    cluster = ClusterObservation("main", "external", True, None, True, None)
    worker = ProcessState("worker", "RUNNING", 7, 0, "")
    return Observed(supervisor_running=True, edge_running=edge, clusters={"main": cluster}, envs={REF: env},
                    orphans=orphans or [], worker=worker)


def changes(valid: validate.ValidEstate, env: EnvObservation, **kw: object) -> set[tuple[str, str]]:
    return {(c.resource, c.action) for c in planner.plan(valid, observed(env, **kw)).changes}  # type: ignore[arg-type]


def test_converged_estate_has_an_empty_plan(valid: validate.ValidEstate) -> None:
    result = planner.plan(valid, observed(converged()))
    assert result.empty and result.changes == []


def test_new_environment_is_one_create(valid: validate.ValidEstate) -> None:
    new = replace(converged(), provisioned=False, role_exists=False, database_exists=False, modules=None,
                  config_exists=False, config_current=False, process=None, process_current=False,
                  route_exists=False, route_current=False, route_served=False, health=None)
    result = planner.plan(valid, observed(new))
    assert [(c.resource, c.action) for c in result.changes] == [("environment", "create")]
    assert "init (base,sale,stock)" in result.changes[0].reason
    with_template = planner.plan(valid, observed(new), templates={"acme/prod": "tpl-abc"})
    assert "copy of template tpl-abc" in with_template.changes[0].reason


def test_missing_module_is_installed(valid: validate.ValidEstate) -> None:
    env = replace(converged(), modules={"base": "installed", "sale": "installed"})
    assert changes(valid, env) == {("modules", "install")}


def test_half_initialised_database_is_recreated(valid: validate.ValidEstate) -> None:
    env = replace(converged(), modules={"base": "to install"})
    assert ("database", "recreate") in changes(valid, env)


def test_changed_config_restarts_the_process(valid: validate.ValidEstate) -> None:
    env = replace(converged(), config_current=False)
    assert changes(valid, env) == {("config", "update"), ("process", "restart")}


def test_failing_health_restarts(valid: validate.ValidEstate) -> None:
    env = replace(converged(), health=Probe(False, 500, 1.0, None))
    assert changes(valid, env) == {("process", "restart")}


def test_stopped_process_and_unserved_route(valid: validate.ValidEstate) -> None:
    env = replace(converged(), process=replace(RUNNING, state="FATAL"), route_served=False)
    assert changes(valid, env) == {("process", "start"), ("route", "check")}


def test_edge_down(valid: validate.ValidEstate) -> None:
    assert changes(valid, converged(), edge=False) == {("edge", "start")}


def test_orphans_processes_removed_data_retained_unless_pruned(valid: validate.ValidEstate) -> None:
    orphans = [Orphan("process", "odoo-old__prod"), Orphan("route", "old__prod"),
               Orphan("database", "old_prod", "main", "old/prod")]
    result = planner.plan(valid, observed(converged(), orphans=orphans))
    assert {(c.resource, c.action) for c in result.changes} == {
        ("process", "remove"), ("route", "remove"), ("database", "retain")}
    assert not result.empty
    pruned = planner.plan(valid, observed(converged(), orphans=orphans), prune=True)
    assert ("database", "remove") in {(c.resource, c.action) for c in pruned.changes}


def test_only_retained_data_is_an_empty_plan(valid: validate.ValidEstate) -> None:
    result = planner.plan(valid, observed(converged(), orphans=[Orphan("database", "old_prod", "main", "old/prod")]))
    assert result.empty


def test_scheduled_backups_need_the_worker(valid: validate.ValidEstate) -> None:
    obs = observed(converged())
    stopped = Observed(obs.supervisor_running, obs.edge_running, obs.clusters, obs.envs, obs.orphans)
    assert ("process", "start") in {(c.resource, c.action) for c in planner.plan(valid, stopped).changes}


RELEASED = ESTATE.replace("prod: {modules: [sale, stock]}", "prod: {modules: [sale, stock], release: r2}") + """
releases:
  r1: {stack: sim}
  r2: {stack: sim}
"""


@pytest.fixture
def released(tmp_path: Path) -> validate.ValidEstate:
    path = tmp_path / "estate.yaml"
    path.write_text(textwrap.dedent(RELEASED))
    return validate.validate(path)


def on_r1(**kw: object) -> EnvObservation:
    return replace(converged(), release="r1", **kw)  # type: ignore[arg-type]


def test_module_declared_with_a_new_release_is_installed_by_the_same_apply(released: validate.ValidEstate) -> None:
    env = on_r1(modules={"base": "installed", "sale": "installed"})
    result = planner.plan(released, observed(env))
    assert [(c.resource, c.action) for c in result.changes] == [("release", "upgrade"), ("modules", "install")]
    assert result.changes[1].reason == "install stock with the upgrade"


def failure(*, changed: bool) -> FailedUpgrade:
    return FailedUpgrade(release="r2", at=dt.datetime(2026, 5, 4, 10, 0, 1, tzinfo=dt.UTC),
                         error="ValueError: boom (while parsing shop.xml:3)", from_release="r1",
                         content_changed=changed)


def test_rolled_back_release_is_held_not_retried_until_its_content_changes(released: validate.ValidEstate) -> None:
    held = planner.plan(released, observed(on_r1(failed_upgrade=failure(changed=False))))
    assert [(c.resource, c.action) for c in held.changes] == [("release", "hold")]
    assert held.empty  # apply does nothing to it
    reason = held.changes[0].reason
    assert reason.startswith("r2 failed at 2026-05-04 10:00:01 UTC, rolled back (runs r1): ValueError: boom")
    assert "--retry-failed" in reason
    changed = planner.plan(released, observed(on_r1(failed_upgrade=failure(changed=True))))
    assert [(c.resource, c.action) for c in changed.changes] == [("release", "upgrade")]
    assert "its content changed" in changed.changes[0].reason
    retried = planner.plan(released, observed(on_r1(failed_upgrade=failure(changed=False))), retry_failed=True)
    assert [(c.resource, c.action) for c in retried.changes] == [("release", "upgrade")]


def test_pools_that_could_exhaust_the_clusters_connections_get_a_note(tmp_path: Path) -> None:
    path = tmp_path / "estate.yaml"
    tenants = "\n".join(f"  t{i:03d}: {{environments: {{prod: {{placement: {{shared: std}}}}}}}}" for i in range(100))
    path.write_text(textwrap.dedent(ESTATE).split("tenants:")[0]
                    + "pools: {std: {processes: 2, workers: 2, max_cron_threads: 1, db_maxconn: 64}}\n"
                    + "tenants:\n" + tenants + "\n")
    many = validate.validate(path)

    def notes(max_connections: int | None) -> list[str]:
        cluster = ClusterObservation("main", "external", True, True, True, None, max_connections=max_connections)
        return planner.connection_budget(many, Observed(supervisor_running=True, edge_running=True,
                                                        clusters={"main": cluster}, envs={}, orphans=[]))

    # 2 processes x (2 workers + 1 cron + 1 evented) x min(64, 101) = 512 connections.
    [note] = notes(97)
    assert "cluster main" in note and "512" in note and "pool std up to 512" in note and "accepts 97" in note
    assert notes(512 + planner.CONTROL_PLANE_CONNECTIONS) == []
    assert notes(None) == [], "not read (cluster unreachable): nothing claimed"
    path.write_text(path.read_text().replace("db_maxconn: 64", "db_maxconn: 8"))
    many = validate.validate(path)
    assert notes(97) == [], "2 x 4 x 8 = 64 fit"
