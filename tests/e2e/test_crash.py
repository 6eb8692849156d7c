"""kill -9 of the CLI at every step of apply, then apply again: it converges, with no orphan
database, role, process, route or directory, and no stray Odoo process left running."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from tests.support.crash import command_lines
from tests.support.estate import TestEstate, make_estate, owned_objects, unique

pytestmark = pytest.mark.e2e


def reference_steps(estate: TestEstate) -> list[tuple[str, str]]:
    result = json.loads(estate.cli("apply", str(estate.path), "--json").stdout)
    assert result["ok"], result
    return [(s["name"], s["target"]) for s in result["steps"] if s["status"] == "done"]


def stray_odoo_processes(data_dir: Path, supervised: set[int]) -> list[str]:
    """Processes running an odoo.conf of this estate that supervisord does not know about."""
    return [f"{pid}: {cmdline}" for pid, cmdline in command_lines().items()
            if str(data_dir) in cmdline and "odoo.conf" in cmdline and pid not in supervised]


def assert_converged(estate: TestEstate, expected_envs: set[str]) -> None:
    status = estate.status()
    assert status["healthy"], [(r["target"], r["state"], r["health"], r["route"]) for r in status["environments"]]
    assert {r["target"] for r in status["environments"]} == expected_envs
    assert status["orphans"] == []
    dbs, roles = owned_objects(estate.estate_id(), estate.cluster_url())
    expected_dbs = {t.replace("/", "_") for t in expected_envs}
    assert dbs == expected_dbs and roles == expected_dbs
    programs = {p.stem for p in (estate.data_dir / "supervisor" / "programs").glob("*.conf")}
    assert programs == {"edge", "worker"} | {"odoo-" + t.replace("/", "__") for t in expected_envs} | (
        {p for p in programs if p.startswith("pg-")})
    routes = {p.name for p in (estate.data_dir / "edge" / "dynamic").glob("env-*.yaml")}
    assert routes == {"env-" + t.replace("/", "__") + ".yaml" for t in expected_envs}
    dirs = {p.name for p in (estate.runtime_dir / "envs").iterdir()}
    assert dirs == {t.replace("/", "__") for t in expected_envs}
    # Supervised: started by this estate's supervisord (status may not know a pid yet: an Odoo
    # restarted by the last apply answers before supervisord calls it RUNNING).
    daemon = int((estate.data_dir / "supervisor" / "supervisord.pid").read_text().split()[0])
    supervised = {r["pid"] for r in status["environments"] if r["pid"]}

    def top_level_strays() -> list[str]:
        # Odoo's own children (prefork workers) share the process group; only count top-level strays.
        strays = stray_odoo_processes(estate.runtime_dir, supervised)
        parents = {int(s.split(":")[0]) for s in strays}
        return [f"{s} (parent {_parent(int(s.split(':')[0]))}: {_cmdline(_parent(int(s.split(':')[0])))})"
                for s in strays if _parent(int(s.split(":")[0])) not in supervised | parents | {daemon}]

    # A process the previous round's supervisord was stopping may still be on its way out.
    deadline = time.monotonic() + 15
    while (left := top_level_strays()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left, (left, supervised)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:200]
    except OSError:
        return "?"


def _parent(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    return int(stat.rsplit(")", 1)[1].split()[1])


@pytest.mark.parametrize("cluster", ["external", "managed"])
def test_kill_at_every_step_then_apply_converges(tmp_path: Path, cluster: str) -> None:
    t = unique("k")
    estate = make_estate(tmp_path, {t: {"environments": {"prod": {}}}}, cluster=cluster)
    expected = {f"{t}/prod"}
    steps = reference_steps(estate)
    assert [s for s, _ in steps][:1] == ["supervisor"] and "init" in [s for s, _ in steps]
    if cluster == "managed":
        # The environment steps are covered with the external cluster; here the cluster's own.
        steps = [(s, tg) for s, tg in steps if s.startswith("cluster-") or s in ("supervisor", "edge")]
    try:
        # "after" kills between a step's action and its done record — every state boundary;
        # "before" of the first step covers an apply killed before it changed anything.
        scenarios = [(steps[0][0], steps[0][1], "before")] + [(s, tg, "after") for s, tg in steps]
        for step, target, phase in scenarios:
            estate.cli("down", "-f", str(estate.path), "--purge", "--yes")
            killed = estate.cli("apply", str(estate.path), "-q", check=False,
                                extra_env={"ODOOPLANE_TEST_KILL_AT": f"{step}:{target}:{phase}"})
            assert killed.returncode == -signal.SIGKILL, (step, phase, killed.stderr)
            again = estate.cli("apply", str(estate.path), "-q", check=False)
            assert again.returncode == 0, f"after kill at {step} ({target}, {phase}): {again.stderr}"
            try:
                assert_converged(estate, expected)
            except AssertionError as exc:
                raise AssertionError(f"after kill at {step} ({target}, {phase}): {exc}") from exc
        url = estate.cluster_url()
    finally:
        estate.cli("down", "-f", str(estate.path), "--purge", "--yes", check=False)
    if cluster == "external":
        assert owned_objects(estate.estate_id(), url) == (set(), set())
    else:
        from odooplane.drivers.local.managed_pg import cluster_dir

        where = cluster_dir(estate.data_dir, estate_id=estate.estate_id(), name="main")
        assert not where.exists(), f"the managed cluster must be gone: {where}"
