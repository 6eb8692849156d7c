"""Upgrade downtime of one dedicated environment (simulator) and the time to roll back a failed
upgrade. The raw floor, measured in the same run, is the ``-u`` run alone (what any upgrade must
pay): the downtime around it is stopping, snapshotting, starting and checking through the edge.

Prints one JSON object on its last line: {"upgrade_downtime_s", "rollback_s", "update_floor_s",
"ratio", "steps"}.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import yaml
from tests.support import services

from benchmarks.common import cli, emit, postgres, workdir

ROUNDS = int(os.environ.get("UPGRADE_ROUNDS", "3"))


def addon(root: Path, release: str, version: str) -> str:
    module = root / "addons" / release / "shop_custom"
    module.mkdir(parents=True, exist_ok=True)
    (module / "__manifest__.py").write_text(repr({"name": "shop_custom", "version": version, "depends": ["base"]}))
    (module / "__init__.py").write_text(f"# {release}\n")
    return f"addons/{release}"


def apply_json(path: Path, root: Path) -> dict[str, Any]:
    env = {**os.environ, "XDG_STATE_HOME": str(root / "xdg")}
    proc = subprocess.run([sys.executable, "-m", "odooplane", "apply", str(path), "--json"], cwd=root, env=env,
                          capture_output=True, text=True, check=False)
    return dict(json.loads(proc.stdout))


def main() -> None:
    downtimes, rollbacks, floors, steps = [], [], [], {}
    with postgres() as pg_url, workdir() as tmp:
        root = Path(tmp)
        root.chmod(0o755)  # the release's addons are read by Odoo's service user (as root)
        tag = uuid.uuid4().hex[:5]
        releases = {f"r{i}": {"stack": "sim", "addons": [addon(root, f"r{i}", f"1.{i}")]} for i in range(ROUNDS + 2)}
        data: dict[str, Any] = {
            "platform": {"name": f"up{tag}", "data_dir": "data", "default_stack": "sim", "default_cluster": "main",
                         "edge": {"http_port": services.free_port(), "api_port": services.free_port()},
                         "metrics_port": services.free_port(), "ports": {"start": 24000, "end": 24099}},
            "clusters": {"main": {"kind": "external", "url": pg_url}},
            "stacks": {"sim": {"series": "18.0", "simulator": True}},
            "releases": releases,
            "tenants": {f"u{tag}": {"environments": {"prod": {"release": "r0", "modules": ["shop_custom"],
                                                                "backup": False}}}},
        }
        path = root / "estate.yaml"
        env_data = data["tenants"][f"u{tag}"]["environments"]["prod"]
        path.write_text(yaml.safe_dump(data))
        try:
            cli("apply", str(path), "-q", cwd=root)
            for i in range(1, ROUNDS + 1):
                env_data["release"] = f"r{i}"
                path.write_text(yaml.safe_dump(data))
                (done,) = apply_json(path, root)["upgrades"]
                assert done["status"] == "upgraded", done
                downtimes.append(done["downtime_s"])
                floors.append(done["steps"]["update"])
                steps = done["steps"]
                print(f"upgrade to r{i}: downtime {done['downtime_s']:.2f} s (update {floors[-1]:.2f} s)", flush=True)
            env_data["release"] = f"r{ROUNDS + 1}"
            env_data["options"] = {"sim_fail_upgrade": "shop_custom"}
            path.write_text(yaml.safe_dump(data))
            (failed,) = apply_json(path, root)["upgrades"]
            assert failed["status"] == "rolled-back", failed
            rollbacks.append(failed["steps"]["rollback"])
            print(f"failed upgrade rolled back in {rollbacks[-1]:.2f} s (downtime {failed['downtime_s']:.2f} s)",
                  flush=True)
        finally:
            cli("down", "-f", str(path), "--purge", "--yes", cwd=root)
    median = sorted(downtimes)[len(downtimes) // 2]
    floor = sorted(floors)[len(floors) // 2]
    emit({"upgrade_downtime_s": round(median, 2), "rollback_s": round(rollbacks[0], 2),
          "update_floor_s": round(floor, 2), "ratio": round(median / floor, 1) if floor else None, "steps": steps})


if __name__ == "__main__":
    main()
