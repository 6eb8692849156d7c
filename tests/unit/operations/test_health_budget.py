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
