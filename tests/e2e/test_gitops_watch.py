"""The estate from git: gitops watch applies each new commit of a branch (recorded in the audit
log with its commit and author), keeps what runs when a commit is invalid or breaks a guardrail,
reports drift between commits and puts it back with --correct."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from tests.e2e.test_policy import database_exists
from tests.support.estate import TestEstate, make_estate, unique

pytestmark = pytest.mark.e2e


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True,
                          timeout=60).stdout.strip()


def commit(repo: Path, data: dict[str, Any], message: str, *, author: str = "ana@example.com") -> str:
    (repo / "estate.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    git(repo, "add", "estate.yaml")
    git(repo, "-c", f"user.email={author}", "-c", "user.name=Ana", "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def watch(estate: TestEstate, repo: Path, workdir: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    proc = estate.cli("gitops", "watch", str(repo), "--branch", "main", "--once", "--workdir", str(workdir),
                      "--json", *extra, check=False, timeout=600)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, (proc.returncode, proc.stdout, proc.stderr)
    return proc.returncode, json.loads(lines[-1])


def test_each_new_commit_is_applied_through_the_gates_and_drift_is_reported(tmp_path: Path) -> None:
    t, u = unique("w"), unique("w")
    # The estate as the repository holds it (its data directory beside it in the working copy).
    (tmp_path / "seed").mkdir()
    estate = make_estate(tmp_path / "seed", {t: {"environments": {"prod": {}}}})
    data = estate.data
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / ".gitignore").write_text("data/\n")
    git(repo, "add", ".gitignore")
    first = commit(repo, data, "first tenant")
    workdir = tmp_path / "work"
    checked_out = workdir / "estate.yaml"
    try:
        code, done = watch(estate, repo, workdir)
        assert code == 0 and done["outcome"] == "applied" and done["commit"] == first, done
        assert done["author"] == "ana@example.com" and done["subject"] == "first tenant"
        assert database_exists(f"{t}_prod")

        code, done = watch(estate, repo, workdir)
        assert code == 0 and done["outcome"] == "unchanged"  # nothing new, nothing drifted

        data["tenants"][u] = {"environments": {"prod": {}}}
        second = commit(repo, data, "second tenant")
        code, done = watch(estate, repo, workdir)
        assert code == 0 and done["outcome"] == "applied" and done["commit"] == second
        assert database_exists(f"{u}_prod")

        broken = commit(repo, {**data, "tenants": {**data["tenants"], "Bad Name": {}}}, "a typo")
        code, done = watch(estate, repo, workdir)
        assert code == 2 and done["outcome"] == "invalid" and done["commit"] == broken
        code, done = watch(estate, repo, workdir)  # still invalid: said so again, not tried again
        assert code == 2 and done["outcome"] == "invalid" and "waiting for a new commit" in done["message"]

        pool = unique("std")
        risky = {**data, "pools": {pool: {"processes": 1, "workers": 0}},
                 "tenants": {**data["tenants"], unique("r"): {
                     "labels": {"compliance": "regulated"},
                     "environments": {"prod": {"placement": {"shared": pool}}}}}}
        refused = commit(repo, risky, "a regulated tenant on a pool")
        code, done = watch(estate, repo, workdir)
        assert code == 8 and done["outcome"] == "refused" and "regulated-isolated" in done["message"], done
        code, done = watch(estate, repo, workdir)  # tried again (a waiver may have been approved): still refused
        assert code == 8 and done["outcome"] == "refused" and done["commit"] == refused

        fixed = commit(repo, data, "back to two tenants")
        code, done = watch(estate, repo, workdir)
        assert code == 0 and done["outcome"] == "applied" and done["commit"] == fixed

        entries = json.loads(estate.cli("audit", "-f", str(checked_out), "--json", "-n", "200").stdout)["items"]
        recorded = [(e["outcome"], e["detail"]["commit"]) for e in entries if e["action"] == "gitops apply"]
        assert recorded[::-1] == [("applied", first), ("applied", second), ("refused", refused), ("applied", fixed)]
        assert all(e["actor"] == "gitops:ana@example.com" for e in entries if e["action"] == "gitops apply")

        # Drift: someone drops a tenant's database by hand; the watch sees it and, asked to, puts it back.
        with psycopg.connect(data["clusters"]["main"]["url"], autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{u}_prod" WITH (FORCE)')
        code, done = watch(estate, repo, workdir)
        assert code == 5 and done["outcome"] == "drift" and any(u in change for change in done["drift"]), done
        code, done = watch(estate, repo, workdir, "--correct")
        assert code == 0 and done["outcome"] == "corrected", done
        assert database_exists(f"{u}_prod")

        bad = estate.cli("gitops", "watch", "--", "--upload-pack=x", "--once", check=False)
        assert bad.returncode == 2
    finally:
        estate.cli("down", "-f", str(checked_out), "--purge", "--yes", check=False)
