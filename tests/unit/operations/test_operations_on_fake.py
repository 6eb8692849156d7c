"""Operations on the fake driver with the real PostgreSQL: what they ask of the runtime (which
workload runs at which revision, which route is served, which Odoo command ran, which filestore
was copied where) and what they journal, without processes or containers."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from odooplane.drivers.base import FilestoreRef
from odooplane.estate.resolve import DesiredEnvironment
from odooplane.operations import mail, moves, observe, pools, provision
from odooplane.operations.desired import artifacts, program_name
from odooplane.operations.runner import StepFailed
from odooplane.planner import plan as planner
from odooplane.services import postgres
from odooplane.store import journal
from tests.support.estate import unique
from tests.unit.operations.conftest import OnFake

pytestmark = pytest.mark.integration  # the test PostgreSQL

Make = Callable[..., OnFake]


def converge(on: OnFake, target: str) -> list[tuple[str, str, str]]:
    """Observe and converge one environment as apply does; return the steps journaled."""
    obs = on.observed(target)
    with on.operation() as op:
        provision.ensure_env(on.ctx, op, on.env(target), obs)
    return on.steps(op)


def test_a_new_environment_is_initialised_run_at_its_revision_and_routed(on_fake: Make) -> None:
    tenant = unique("a")
    on = on_fake({tenant: {"environments": {"prod": {"modules": ["mail"]}}}})
    target = f"{tenant}/prod"

    steps = converge(on, target)

    names = [name for name, _, status in steps if status == "done"]
    assert names[:2] == ["prepare", "role"]
    for expected in ("database", "init", "identity", "process", "health", "route", "edge-check"):
        assert expected in names, (expected, names)
    assert [s for s in steps if s[2] != "done"] == []
    env = on.env(target)
    art = artifacts(on.ctx, env, create=False)
    assert art is not None and art.process is not None
    [init] = on.fake.commands
    assert (init.what, init.args[:4]) == ("Odoo init", ("-d", env.database, "-i", "base,mail"))
    assert init.workload == art.runner
    assert on.fake.revision_of(program_name(art.slug)) == art.process.workload.revision
    assert on.fake.routes({})[art.route.name].served
    assert postgres.module_states(art.cluster, env.database) == {"base": "installed", "mail": "installed"}


def test_only_the_environment_whose_revision_changed_is_restarted(on_fake: Make) -> None:
    tenant = unique("r")
    on = on_fake({tenant: {"environments": {"prod": {}, "staging": {"stage": "staging"}}}})
    prod, staging = f"{tenant}/prod", f"{tenant}/staging"
    converge(on, prod)
    converge(on, staging)
    before = on.fake.revision_of(program_name(on.env(staging).ref.slug))
    events = len(on.fake.events)

    on.rewrite(lambda data: data["tenants"][tenant]["environments"]["staging"].update(workers=2))
    assert on.observed(prod).process_current and not on.observed(staging).process_current
    prod_steps, staging_steps = converge(on, prod), converge(on, staging)

    assert not [s for s in prod_steps if s[0] in ("process", "health")], prod_steps
    assert ("process", staging, "done") in staging_steps
    after = artifacts(on.ctx, on.env(staging), create=False)
    assert after is not None and after.process is not None and before is not None
    assert after.process.workload.revision != before
    assert on.fake.events[events:] == [f"start {after.process.name}"]
    assert on.fake.revision_of(after.process.name) == after.process.workload.revision
    assert on.observed(staging).process_current


def test_a_failed_odoo_init_surfaces_odoos_reason_journals_the_step_and_rolls_back(on_fake: Make) -> None:
    tenant = unique("f")
    on = on_fake({tenant: {"environments": {"prod": {"modules": ["sale"]}}}})
    target = f"{tenant}/prod"
    reason = "ParseError: while parsing /addons/sale/views/sale.xml:12, somewhere inside"
    on.fake.fail_next_odoo(reason)
    obs = on.observed(target)

    with on.operation() as op, pytest.raises(StepFailed) as failed:
        provision.ensure_env(on.ctx, op, on.env(target), obs)

    assert (failed.value.step, failed.value.target) == ("init", target)
    assert reason in failed.value.reason and "Odoo init exited with" in failed.value.reason
    steps = {(name, status) for name, _, status in on.steps(op)}
    assert ("init", "failed") in steps and ("rollback", "done") in steps
    env = on.env(target)
    [error] = [s.error for s in journal.steps(on.ctx.store, op.op_id) if s.name == "init"]
    assert error is not None and reason in error
    conn = on.ctx.cluster_conn(env.cluster_name, allocate=False)
    assert conn is not None and not postgres.database_exists(conn, env.database)
    assert program_name(env.ref.slug) not in on.fake.workloads()


def test_an_odoo_that_gives_up_fails_the_process_step_with_the_drivers_detail(on_fake: Make) -> None:
    tenant = unique("g")
    on = on_fake({tenant: {"environments": {"prod": {}}}})
    target = f"{tenant}/prod"
    on.fake.fail_to_start(program_name(on.env(target).ref.slug), "exited: address already in use")
    obs = on.observed(target)

    with on.operation() as op, pytest.raises(StepFailed) as failed:
        provision.ensure_env(on.ctx, op, on.env(target), obs)

    assert failed.value.step == "process"
    assert "address already in use" in failed.value.reason
    assert ("init", target, "done") in on.steps(op)


def provisioned(on_fake: Make) -> tuple[OnFake, DesiredEnvironment]:
    """An estate of one production environment, converged."""
    tenant = unique("t")
    on = on_fake({tenant: {"environments": {"prod": {}}}})
    converge(on, f"{tenant}/prod")
    return on, on.env(f"{tenant}/prod")


def test_observe_reports_what_the_driver_reports(on_fake: Make) -> None:
    on, env = provisioned(on_fake)
    target = str(env.ref)
    name = program_name(env.ref.slug)

    healthy = on.observed(target)
    assert healthy.process is not None and healthy.process.running and healthy.process_current
    assert healthy.health is not None and healthy.health.ok
    assert healthy.route_current and healthy.route_served
    assert planner.actionable(planner.env_changes(env, healthy)) == []

    on.fake.crash(name, "exited: killed by the kernel")
    crashed = on.observed(target)
    assert crashed.process is not None and crashed.process.state == "FATAL" and not crashed.process.alive
    assert "killed by the kernel" in crashed.process.detail
    assert crashed.health is None
    assert planner.actionable(planner.env_changes(env, crashed)) != []

    on.fake.ensure_workload(on.fake.configured[name])  # back up
    on.fake.refuse_route(env.ref.slug)
    unserved = on.observed(target)
    assert unserved.route_exists and not unserved.route_served
    assert planner.actionable(planner.env_changes(env, unserved)) != []


def test_removing_an_environment_removes_its_workload_route_filestore_and_database(on_fake: Make) -> None:
    on, env = provisioned(on_fake)
    art = artifacts(on.ctx, env, create=False)
    assert art is not None
    on.fake.fake_storage.put(art.filestore_ref, "ab/ab01", b"an attachment")

    provision.remove_env(on.ctx, env.ref.slug, env=env, drop_data=True)

    assert program_name(env.ref.slug) not in on.fake.workloads()
    assert env.ref.slug not in on.fake.routes({})
    assert not on.fake.storage.exists(art.filestore_ref)
    assert art.storage not in on.fake.fake_storage.storages
    assert not postgres.database_exists(art.cluster, env.database)
    assert artifacts(on.ctx, env, create=False) is None, "its secrets and ports are released"


def test_mail_of_non_production_environments_only_is_caught(on_fake: Make) -> None:
    tenant = unique("m")
    on = on_fake({tenant: {"environments": {"prod": {}, "staging": {"stage": "staging"},
                                            "dev": {"stage": "development"}}}})

    wanted = mail.publish(on.ctx)

    assert set(wanted) == {f"{tenant}/staging", f"{tenant}/dev"}
    assert on.fake.mail_listeners == {port: directory for port, directory in wanted.values()}
    assert wanted[f"{tenant}/staging"][1] == on.ctx.layout.mail_dir(on.env(f"{tenant}/staging").ref.slug)
    for target, caught in ((f"{tenant}/prod", False), (f"{tenant}/staging", True)):
        art = artifacts(on.ctx, on.env(target), create=True)
        assert art is not None and art.process is not None
        extra = dict(art.process.workload.settings.extra)
        assert (extra.get("smtp_server") == on.fake.mail_host()) is caught, (target, extra)
        if caught:
            assert extra["smtp_port"] == wanted[target][0]


def test_a_growing_pool_starts_only_its_new_process_and_balances_both(on_fake: Make) -> None:
    tenant, pool = unique("p"), unique("s")
    on = on_fake({tenant: {"environments": {"prod": {"placement": {"shared": pool}}}}},
                 pools={pool: {"processes": 1, "workers": 0}})

    def ensure() -> list[tuple[str, str, str]]:
        found, _ = observe.observe(on.ctx)
        desired = on.ctx.valid.pool(pool)
        assert desired is not None
        with on.operation() as op:
            pools.ensure_pool(on.ctx, op, desired, found.pools.get(pool))
        return on.steps(op)

    ensure()
    service = on.fake.pool_services[f"pool-{pool}"]
    assert len(service.http_ports) == 1 and on.fake.workloads()[f"pool-{pool}-0"].running
    first = on.fake.workloads()[f"pool-{pool}-0"]
    events = len(on.fake.events)

    on.rewrite(lambda data: data["pools"][pool].update(processes=2))
    steps = ensure()

    assert on.fake.events[events:] == [f"start pool-{pool}-1"]
    assert on.fake.workloads()[f"pool-{pool}-0"] == first, "the running process is left alone"
    grown = on.fake.pool_services[f"pool-{pool}"]
    assert len(grown.http_ports) == 2 and grown.http_ports[0] == service.http_ports[0]
    assert ("route", f"pool {pool}", "done") in steps
    assert on.fake.pool_service_current(grown)


def test_moving_out_of_a_pool_copies_the_filestore_from_the_pools_storage(on_fake: Make) -> None:
    tenant, pool = unique("v"), unique("s")
    on = on_fake({tenant: {"environments": {"prod": {"placement": {"shared": pool}}}}},
                 pools={pool: {"processes": 1, "workers": 0}})
    target = f"{tenant}/prod"
    found, _ = observe.observe(on.ctx)
    desired = on.ctx.valid.pool(pool)
    assert desired is not None
    with on.operation() as op:
        pools.ensure_pool(on.ctx, op, desired, found.pools.get(pool))
    converge(on, target)
    database = on.env(target).database
    on.fake.fake_storage.put(FilestoreRef(f"pool-{pool}", database), "ab/ab01", b"an attachment")

    on.rewrite(lambda data: data["tenants"][tenant]["environments"]["prod"].pop("placement"))
    env = on.env(target)
    obs = on.observed(target)
    assert [c.action for c in planner.env_changes(env, obs) if c.action == "move"] == ["move"]
    with on.operation("move") as op:
        moves.move_env(on.ctx, op, env, obs)

    dedicated = FilestoreRef(f"env-{env.ref.slug}", database)
    assert on.fake.fake_storage.copies == [(FilestoreRef(f"pool-{pool}", database), dedicated)]
    assert on.fake.fake_storage.files(dedicated) == {"ab/ab01": b"an attachment"}
    assert not on.fake.storage.exists(FilestoreRef(f"pool-{pool}", database))
    route = on.fake.route_table[env.ref.slug]
    assert route.pool is None and route.http_port == on.fake.configured[program_name(env.ref.slug)].http_port
    assert on.fake.workloads()[program_name(env.ref.slug)].running
    assert on.observed(target).owner == env.role


def test_what_runs_for_no_environment_is_found_and_removed(on_fake: Make) -> None:
    on, env = provisioned(on_fake)
    art = artifacts(on.ctx, env, create=False)
    assert art is not None and art.process is not None
    stray = dataclasses.replace(art.process.workload, name="odoo-gone__prod", target="gone/prod")
    on.fake.ensure_workload(stray)
    on.fake.ensure_route(dataclasses.replace(art.route, name="gone__prod", hostnames=("gone-prod.localhost",)))

    found, _ = observe.observe(on.ctx)
    orphans = {(o.kind, o.name) for o in found.orphans}
    assert {("process", "odoo-gone__prod"), ("route", "gone__prod")} <= orphans
    assert ("process", art.process.name) not in orphans and ("route", art.route.name) not in orphans
    with on.operation() as op:
        for orphan in found.orphans:
            provision.remove_orphan(on.ctx, op, orphan, prune=False)

    assert set(on.fake.workloads()) == {art.process.name}
    assert set(on.fake.routes({})) == {art.route.name}
    assert observe.observe(on.ctx)[0].orphans == []


def test_plan_takes_health_from_the_last_sweep_and_probes_only_what_it_lacks(on_fake: Make) -> None:
    import datetime as dt

    from odooplane.store import probes

    a, b = unique("h"), unique("i")
    on = on_fake({a: {"environments": {"prod": {}}}, b: {"environments": {"prod": {}}}})
    converge(on, f"{a}/prod")
    converge(on, f"{b}/prod")
    now = dt.datetime.now(dt.UTC)
    failing = [{"name": "http", "status": "critical", "value": 502, "detail": "/web/health via edge: 502"}]
    probes.record(on.ctx.store, now, [(f"{a}/prod", "critical", failing)])

    found, _ = observe.observe(on.ctx, health="recorded")
    seen_a, seen_b = found.envs[on.env(f"{a}/prod").ref], found.envs[on.env(f"{b}/prod").ref]
    assert seen_a.health is not None and not seen_a.health.ok and seen_a.health.status == 502
    assert seen_a.health_at == now, "the sweep's result, with its time"
    assert seen_b.health is not None and seen_b.health.ok and seen_b.health_at is None, "no sweep result: probed now"
    restarts = [c for c in planner.plan(on.ctx.valid, found).changes if c.action == "restart"]
    assert [c.target for c in restarts] == [f"{a}/prod"]

    # A result older than the process (taken before it restarted) is not its health: probed now.
    before = dt.datetime.fromtimestamp(min(p.started_at for p in on.fake.processes().values()) - 60, dt.UTC)
    probes.record(on.ctx.store, before, [(f"{a}/prod", "critical", failing)])
    found, _ = observe.observe(on.ctx, health="recorded")
    seen_a = found.envs[on.env(f"{a}/prod").ref]
    assert seen_a.health is not None and seen_a.health.ok and seen_a.health_at is None
    assert probes.latest(on.ctx.store)[f"{a}/prod"].ts == before, "the last recorded result per target"


def test_two_sweepers_each_probe_their_share_and_together_the_whole_fleet(on_fake: Make) -> None:
    from odooplane.actions import health
    from odooplane.store import sweepers

    tenants: list[str] = []
    while min(sum(sweepers.Share(i, 2).mine(f"{t}/prod") for t in tenants) for i in (0, 1)) < 2:
        tenants.append(unique("sw"))  # names whose CRC-32 gives each share at least two
    on = on_fake({t: {"environments": {"prod": {}}} for t in tenants})
    swept = [{e.target for e in health.sweep_and_record(on.ctx, observer=f"test-{i}",
                                                        share=sweepers.Share(i, 2)).environments}
             for i in (0, 1)]
    assert not swept[0] & swept[1] and swept[0] | swept[1] == {f"{t}/prod" for t in tenants}, swept
    assert min(len(swept[0]), len(swept[1])) >= 2
