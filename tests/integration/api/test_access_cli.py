"""``odooplane users`` and ``odooplane tokens`` as a user runs them, and who the CLI acts as."""

from __future__ import annotations

import json
import os
import pwd
from pathlib import Path

import pytest

from odooplane.actions import access as access_action
from odooplane.actions.service import Service
from odooplane.errors import Forbidden
from odooplane.store import audit
from tests.support.estate import make_estate, unique

pytestmark = pytest.mark.integration


def test_users_and_tokens_from_the_command_line(tmp_path: Path) -> None:
    estate = make_estate(tmp_path, {unique("a"): {"environments": {"prod": {}}}})
    f = ("-f", str(estate.path))
    added = json.loads(estate.cli("users", "add", "alice", "--role", "release-manager", "--scope",
                                  "business_unit=retail", "--json", *f).stdout)
    assert added["role"] == "release-manager" and added["scopes"] == ["business_unit=retail"]
    again = estate.cli("users", "add", "alice", "--role", "auditor", *f, check=False)
    assert again.returncode == 2 and "exists already" in again.stderr
    bad_role = estate.cli("users", "add", "bob", "--role", "god", *f, check=False)
    assert bad_role.returncode == 2 and "platform-admin" in bad_role.stderr
    bad_scope = estate.cli("users", "add", "bob", "--role", "auditor", "--scope", "colour=red", *f, check=False)
    assert bad_scope.returncode == 2 and "colour=red" in bad_scope.stderr
    owner = pwd.getpwuid(os.geteuid()).pw_name
    mapped_owner = estate.cli("users", "add", "bob", "--role", "auditor", "--os-user", owner, *f, check=False)
    assert mapped_owner.returncode == 2 and "owns the data directory" in mapped_owner.stderr
    short = estate.cli("users", "password", "alice", *f, check=False, timeout=60)
    assert short.returncode == 2 and "12 characters" in short.stderr

    made = estate.cli("tokens", "create", "ci-bot", "--role", "provisioner", "--scope", "pool=std", "--expires",
                      "90d", *f)
    secret = made.stdout.strip()
    assert secret.startswith("odp_") and len(secret) > 40 and "shown once" in made.stderr
    listed = json.loads(estate.cli("tokens", "list", "--json", *f).stdout)
    [row] = listed
    assert row["state"] == "active" and secret.startswith(row["prefix"]) and secret not in made.stderr
    assert secret not in json.dumps(listed)
    estate.cli("tokens", "revoke", "ci-bot", *f)
    assert json.loads(estate.cli("tokens", "list", "--json", *f).stdout)[0]["state"] == "revoked"
    twice = estate.cli("tokens", "revoke", "ci-bot", *f, check=False)
    assert twice.returncode == 3 and "no active token" in twice.stderr
    bad_expiry = estate.cli("tokens", "create", "x", "--role", "auditor", "--expires", "soon", *f, check=False)
    assert bad_expiry.returncode == 2 and "--expires" in bad_expiry.stderr

    table = estate.cli("users", "list", *f).stdout
    assert "alice" in table and "release-manager" in table and "business_unit=retail" in table
    roles = json.loads(estate.cli("users", "roles", "--json").stdout)
    assert "releases.approve" in roles["approver"]["rights"] and len(roles) == 8

    logged = json.loads(estate.cli("audit", "--json", "-n", "3", *f).stdout)
    assert len(logged["items"]) == 3 and logged["next"] is not None
    assert logged["items"][0]["action"] == "authorize access.manage"  # grants of access.manage are audited
    assert "intact" in estate.cli("audit", "--verify", *f).stdout
    service = Service.open(estate.path)
    try:
        actions = [e.action for e in audit.entries(service.context().store, limit=50)]
        assert {"user add", "token create", "token revoke"} <= set(actions)
        assert secret not in json.dumps([e.detail for e in audit.entries(service.context().store, limit=50)])
    finally:
        service.close()


def test_the_cli_acts_as_the_user_an_os_user_is_mapped_to(tmp_path: Path) -> None:
    estate = make_estate(tmp_path, {unique("a"): {"environments": {"prod": {}}}})
    estate.cli("users", "add", "nob", "--role", "auditor", "--os-user", "nobody", "-f", str(estate.path))
    service = Service.open(estate.path)
    try:
        ctx = service.context()
        nobody = pwd.getpwnam("nobody").pw_uid
        me = access_action.local_principal(ctx, os_user="nobody", uid=nobody)
        assert (me.name, me.role) == ("nob", "auditor")
        assert [u.name for u in access_action.list_users(ctx, me)] == ["nob"]  # access.read
        with pytest.raises(Forbidden, match=r"does not grant access\.manage"):
            access_action.create_token(ctx, me, name="sneaky", role="platform-admin", scopes=[], expires="1d")
        refused = audit.entries(ctx.store, limit=1)[0]
        assert (refused.actor, refused.action, refused.outcome) == ("nob", "authorize access.manage", "refused")
        with pytest.raises(Forbidden, match="not mapped"):
            access_action.local_principal(ctx, os_user="daemon", uid=pwd.getpwnam("daemon").pw_uid)
        owner = access_action.local_principal(ctx)
        assert owner.role == "platform-admin"
    finally:
        service.close()


def test_the_cli_is_refused_what_the_mapped_role_refuses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from odooplane.actions import apply, credentials, psql
    from odooplane.errors import NotFound

    tenant = unique("a")
    estate = make_estate(tmp_path, {tenant: {"environments": {"prod": {}, "staging": {}}}})
    estate.cli("users", "add", "devon", "--role", "developer", "--os-user", "nobody", "-f", str(estate.path))
    # This process now stands for OS user nobody, who does not own the data directory.
    monkeypatch.setattr(access_action, "os_user_name", lambda: "nobody")
    monkeypatch.setattr(access_action, "_owner_uid", lambda ctx: -1)
    with pytest.raises(Forbidden, match=r"devon may not secrets\.reveal on .*/prod: .*secrets\.reveal\.production"):
        credentials.run(estate.path, f"{tenant}/prod")
    with pytest.raises(NotFound, match="not provisioned"):  # allowed in staging: refused only for its state
        credentials.run(estate.path, f"{tenant}/staging")
    with pytest.raises(Forbidden, match=r"shell\.production"):
        psql.prepare(estate.path, f"{tenant}/prod", admin=False, extra=[])
    with pytest.raises(Forbidden, match=r"estate\.apply"):
        apply.run(estate.path)
    monkeypatch.setattr(access_action, "os_user_name", lambda: "daemon")
    with pytest.raises(Forbidden, match="not mapped"):
        credentials.run(estate.path, f"{tenant}/staging")
    service = Service.open(estate.path)
    try:
        refusals = [e for e in audit.entries(service.context().store, limit=10) if e.outcome == "refused"]
        assert {e.actor for e in refusals} >= {"devon", "os:daemon"}
    finally:
        service.close()
