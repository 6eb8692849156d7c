"""kill -9 *inside* steps — between two statements of a step (``odooplane.faults`` points) and
between a step's action and its done record — for apply, move, restore, clone and backup; then the
re-run converges with no temporary database, sandbox, staged filestore or sandbox process left,
no stuck environment, no lost data and no unconfirmed success."""

from __future__ import annotations

import itertools
import json
import uuid
from pathlib import Path

import psycopg
import pytest

from tests.support.crash import assert_nothing_left, kill_at, trace
from tests.support.estate import TestEstate, make_estate, owned_objects, unique

pytestmark = pytest.mark.e2e


def env_url(estate: TestEstate, database: str) -> str:
    return estate.cluster_url().rsplit("/", 1)[0] + f"/{database}"


def plant(estate: TestEstate, database: str, name: str) -> None:
    with psycopg.connect(env_url(estate, database), autocommit=True) as conn:
        conn.execute("INSERT INTO res_partner (name, active) VALUES (%s, true)", (name,))


def count(estate: TestEstate, database: str, name: str) -> int:
    with psycopg.connect(env_url(estate, database), autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM res_partner WHERE name = %s", (name,)).fetchone()
    assert row is not None
    return int(row[0])


def databases(estate: TestEstate) -> set[str]:
    with psycopg.connect(estate.cluster_url(), autocommit=True) as conn:
        return {str(r[0]) for r in conn.execute("SELECT datname FROM pg_database").fetchall()}


def plan_is_empty(estate: TestEstate) -> bool:
    return bool(json.loads(estate.cli("plan", str(estate.path), "--json").stdout)["empty"])


def test_apply_killed_between_statements_converges(tmp_path: Path) -> None:
    pool = unique("s")
    estate = make_estate(tmp_path, {})
    estate.data["stacks"]["odoo"]["templates"] = [[]]
    estate.data["pools"] = {pool: {"processes": 1, "workers": 0}}
    estate.data["tenants"] = {unique("a"): {"environments": {"prod": {"placement": {"shared": pool}}}}}
    estate.write()
    apply = ("apply", str(estate.path), "-q", "--parallel", "1")
    try:
        estate.cli(*apply)

        def add_tenants() -> tuple[str, str]:
            dedicated, pooled = unique("d"), unique("p")
            estate.data["tenants"][dedicated] = {"environments": {"prod": {}}}
            estate.data["tenants"][pooled] = {"environments": {"prod": {"placement": {"shared": pool}}}}
            estate.write()
            return dedicated, pooled

        add_tenants()
        traced = trace(estate, *apply)
        # Inside the creation of a database (dedicated: #1, the pooled copy of a template: #2) and
        # between the template copy and the identity it gets.
        points = ["create-database:created#1", "create-database:marked#1", "create-database:ready#1",
                  "create-database:renamed#1", "create-database:created#2", "create-database:renamed#2",
                  "from-template:copied#1"]
        assert set(points) <= set(traced), traced
        for point in points:
            dedicated, pooled = add_tenants()
            kill_at(estate, point, *apply)
            estate.cli(*apply)
            estate.wait_serving(point)
            expected = {f"{t}_prod" for t in estate.data["tenants"]}
            dbs, _roles = owned_objects(estate.estate_id(), estate.cluster_url())
            assert {d for d in dbs if not d.startswith("tpl-")} == expected, (point, dbs)
            for tenant in (dedicated, pooled):
                assert_nothing_left(estate, tenant, context=f"apply killed at {point}")
            assert plan_is_empty(estate), point
    finally:
        estate.cli("down", "-f", str(estate.path), "--purge", "--yes", check=False)


def test_move_killed_anywhere_resumes_and_keeps_the_data(tmp_path: Path) -> None:
    pool = unique("s")
    tenant = unique("m")
    estate = make_estate(tmp_path, {tenant: {"environments": {"prod": {"placement": {"shared": pool}}}}})
    estate.data["pools"] = {pool: {"processes": 1, "workers": 0}}
    estate.write()
    target, db = f"{tenant}/prod", f"{tenant}_prod"
    marker = uuid.uuid4().hex
    placements = {"dedicated": f"shared:{pool}", f"shared:{pool}": "dedicated"}
    try:
        estate.cli("apply", str(estate.path), "-q")
        plant(estate, db, marker)
        where = f"shared:{pool}"  # after the two traced moves

        def move(to: str) -> list[str]:
            return ["move", target, "--to", to, "-f", str(estate.path), "--json"]

        to_dedicated = trace(estate, *move("dedicated"))
        to_pool = trace(estate, *move(f"shared:{pool}"))
        assert {"move:original-renamed#1", "move:copied#1", "move:original-dropped#1", "step:copy#1",
                "step:switch-route#1"} <= set(to_dedicated), to_dedicated
        # Every point inside the move's steps one way; the other way, its own points and the step
        # boundaries around the copy and the switch (the shared steps are covered by the apply test).
        # Every point of the move itself one way, the database creation inside its copy and the
        # boundaries around the copy, the switch and the cleanup; the other way, the move's points.
        around = ("step:copy#", "step:switch-route#", "step:cleanup#", "create-database:created#",
                  "create-database:renamed#")
        to_pool = [p for p in to_pool if p.startswith("move:")]
        to_dedicated = [p for p in to_dedicated if p.startswith(("move:", *around))]
        # Alternate directions: each killed move is finished, then the next kill goes the other way.
        schedule: list[tuple[str, str]] = []
        for there, back in itertools.zip_longest(to_dedicated, to_pool):
            schedule += [("dedicated", there)] if there else []
            schedule += [(f"shared:{pool}", back)] if back else []
        for to, point in schedule:
            if to == where:
                estate.cli(*move(placements[to]))  # unpaired point: move back first (not killed)
                where = placements[to]
            kill_at(estate, point, *move(to))
            # The interrupted move is finished by running it again (never refused, never lost).
            again = estate.cli(*move(to), check=False)
            assert again.returncode == 0 or "already" in again.stderr, (point, again.stderr)
            where = to
            status = {r["target"]: r for r in estate.status()["environments"]}
            assert status[target]["placement"] == to, (point, status[target])
            assert status[target]["health"] == "ok", (point, status[target])
            assert count(estate, db, marker) == 1, f"data lost after a kill at {point}"
            assert_nothing_left(estate, tenant, context=f"move killed at {point}")
            assert plan_is_empty(estate), point
    finally:
        estate.cli("down", "-f", str(estate.path), "--purge", "--yes", check=False)


@pytest.fixture
def backed_up(tmp_path: Path) -> TestEstate:
    tenant = unique("r")
    estate = make_estate(tmp_path, {tenant: {"environments": {"prod": {}, "staging": {"backup": False}}}})
    # No verification by the worker meanwhile: its sandbox would be counted as something left.
    estate.data["backups"]["policies"]["standard"]["verify"] = "never"
    estate.write()
    estate.tenant = tenant  # type: ignore[attr-defined]
    estate.cli("apply", str(estate.path), "-q")
    plant(estate, f"{tenant}_prod", "in-the-backup")
    estate.cli("backup", "run", f"{tenant}/prod", "-f", str(estate.path), "--json")
    yield estate
    estate.cli("down", "-f", str(estate.path), "--purge", "--yes", check=False)


def test_restore_killed_anywhere_is_finished_or_undone(backed_up: TestEstate) -> None:
    estate = backed_up
    tenant = estate.tenant  # type: ignore[attr-defined]
    db = f"{tenant}_prod"
    restore = ("restore", f"{tenant}/prod", "-f", str(estate.path), "--yes", "--json")
    points = trace(estate, *restore)
    inside = [p for p in points if not p.startswith("step:")]
    assert {"create-database:renamed#1", "swap:old-renamed#1", "swap:new-renamed#1", "swap:files-renamed#1",
            "restore:directory-created#1"} <= set(inside), points
    after_commit = set(inside[inside.index("swap:old-renamed#1"):])  # from there the swap is finished forward
    # The swap point by point (the creation of a database is covered by the apply test), the sandbox,
    # and one kill before the load.
    chosen = [p for p in inside if p.startswith(("swap:", "restore:"))] + ["step:pg_restore#1"]
    for point in chosen:
        plant(estate, db, "after-the-backup")
        kill_at(estate, point, *restore)
        # Whatever the kill point, the environment keeps one complete database: the old one (the swap
        # is undone before the database rename) or the restored one (finished after it).
        estate.cli("apply", str(estate.path), "-q")
        assert count(estate, db, "in-the-backup") == 1, point
        assert (count(estate, db, "after-the-backup") == 0) == (point in after_commit), point
        assert_nothing_left(estate, tenant, context=f"restore killed at {point}")
        estate.wait_serving(point)
    # Re-running the restore itself after a kill also works.
    kill_at(estate, "swap:files-moved-aside#1", *restore)
    estate.cli(*restore)
    assert count(estate, db, "after-the-backup") == 0
    assert_nothing_left(estate, tenant, context="restore re-run")


def test_clone_killed_anywhere_leaves_no_unneutralized_copy(backed_up: TestEstate) -> None:
    estate = backed_up
    tenant = estate.tenant  # type: ignore[attr-defined]
    clone = ("clone", f"{tenant}/prod", f"{tenant}/staging", "-f", str(estate.path), "--yes", "--json")
    points = trace(estate, *clone)
    # The clone's own points; the swap's are covered point by point by the restore test.
    chosen = ["clone:directory-created#1", "step:neutralize#1", "step:verify-neutralized#1",
              "swap:files-moved-aside#1"]
    assert set(chosen) <= set(points), points
    for point in chosen:
        kill_at(estate, point, *clone)
        # Staging holds what it had, the neutralized copy, or (mid-swap) nothing: never an un-neutralized copy.
        staging_db = f"{tenant}_staging"
        if staging_db in databases(estate) and count(estate, staging_db, "in-the-backup"):
            with psycopg.connect(env_url(estate, f"{tenant}_staging"), autocommit=True) as conn:
                flag = conn.execute("SELECT value FROM ir_config_parameter WHERE key = 'database.is_neutralized'"
                                    ).fetchone()
            assert flag is not None and flag[0].lower() == "true", (point, flag)
        estate.cli(*clone)
        assert count(estate, f"{tenant}_staging", "in-the-backup") == 1, point
        assert_nothing_left(estate, tenant, context=f"clone killed at {point}")


def test_backup_killed_anywhere_never_lists_or_restores_an_unconfirmed_snapshot(backed_up: TestEstate) -> None:
    estate = backed_up
    tenant = estate.tenant  # type: ignore[attr-defined]
    run = ("backup", "run", f"{tenant}/prod", "-f", str(estate.path), "--json")
    points = trace(estate, *run)
    confirmed = {b["snapshot"] for b in json.loads(estate.cli("backup", "list", "-f", str(estate.path),
                                                              "--json").stdout)}
    assert {"step:upload-local#1", "step:manifest#1"} <= set(points), points
    for point in ("step:manifest#1", "step:upload-local#1"):
        kill_at(estate, point, *run)
        shown = json.loads(estate.cli("backup", "list", "-f", str(estate.path), "--json").stdout)
        assert {b["snapshot"] for b in shown} == confirmed, point
        everything = json.loads(estate.cli("backup", "list", "--all", "-f", str(estate.path), "--json").stdout)
        unconfirmed = [b["snapshot"] for b in everything if not b["confirmed"]]
        if point.startswith("step:upload-local"):
            # restic wrote the snapshot, the manifest was never read back: listed only as unconfirmed
            assert len(unconfirmed) == 1, (point, everything)
            refused = estate.cli("restore", f"{tenant}/prod", "--snapshot", unconfirmed[0], "-f", str(estate.path),
                                 "--yes", check=False)
            assert refused.returncode == 2 and "never confirmed" in refused.stderr, refused.stderr
        made = json.loads(estate.cli(*run).stdout)
        confirmed.add(made["backups"][0]["snapshots"]["local"])
        # the re-run forgets the unconfirmed snapshot
        everything = json.loads(estate.cli("backup", "list", "--all", "-f", str(estate.path), "--json").stdout)
        assert all(b["confirmed"] for b in everything), (point, everything)
