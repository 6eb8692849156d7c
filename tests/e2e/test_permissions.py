"""The data directory holds production data (dumps, filestores, caught mail, logs) and the key to
the stored secrets: after real use, nothing in it is readable, writable or enterable by anyone
but its owner — including a verification's sandbox caught while it exists."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tests.support.crash import kill_at
from tests.support.estate import make_estate, unique

pytestmark = pytest.mark.e2e


def shared_with_others(root: Path) -> list[str]:
    """Every file or directory under ``root`` (itself included) with a group or other bit."""
    found = []
    for directory, dirs, files in os.walk(root):
        for name in [".", *dirs, *files]:
            path = Path(directory) / name if name != "." else Path(directory)
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode):
                continue
            if info.st_mode & 0o077:
                found.append(f"{oct(info.st_mode & 0o777)} {path.relative_to(root.parent)}")
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _user_of(pid: int) -> str:
    import pwd

    uid = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
               if line.startswith("Uid:"))
    return pwd.getpwuid(uid).pw_name


def test_everything_in_the_data_dir_is_owner_only(tmp_path: Path) -> None:
    tenant, pool = unique("o"), unique("s")
    estate = make_estate(tmp_path, {tenant: {"environments": {
        "prod": {}, "staging": {"placement": {"shared": pool}}}}})
    estate.data["pools"] = {pool: {"processes": 1, "workers": 0}}
    estate.data["stacks"]["odoo"]["templates"] = [[]]
    estate.data["backups"]["policies"]["standard"]["verify"] = "never"
    estate.write()
    try:
        estate.cli("apply", str(estate.path), "-q")
        estate.cli("backup", "run", f"{tenant}/prod", "-f", str(estate.path))
        estate.cli("clone", f"{tenant}/prod", f"{tenant}/staging", "-f", str(estate.path), "--yes")
        estate.cli("export", f"{tenant}/prod", str(tmp_path / "prod.zip"), "-f", str(estate.path))
        # A verification's sandbox holds a full dump of production: caught while Odoo boots on it.
        kill_at(estate, "verify:booting#1", "verify", f"{tenant}/prod", "-f", str(estate.path))
        sandboxes = list((estate.data_dir / "backups" / "sandboxes").iterdir())
        assert sandboxes and any(p.name == "restore" for p in sandboxes[0].iterdir()), sandboxes
        assert shared_with_others(estate.data_dir) == []
        assert shared_with_others(estate.runtime_dir) == []
        if os.geteuid() == 0:
            # Odoo never runs as root: every Odoo process (dedicated, pool, the sandbox) is its service user's.
            pids = [r["pid"] for r in estate.status()["environments"] if r["pid"]]
            sandbox_odoo = [int(e.name) for e in Path("/proc").iterdir() if e.name.isdigit()
                            and str(estate.runtime_dir / "sandboxes") in _cmdline(int(e.name))]
            assert pids and sandbox_odoo, (pids, sandbox_odoo)
            assert {_user_of(pid) for pid in [*pids, *sandbox_odoo]} == {"odooplane-odoo"}
        assert stat.S_IMODE((tmp_path / "prod.zip").stat().st_mode) == 0o600
        estate.cli("apply", str(estate.path), "-q")  # removes the killed verification's sandbox
        assert list((estate.data_dir / "backups" / "sandboxes").iterdir()) == []
    finally:
        estate.cli("down", "-f", str(estate.path), "--purge", "--yes", check=False)


def test_an_older_world_readable_data_dir_is_closed_on_next_use(tmp_path: Path) -> None:
    estate = make_estate(tmp_path, {})
    estate.data_dir.mkdir(mode=0o755)
    estate.data_dir.chmod(0o755)
    estate.cli("plan", str(estate.path))
    assert stat.S_IMODE(estate.data_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((estate.data_dir / "state.db").stat().st_mode) == 0o600
