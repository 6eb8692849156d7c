"""Deep probes are budgeted: small fleets get them all every sweep; large ones rotate so that every
environment is covered within ceil(n / budget) sweeps, and the rotation survives a restart."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from odooplane.operations.health import _SweepMemory


def memory(root: Path) -> _SweepMemory:
    return _SweepMemory(SimpleNamespace(layout=SimpleNamespace(root=root)), "cli")  # type: ignore[arg-type]


def test_small_fleet_is_probed_in_depth_every_sweep(tmp_path: Path) -> None:
    targets = [f"t{i}/prod" for i in range(5)]
    assert memory(tmp_path).deep_slice(targets, 10) == set(targets)


def test_large_fleet_rotates_and_covers_everyone(tmp_path: Path) -> None:
    targets = [f"t{i:03d}/prod" for i in range(25)]
    seen: list[set[str]] = []
    for _ in range(3):
        m = memory(tmp_path)  # a new process each sweep: the cursor is persisted
        chosen = m.deep_slice(targets, 10)
        m.save()
        assert len(chosen) == 10
        seen.append(chosen)
    assert set().union(*seen) == set(targets)
    assert not seen[0] & seen[1]


def test_slow_signals_are_read_for_a_rotating_share_and_carried_with_their_age(tmp_path: Path) -> None:
    import datetime as dt

    from odooplane.services.probes import OdooActivity

    targets = [f"t{i:02d}/prod" for i in range(10)]
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    m = memory(tmp_path)
    assert m.carried_activity(targets, every=5) == {}, "nothing read yet: everything is read now"
    last = {t: (i, start) for i, t in enumerate(targets)}  # target -> (value, when read)
    m.keep_activity({t: OdooActivity(cron_overdue=i) for t, (i, _) in last.items()}, start)
    m.save()
    read_per_sweep: list[set[str]] = []
    for sweep in range(1, 6):
        m = memory(tmp_path)  # a new process each sweep: the rotation and the values are persisted
        carried = m.carried_activity(targets, every=5)
        due = set(targets) - set(carried)
        assert len(due) == 2, "a fifth of the fleet is read each sweep"
        read_per_sweep.append(due)
        for target, activity in carried.items():
            assert (activity.cron_overdue, activity.sampled_at) == last[target], "the last value, with its time"
        at = start + dt.timedelta(minutes=sweep)
        m.keep_activity({t: OdooActivity(cron_overdue=100 + sweep) for t in due}, at)
        last.update({t: (100 + sweep, at) for t in due})
        m.save()
    assert set().union(*read_per_sweep) == set(targets), "everyone is read within 5 sweeps"
    assert memory(tmp_path).carried_activity(targets, every=1) == {}, "a sweep asked for by a person reads all"


def _judged(results: list[tuple[str, object]]) -> list[object]:
    from odooplane.operations.health import EnvHealth, _judge_http

    health = EnvHealth("t/prod", "t", "prod", "production", "dedicated", "", "", "production")
    env = SimpleNamespace(stage="production", labels=SimpleNamespace(tier="production"))
    _judge_http(health, env, results)  # type: ignore[arg-type]
    return health.checks


def test_a_failing_edge_is_told_from_a_failing_process_by_asking_the_process() -> None:
    from odooplane.services.probes import HttpResult

    edge_down = ("health_edge", HttpResult(502, 3.0, None))
    [proxy] = _judged([edge_down, ("health_direct", HttpResult(200, 2.0, None))])
    [odoo] = _judged([edge_down, ("health_direct", HttpResult(None, None, "ConnectionRefusedError"))])
    assert proxy.status == odoo.status == "critical"  # type: ignore[attr-defined]
    assert "the process answers directly" in proxy.detail  # type: ignore[attr-defined]
    assert "does not answer either (ConnectionRefusedError)" in odoo.detail  # type: ignore[attr-defined]


def test_the_workers_login_probes_follow_the_slow_signals_rotation(tmp_path: Path) -> None:
    """At 1,000 environments the worker asks 200 login pages per sweep (a fifth), a person's sweep 200
    too (the budget); at 20 the worker asks 4 and a person all 20."""
    from odooplane.operations.health import DEEP_BUDGET, SLOW_EVERY, deep_budget_for

    assert deep_budget_for(1000, every=SLOW_EVERY) == 200 == deep_budget_for(1000, every=1) == DEEP_BUDGET
    assert deep_budget_for(20, every=SLOW_EVERY) == 4 and deep_budget_for(20, every=1) == 20
    assert deep_budget_for(3, every=SLOW_EVERY) == 1
