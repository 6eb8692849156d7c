"""The write side of the API: a change edits the estate file in place (comments kept), is checked
and authorized before anything stays written, and answers 202 with the queued operation; a refused
or invalid change leaves the file as it was, byte for byte."""

from __future__ import annotations

import difflib
from pathlib import Path

from odooplane.store import audit, journal, requests
from tests.integration.api.conftest import Api


def file_of(api: Api) -> Path:
    return api.service.path


def added_lines(before: bytes, after: bytes) -> list[str]:
    """The lines ``after`` adds to ``before``, asserting it removes or changes none."""
    old, new = before.decode().splitlines(), after.decode().splitlines()
    diff = [line for line in difflib.ndiff(old, new) if line[:2] in ("+ ", "- ")]
    assert all(line.startswith("+ ") for line in diff), diff
    return [line[2:] for line in diff]


def commented(api: Api) -> bytes:
    path = file_of(api)
    path.write_text("# the estate of this test: kept by every edit\n" + path.read_text())
    return path.read_bytes()


def test_a_provisioner_adds_a_pool_tenant_and_gets_its_queued_operation(api: Api) -> None:
    before = commented(api)
    pool = api.names["pool"]
    token = api.token("provisioner", [f"pool={pool}"])
    answer = api.send("POST", "/api/v1/tenants", token, {
        "name": "newco", "labels": {"business_unit": "retail"},
        "environments": {"prod": {"placement": {"shared": pool}}}})
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["kind"] == "provision" and body["targets"] == ["newco/prod"]
    assert answer.headers["location"] == body["links"]["operation"] == f"/api/v1/operations/{body['operation']}"
    added = added_lines(before, file_of(api).read_bytes())
    assert added == [f"  newco: {{labels: {{business_unit: retail}}, environments: {{prod: {{placement: {{shared: "
                     f"{pool}}}}}}}}}"]
    op = journal.operation(api.ctx.store, body["operation"])
    assert op is not None and (op.status, op.kind, op.target, op.actor) == ("queued", "provision", "newco",
                                                                             op.actor)
    assert op.actor.startswith("token:")
    assert requests.request_of(api.ctx.store, op.id) == {"do": "converge", "targets": ["newco/prod"]}
    seen = api.get("/api/v1/environments/newco/prod", token).json()
    assert seen["placement"] == f"shared:{pool}"  # served from the edited estate at once
    followed = api.get(body["links"]["operation"], token).json()
    assert followed["status"] == "queued" and followed["steps"] == []


def test_a_refused_or_invalid_tenant_leaves_the_file_as_it_was(api: Api) -> None:
    before = commented(api)
    pool = api.names["pool"]
    scoped = api.token("provisioner", [f"pool={pool}"])
    refused = api.send("POST", "/api/v1/tenants", scoped, {"name": "dedico", "environments": {"prod": {}}})
    assert refused.status_code == 403 and "outside the scope" in refused.json()["detail"]
    assert file_of(api).read_bytes() == before
    [entry] = [e for e in audit.entries(api.ctx.store, limit=5) if e.action == "authorize tenants.create"][:1]
    assert (entry.outcome, entry.target) == ("refused", "dedico/prod")

    admin = api.token("platform-admin")
    bad_key = api.send("POST", "/api/v1/tenants", admin, {"name": "x1", "environments": {"prod": {"colour": 1}}})
    assert bad_key.status_code == 422 and bad_key.json()["type"].endswith("/invalid-request")
    assert any("colour" in e["where"] for e in bad_key.json()["errors"])
    no_pool = api.send("POST", "/api/v1/tenants", admin, {
        "name": "x2", "environments": {"prod": {"placement": {"shared": "nosuchpool"}}}})
    assert no_pool.status_code == 422 and no_pool.json()["type"].endswith("/estate-invalid")
    assert any("nosuchpool" in p for p in no_pool.json()["problems"])
    taken = api.send("POST", "/api/v1/tenants", admin, {"name": api.names["acme"], "environments": {"prod": {}}})
    assert taken.status_code == 400 and "exists already" in taken.json()["detail"]
    bad_name = api.send("POST", "/api/v1/tenants", admin, {"name": "Bad_Name", "environments": {"prod": {}}})
    assert bad_name.status_code == 400 and "tenant name" in bad_name.json()["detail"]
    empty = api.send("POST", "/api/v1/tenants", admin, {"name": "x3", "environments": {}})
    assert empty.status_code == 400
    assert file_of(api).read_bytes() == before
    assert requests.pending(api.ctx.store) == 0


def test_placement_changes_and_decommissions_are_edits_and_queued_operations(api: Api) -> None:
    n = api.names
    before = commented(api)
    erp = api.token("erp-admin")
    moved = api.send("PATCH", f"/api/v1/environments/{n['acme']}/staging", erp, {"placement": f"shared:{n['pool']}"})
    assert moved.status_code == 202 and moved.json()["kind"] == "move"
    assert b"placement: {shared: " in file_of(api).read_bytes() and file_of(api).read_bytes().startswith(
        before[:40])
    assert api.get(f"/api/v1/environments/{n['acme']}/staging", erp).json()["placement"] == f"shared:{n['pool']}"
    same = api.send("PATCH", f"/api/v1/environments/{n['acme']}/staging", erp, {"placement": f"shared:{n['pool']}"})
    assert same.status_code == 400 and "already" in same.json()["detail"]
    partner = api.token("partner-readonly")
    assert api.send("PATCH", f"/api/v1/environments/{n['acme']}/prod", partner,
                    {"placement": "dedicated"}).status_code == 403

    provisioner = api.token("provisioner")
    gone = api.send("DELETE", f"/api/v1/environments/{n['globex']}/dev", provisioner)
    assert gone.status_code == 202 and gone.json()["kind"] == "decommission"
    request = requests.request_of(api.ctx.store, gone.json()["operation"])
    assert request is not None and request["do"] == "decommission" and request["purge"] is False
    assert api.get(f"/api/v1/environments/{n['globex']}/dev", provisioner).status_code == 404
    assert api.get(f"/api/v1/environments/{n['globex']}/prod", provisioner).status_code == 200
    last = api.send("DELETE", f"/api/v1/environments/{n['initech']}/prod", provisioner, purge="true")
    assert last.status_code == 202
    assert api.get(f"/api/v1/tenants/{n['initech']}", provisioner).status_code == 404  # with its last one
    assert n["initech"].encode() not in file_of(api).read_bytes()
    assert api.send("DELETE", "/api/v1/environments/nosuch/prod", provisioner).status_code == 404


def test_a_backup_is_queued_for_who_may_run_one(api: Api) -> None:
    n = api.names
    target = f"{n['acme']}/prod"
    developer = api.token("developer")
    assert api.send("POST", f"/api/v1/environments/{target}/backups", developer).status_code == 403
    erp = api.token("erp-admin")
    answer = api.send("POST", f"/api/v1/environments/{target}/backups", erp)
    assert answer.status_code == 202 and answer.json()["kind"] == "backup" and answer.json()["targets"] == [target]


def test_an_operation_s_progress_streams_as_server_sent_events(api: Api) -> None:
    admin = api.token("platform-admin")
    op_id = requests.enqueue(api.ctx.store, kind="backup", target=f"{api.names['acme']}/prod", actor="alice",
                             request={"do": "backup"})
    claimed = requests.claim(api.ctx.store, ttl_s=60)
    assert claimed is not None and claimed.id == op_id
    step = journal.step_intent(api.ctx.store, op_id, name="dump", target=claimed.target)
    journal.step_finish(api.ctx.store, step, status="done", duration_s=0.5)
    journal.finish_operation(api.ctx.store, op_id, status="succeeded")
    with api.client.stream("GET", f"/api/v1/operations/{op_id}/events",
                           headers={"Authorization": f"Bearer {admin}"}) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        text = "".join(stream.iter_text())
    assert "event: step" in text and '"name": "dump"' in text and '"status": "done"' in text
    assert "event: operation" in text and '"status": "succeeded"' in text
    retail = api.token("partner-readonly", ["business_unit=wholesale"])
    assert api.get(f"/api/v1/operations/{op_id}/events", retail).status_code == 404
