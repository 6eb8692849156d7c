"""The write side of the API: a change edits the estate file in place (comments kept), is checked
and authorized before anything stays written, and answers 202 with the queued operation; a refused
or invalid change leaves the file as it was, byte for byte."""

from __future__ import annotations

import difflib
from pathlib import Path

from odooplane.store import audit, identity, journal, releases, requests
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


def test_verify_restore_clone_and_promote_are_queued_for_who_may(api: Api) -> None:
    n = api.names
    prod, staging = f"{n['acme']}/prod", f"{n['acme']}/staging"
    erp, developer, manager = api.token("erp-admin"), api.token("developer"), api.token("release-manager")
    partner = api.token("partner-readonly")

    verify = api.send("POST", f"/api/v1/environments/{prod}/verifications", erp, {})
    assert verify.status_code == 202 and verify.json()["kind"] == "verify"
    assert api.send("POST", f"/api/v1/environments/{prod}/verifications", partner, {}).status_code == 403

    assert api.send("POST", f"/api/v1/environments/{staging}/restores", developer, {}).status_code == 202
    refused = api.send("POST", f"/api/v1/environments/{prod}/restores", developer, {})
    assert refused.status_code == 403 and "restore.production" in refused.json()["detail"]
    restore = api.send("POST", f"/api/v1/environments/{prod}/restores", erp, {"snapshot": "abc123"})
    assert restore.status_code == 202
    assert requests.request_of(api.ctx.store, restore.json()["operation"]) == {
        "do": "restore", "targets": [prod], "source": None, "snapshot": "abc123", "at": None}
    both = api.send("POST", f"/api/v1/environments/{prod}/restores", erp, {"snapshot": "a", "at": "2026-01-01"})
    assert both.status_code == 400

    clone = api.send("POST", "/api/v1/clones", manager, {"source": prod, "target": staging})
    assert clone.status_code == 202 and clone.json()["targets"] == [staging]
    into_prod = api.send("POST", "/api/v1/clones", manager, {"source": staging, "target": prod})
    assert into_prod.status_code == 400 and "production" in into_prod.json()["detail"]
    assert api.send("POST", "/api/v1/clones", partner, {"source": prod, "target": staging}).status_code == 403

    unknown = api.send("POST", "/api/v1/releases/r9/promotions", manager, {"to": prod})
    assert unknown.status_code == 404


def test_approvals_through_the_api_keep_separation_of_duties(api: Api) -> None:
    target = f"{api.names['acme']}/prod"
    approver = api.token("approver")
    [row] = [t for t in identity.tokens(api.ctx.store) if approver.startswith(t.prefix)]
    mine = releases.add(api.ctx.store, target=target, kind="request", status="open", actor=f"token:{row.name}",
                        release="r2")
    theirs = releases.add(api.ctx.store, target=target, kind="request", status="open", actor="alice", release="r3")
    pending = api.get("/api/v1/approvals", approver).json()
    assert [(p["change"], p["own"]) for p in pending] == [(mine, True), (theirs, False)]
    own = api.send("POST", f"/api/v1/approvals/{mine}", approver, {"decision": "approve"})
    assert own.status_code == 400 and "separation of duties" in own.json()["detail"]
    done = api.send("POST", f"/api/v1/approvals/{theirs}", approver, {"decision": "approve"})
    assert done.status_code == 200 and done.json()["by"] == f"token:{row.name}"
    assert api.send("POST", f"/api/v1/approvals/{theirs}", api.token("developer"),
                    {"decision": "approve"}).status_code == 403
