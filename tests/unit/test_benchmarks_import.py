"""Every benchmark module imports (a renamed function they use is caught here, not when someone
next measures): the benchmarks are run by hand, outside the test suite."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

BENCHMARKS = sorted(p.stem for p in (Path(__file__).resolve().parents[2] / "benchmarks").glob("*.py")
                    if p.stem != "__init__")


def test_there_are_benchmarks() -> None:
    assert {"apply", "provision", "backup", "restore", "upgrade", "health", "compose"} <= set(BENCHMARKS)


@pytest.mark.parametrize("name", BENCHMARKS)
def test_benchmark_module_imports_with_what_it_uses(name: str) -> None:
    module = importlib.import_module(f"benchmarks.{name}")
    if name not in ("common", "backup_support"):
        assert callable(getattr(module, "main", None)), f"benchmarks/{name}.py has no main()"
