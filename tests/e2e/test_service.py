"""The service end to end on the local driver, its state in PostgreSQL (the store several API and
worker processes share): a pool tenant POSTed to the API is provisioned by the service's own worker
threads and serves through the edge; its progress streams as server-sent events; a worker killed
(SIGKILL) in the middle of provisioning leaves the operation to another worker process, which
resumes and finishes it."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
from psycopg import sql

from odooplane.clock import wait_until
from tests.support.estate import TestEstate, make_estate, unique
from tests.support.served import Served

pytestmark = pytest.mark.e2e
POOL = unique("s")


@pytest.fixture(scope="module")
def state_db(pg_url: str) -> Iterator[str]:
    """A PostgreSQL database of its own for the estate's state, dropped afterwards."""
    admin = pg_url
    name = f"odooplane_state_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"{admin.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory, state_db: str) -> Iterator[TestEstate]:
    tmp = tmp_path_factory.mktemp("service")
    first = unique("p")
    made = make_estate(tmp, {first: {"environments": {"prod": {"placement": {"shared": POOL}}}}})
    made.data["stacks"]["odoo"]["templates"] = [[]]
    made.data["pools"] = {POOL: {"processes": 1, "workers": 0}}
    made.data["platform"]["state_db"] = state_db
    made.write()
    try:
        applied = json.loads(made.cli("apply", str(made.path), "--json", check=False, timeout=900).stdout)
        assert applied["ok"], applied["failures"]
        yield made
    finally:
        made.cli("down", "-f", str(made.path), "--purge", "--yes", check=False)


def token(estate: TestEstate, role: str, *scope: str) -> str:
    args = [a for s in scope for a in ("--scope", s)]
    return estate.cli("tokens", "create", unique("t"), "--role", role, *args, "-f", str(estate.path)).stdout.strip()


def operation(served: Served, secret: str, op_id: int) -> dict[str, Any]:
    answer = httpx.get(f"{served.base}/api/v1/operations/{op_id}", headers={"Authorization": f"Bearer {secret}"},
                       timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def login_page(estate: TestEstate, tenant: str) -> int:
    try:
        return httpx.get(f"http://127.0.0.1:{estate.edge_port}/web/login", headers={"Host": f"{tenant}-prod.localhost"},
                         timeout=10).status_code
    except httpx.TransportError:
        return 0


def test_a_tenant_posted_to_the_api_serves_through_the_edge(estate: TestEstate) -> None:
    secret = token(estate, "provisioner", f"pool={POOL}")
    served = Served(estate.path, env=estate.env)
    try:
        tenant = unique("n")
        started = time.monotonic()
        answer = httpx.post(f"{served.base}/api/v1/tenants", headers={"Authorization": f"Bearer {secret}"},
                            json={"name": tenant, "environments": {"prod": {"placement": {"shared": POOL}}}},
                            timeout=60)
        assert answer.status_code == 202, answer.text
        op_id = answer.json()["operation"]
        with httpx.stream("GET", f"{served.base}{answer.json()['links']['events']}",
                          headers={"Authorization": f"Bearer {secret}"}, timeout=300) as stream:
            events = "".join(stream.iter_text())
        assert wait_until(lambda: login_page(estate, tenant) == 200, timeout=60), f"{tenant}/prod is not served"
        took = time.monotonic() - started
        done = operation(served, secret, op_id)
        assert done["status"] == "succeeded", done
        names = [s["name"] for s in done["steps"]]
        # This operation provisioned it (its route may already have been written by a reconcile of the
        # service that read the new estate first: serving through the edge, above, is what counts).
        assert "identity" in names and done["actor"].startswith("token:"), names
        assert '"status": "succeeded"' in events and "event: step" in events
        print(f"POST -> serving through the edge: {took:.2f} s")
    finally:
        assert served.stop() == 0, served.output()


def test_a_worker_killed_mid_provisioning_is_resumed_by_another(estate: TestEstate, state_db: str) -> None:
    secret = token(estate, "provisioner")
    tenant = unique("k")
    doomed = Served(estate.path, env={**estate.env, "ODOOPLANE_TEST_KILL_AT": f"identity:{tenant}/prod:before"})
    answer = httpx.post(f"{doomed.base}/api/v1/tenants", headers={"Authorization": f"Bearer {secret}"},
                        json={"name": tenant, "environments": {"prod": {"placement": {"shared": POOL}}}}, timeout=60)
    assert answer.status_code == 202, answer.text
    op_id = answer.json()["operation"]
    assert wait_until(lambda: doomed.proc.poll() is not None, timeout=120), "not killed at the identity step"
    assert doomed.proc.returncode == -9  # with the template's copy made, its identity not yet its own
    rescuer = Served(estate.path, "--executors", "1", env=estate.env, api=False)
    try:
        reader = Served(estate.path, "--executors", "0", env=estate.env)
        try:
            assert wait_until(lambda: operation(reader, secret, op_id)["status"] == "succeeded", timeout=120), \
                f"operation #{op_id} was not resumed: {operation(reader, secret, op_id)}"
            done = operation(reader, secret, op_id)
            steps = [(s["name"], s["status"]) for s in done["steps"]]
            assert steps.count(("identity", "interrupted")) == 1 and ("identity", "done") in steps, steps
            after = steps[steps.index(("identity", "interrupted")) + 1:]
            assert ("database-reset", "done") in after and ("from-template", "done") in after, steps
        finally:
            assert reader.stop() == 0
        assert wait_until(lambda: login_page(estate, tenant) == 200, timeout=60), f"{tenant}/prod is not served"
        with psycopg.connect(state_db) as conn:  # the two processes met in PostgreSQL, not in a file
            claims = conn.execute("SELECT claims FROM operations WHERE id = %s", (op_id,)).fetchone()
        assert claims == (2,), claims
        assert not (estate.data_dir / "state.db").exists()
    finally:
        assert rescuer.stop() == 0, rescuer.output()


def test_a_backup_and_its_restore_proof_requested_through_the_api(estate: TestEstate) -> None:
    target = next(iter(estate.data["tenants"])) + "/prod"
    secret = token(estate, "erp-admin")
    served = Served(estate.path, env=estate.env)
    try:
        headers = {"Authorization": f"Bearer {secret}"}
        for route in ("backups", "verifications"):
            answer = httpx.post(f"{served.base}/api/v1/environments/{target}/{route}", headers=headers, json={},
                                timeout=60)
            assert answer.status_code == 202, answer.text
            op_id = answer.json()["operation"]
            assert wait_until(lambda op_id=op_id: operation(served, secret, op_id)["status"] not in
                              ("queued", "running"), timeout=300), f"{route}: operation #{op_id} did not end"
            done = operation(served, secret, op_id)
            assert done["status"] == "succeeded", done
            assert done["actor"].startswith("token:") and done["steps"], done
        proofs = httpx.get(f"{served.base}/api/v1/evidence", headers=headers,
                           params={"target": target, "kind": "restore-verification"}, timeout=30).json()
        assert proofs and proofs[0]["ok"] is True
    finally:
        assert served.stop() == 0, served.output()
