"""Which estate a command acts on: read commands may fall back on the estate last applied (one
pointer per OS user, shared by all its estates); commands that drop or replace data never do, and
name the estate — path and platform name — before they act."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from odooplane.actions import estate_file
from odooplane.errors import UsageError


def write_estate(directory: Path, name: str) -> Path:
    directory.mkdir(parents=True)
    path = directory / "estate.yaml"
    path.write_text(yaml.safe_dump({
        "platform": {"name": name, "data_dir": "data", "default_stack": "odoo", "default_cluster": "main"},
        "clusters": {"main": {"kind": "external", "url": "postgresql://postgres@127.0.0.1:1/postgres"}},
        "stacks": {"odoo": {"series": "18.0", "simulator": True}},
        "tenants": {"acme": {"environments": {"prod": {}, "staging": {}}}},
    }))
    return path


@pytest.fixture
def remembered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Another estate of this OS user, applied last (so remembered); the commands run elsewhere."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv(estate_file.ESTATE_ENV, raising=False)
    other = write_estate(tmp_path / "other", "other-estate")
    estate_file.remember(other)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    return other


def cli(*args: str, cwd: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != estate_file.ESTATE_ENV}
    return subprocess.run([sys.executable, "-m", "odooplane", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, input=stdin, timeout=60, check=False)


def test_read_commands_fall_back_on_the_estate_last_applied(remembered: Path) -> None:
    assert estate_file.locate(None) == remembered


def test_locate_for_a_destructive_command_never_returns_the_estate_last_applied(remembered: Path) -> None:
    with pytest.raises(UsageError, match=r"`down --purge` drops or replaces data, so it needs the estate named"):
        estate_file.locate(None, destructive="down --purge")
    local = write_estate(Path.cwd() / "here", "here")
    assert estate_file.locate(local, destructive="down --purge") == local


DESTRUCTIVE = [
    ("down", "--purge", "--yes"),
    ("down",),
    ("restore", "acme/prod", "--yes"),
    ("import", "acme/prod", "--from", "IN.zip", "--yes"),
    ("clone", "acme/prod", "acme/staging", "--yes"),
    ("move", "acme/staging", "--to", "dedicated"),
    ("pitr", "restore-cluster", "main", "--to", "dr"),
    ("apply", "--prune"),
    ("backup", "prune"),
]


@pytest.mark.parametrize("argv", DESTRUCTIVE, ids=lambda a: " ".join(a[:2]))
def test_destructive_commands_refuse_the_estate_last_applied_and_touch_nothing(
        remembered: Path, argv: tuple[str, ...]) -> None:
    cwd = Path.cwd()
    (cwd / "IN.zip").write_bytes(b"PK\x05\x06" + b"\0" * 18)
    proc = cli(*argv, cwd=cwd)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "drops or replaces data, so it needs the estate named" in proc.stderr
    assert str(remembered) in " ".join(proc.stderr.split())  # says which estate it did not take
    assert not (remembered.parent / "data").exists(), "nothing of the remembered estate was opened"


def test_purge_prompt_names_the_estate_by_path_and_platform_name(tmp_path: Path) -> None:
    path = write_estate(tmp_path / "mine", "acme-erp")
    proc = cli("down", "--purge", "-f", str(path), cwd=tmp_path, stdin="n\n")
    assert proc.returncode == 1
    assert f"estate 'acme-erp' ({path.resolve()})" in " ".join(proc.stdout.split())
    assert not (path.parent / "data").exists(), "declined: nothing happened"


@pytest.mark.parametrize("argv", [("restore", "acme/prod"), ("clone", "acme/prod", "acme/staging")],
                         ids=lambda a: a[0])
def test_replace_prompts_name_the_estate_by_path_and_platform_name(tmp_path: Path, argv: tuple[str, ...]) -> None:
    path = write_estate(tmp_path / "mine", "acme-erp")
    proc = cli(*argv, "-f", str(path), cwd=tmp_path, stdin="n\n")
    assert proc.returncode == 1
    assert f"estate 'acme-erp' ({path.resolve()})" in " ".join(proc.stdout.split())
    assert not (path.parent / "data").exists()
