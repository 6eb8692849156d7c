"""Point-in-time recovery in containers: the managed cluster archives its WAL with pgBackRest in its
own container (the repository in its ``pg-<name>.pitr`` volume); a tenant restored to a time has
exactly what was committed then (through a scratch copy that is gone afterwards, also when a
restore was killed while it ran); the whole cluster
restores into a new one that the next apply runs; down --purge leaves none of it."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from tests.e2e.compose.test_compose_driver import compose_estate, edge_get, failures, volumes
from tests.e2e.test_backups import archived_now, commit_a_then_b
from tests.support.docker_engine import DockerEngine
from tests.support.estate import unique

pytestmark = [pytest.mark.e2e, pytest.mark.docker]


def names(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM res_partner WHERE name IN ('A', 'B')")}


def test_point_in_time_recovery_in_containers(tmp_path: Path, engine: DockerEngine, base_image: str) -> None:
    t = unique("p")
    estate = compose_estate(tmp_path, engine, base_image, {t: {"environments": {"prod": {"backup": False}}}})
    estate.data["clusters"]["main"]["pitr"] = {"archive_timeout_s": 10}
    estate.write()
    project = estate.data["platform"]["compose"]["project"]
    f = ["-f", str(estate.path)]
    try:
        applied = estate.cli("apply", str(estate.path), "--json", check=False, timeout=1500)
        assert applied.returncode == 0, (failures(applied.stdout), applied.stderr[-4000:])
        info = json.loads(estate.cli("pitr", "info", "main", *f, "--json").stdout)
        assert info["backups"] and info["backups"][0]["type"] == "full"
        assert f"{project}_pg-main.pitr" in volumes(engine, project)
        # The repository is in the cluster's volume, not on this host.
        (cluster,) = engine.docker("ps", "--quiet", "--filter", f"label=com.docker.compose.project={project}",
                                   "--filter", "label=com.docker.compose.service=pg-main").stdout.split()
        listing = engine.docker("exec", "--user", "postgres", cluster, "ls", "/var/lib/pgbackrest/repo")
        assert {"archive", "backup"} <= set(listing.stdout.split())

        url = estate.cluster_url().rsplit("/", 1)[0]
        point = commit_a_then_b(estate, f"{url}/{t}_prod", timeout=90)

        scratch_filter = ("--filter", f"label=odooplane.pitr-scratch={project}")
        killed = estate.cli("restore", f"{t}/prod", "--pitr", "--at", point.isoformat(), "--yes", *f, check=False,
                            extra_env={"ODOOPLANE_TEST_KILL_POINT": "pitr:scratch-running"}, timeout=900)
        assert killed.returncode == -9, killed.stderr[-2000:]
        assert engine.docker("ps", "--quiet", *scratch_filter).stdout.strip(), "no scratch copy was running"
        # The next restore removes what the killed one left (its registered scratch copy), then restores.
        restored = json.loads(estate.cli("restore", f"{t}/prod", "--pitr", "--at", point.isoformat(), "--yes", *f,
                                         "--json", timeout=900).stdout)
        assert restored["checks"]["pitr"]["requested"].startswith(point.isoformat()[:19])
        assert names(f"{url}/{t}_prod") == {"A"}
        assert edge_get(estate, f"{t}-prod.localhost").status_code == 200
        scratch = engine.docker("ps", "--all", "--quiet", *scratch_filter)
        assert scratch.stdout.strip() == "", "a scratch copy outlived the restores"
        assert not [v for v in volumes(engine, project) if "-pitr-" in v]

        archived_now(estate, f"{url}/{t}_prod", timeout=90)  # the restore's swap too
        estate.data["clusters"]["copy"] = {"kind": "managed"}
        estate.write()
        estate.cli("pitr", "restore-cluster", "main", "--to", "copy", *f, timeout=900)
        assert f"{project}_pg-copy.data" in volumes(engine, project)
        applied = estate.cli("apply", str(estate.path), "--json", check=False, timeout=900)
        assert applied.returncode == 0, (failures(applied.stdout), applied.stderr[-4000:])
        # The restored cluster holds the source's newest restorable state: the tenant restored to A.
        assert names(estate.cluster_url("copy").rsplit("/", 1)[0] + f"/{t}_prod") == {"A"}
    finally:
        estate.cli("down", *f, "--purge", "--yes", check=False, timeout=600)
    assert volumes(engine, project) == []
    left = engine.docker("ps", "--all", "--quiet", "--filter", f"label=odooplane.pitr-scratch={project}")
    assert left.stdout.strip() == ""
