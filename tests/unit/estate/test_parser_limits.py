"""Hostile YAML gives one problem line in bounded time and memory: alias bombs, recursive
aliases, deep nesting, endless files, durations too big for a timedelta. Each runs the real
command in a child process capped at 1 GiB of address space and 60 s, so a regression fails
the test instead of taking the machine down."""

from __future__ import annotations

import resource
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from odooplane.estate import durations, validate
from tests.unit.estate.support import HEADER as HEAD

MEMORY_CAP = 1 << 30


def _cap() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def validate_cli(path: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, "-m", "odooplane", "validate", str(path)], capture_output=True,
                              text=True, timeout=60, preexec_fn=_cap, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail(f"validate {path.name} ran for more than 60 s")
    return proc, time.monotonic() - started


def problem_lines(proc: subprocess.CompletedProcess[str]) -> list[str]:
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and "Error:" not in proc.stderr, proc.stderr[-2000:]
    return [line.strip() for line in proc.stderr.splitlines()[1:] if line.strip()]


def billion_laughs() -> str:
    """731 bytes whose aliases expand to 9^9 (387 million) strings."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\ntenants: {x: {environments: {prod: {labels: *i}}}}\n"


def test_an_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    path = tmp_path / "estate.yaml"
    path.write_text(billion_laughs())
    assert len(path.read_bytes()) < 800
    proc, elapsed = validate_cli(path)
    assert problem_lines(proc) == [f"{path}:1: aliases and merge keys add more than 100000 values to the estate "
                                   "(write the values out instead)"]
    assert elapsed < 30


@pytest.mark.parametrize(("text", "line"), [
    ("tenants: &t {acme: {environments: *t}}\n", 1),
    ("x: &a [1, *a]\n", 1),
    ("tenants:\n  acme: &e {environments: {prod: {<<: *e}}}\n", 2),
])
def test_a_recursive_alias_is_one_problem(tmp_path: Path, text: str, line: int) -> None:
    path = tmp_path / "estate.yaml"
    path.write_text(text)
    proc, _ = validate_cli(path)
    assert problem_lines(proc) == [f"{path}:{line}: an alias refers to a value that contains it (a recursive alias)"]


@pytest.mark.parametrize("text", ["tenants: " + "[" * 50000 + "]" * 50000 + "\n",
                                  "".join(" " * i + "k:\n" for i in range(1000)),
                                  "tenants: " + "{a: " * 5000 + "1" + "}" * 5000 + "\n"])
def test_deep_nesting_is_one_problem(tmp_path: Path, text: str) -> None:
    path = tmp_path / "estate.yaml"
    path.write_text(text)
    proc, _ = validate_cli(path)
    found = problem_lines(proc)
    assert len(found) == 1 and found[0].endswith("nested more than 64 levels deep"), found


def test_an_endless_file_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "estate.yaml"
    path.write_text(textwrap.dedent(HEAD).replace("default_cluster: main}",
                                                  "default_cluster: main, includes: {roots: [/dev]}}")
                    + "include: [/dev/zero]\n")
    proc, _ = validate_cli(path)
    assert problem_lines(proc) == ["/dev/zero: is not a regular file (a device, FIFO or socket)"]


def test_the_estate_file_itself_must_be_a_regular_file() -> None:
    proc, _ = validate_cli(Path("/dev/zero"))
    assert problem_lines(proc) == ["/dev/zero: is not a regular file (a device, FIFO or socket)"]


def test_merge_keys_and_aliases_within_the_budget_work(tmp_path: Path) -> None:
    path = tmp_path / "estate.yaml"
    path.write_text(textwrap.dedent(HEAD) + textwrap.dedent("""
        tenants:
          acme:
            environments:
              prod: &base {workers: 2, modules: [sale], limits: {time_cpu_s: 90}}
              staging: {<<: *base, workers: 0}
          beta:
            environments:
              prod: *base
        """))
    envs = {str(e.ref): e for e in validate.validate(path).environments}
    assert (envs["acme/prod"].workers, envs["acme/staging"].workers, envs["beta/prod"].workers) == (2, 0, 2)
    assert envs["acme/staging"].modules == ("sale",) and envs["acme/staging"].limits.time_cpu_s == 90


@pytest.mark.parametrize("value", ["99999999999999999999999w", "3661d", "9" * 5000 + "s", "1" + "0" * 30 + "h"])
def test_a_duration_too_long_is_a_problem_not_an_overflow(tmp_path: Path, value: str) -> None:
    path = tmp_path / "estate.yaml"
    path.write_text(textwrap.dedent(HEAD) + "tenants:\n  acme:\n    environments:\n      prod:\n"
                    f"        objectives: {{rpo: {value}, rto: 1h}}\n"
                    f"monitoring: {{thresholds: {{cron_lag: {value}}}}}\n")
    valid, found = validate.check(path)
    texts = [str(p) for p in found]
    assert valid is None and len(texts) == 2, texts
    assert all("is longer than the longest duration accepted (3660d)" in p for p in texts), texts
    assert any("tenants.acme.environments.prod.objectives.rpo:" in p for p in texts)
    assert any("monitoring.thresholds.cron_lag:" in p for p in texts)
    with pytest.raises(ValueError, match="longer than"):
        durations.parse(value)


def test_durations_up_to_the_limit_still_parse() -> None:
    assert durations.parse("3660d").days == 3660
    assert durations.parse("1h30m").total_seconds() == 5400
    assert durations.parse("0" * 5000 + "15m").total_seconds() == 900
