"""Stateless Odoo processes (odooplane_sessions, odooplane_attachments) on the local driver: a pool
of two processes behind the edge and a dedicated environment keep their sessions in a real Redis
(an ACL user each, allowed only its prefix) and their attachment contents in an S3 server (moto):
a session opened on one process is valid on the other, an attachment written through one is read
through the other and is an object of the bucket, not a file of the filestore.

The simulator plays the modules with their own Redis and S3 clients; with ODOO_SOURCE/ODOO_PYTHON
the same test runs real Odoo with the modules themselves."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis

from tests.support.estate import TestEstate, make_estate, unique
from tests.support.odoo_client import CSRF
from tests.support.redis_server import throwaway_redis
from tests.support.rpc import xmlrpc_call
from tests.support.s3 import MotoServer, start_moto

pytestmark = pytest.mark.e2e
BUCKET = "odoo-attachments"
ADMIN = "redis-admin-Qx71"
DB_HEADER = "X-Odooplane-Database"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("stateless")
    moto = start_moto(tmp / "moto.log")
    try:
        moto.create_bucket(BUCKET)
        with throwaway_redis() as redis_port:
            redis.Redis(host="127.0.0.1", port=redis_port).config_set("requirepass", ADMIN)
            pool, shared, dedicated = unique("s"), unique("p"), unique("d")
            tenants = {shared: {"environments": {"prod": {"placement": {"shared": pool}}}},
                       dedicated: {"environments": {"prod": {"placement": "dedicated"},
                                                    "staging": {"placement": "dedicated", "stage": "staging"}}}}
            estate = make_estate(tmp, tenants)
            stateless = {"sessions": "sessions", "attachments": "files"}
            estate.data["stacks"]["odoo"]["stateless"] = stateless  # the pool and the dedicated one both
            estate.data["pools"] = {pool: {"processes": 2, "workers": 0}}
            estate.data["monitoring"] = {"redis": {"sessions": {"host": "127.0.0.1", "port": redis_port,
                                                                "password": "env:OPL_TEST_REDIS_ADMIN"}}}
            estate.data["object_storage"] = {"files": {"endpoint_url": moto.endpoint, "bucket": BUCKET,
                                                       "access_key_id": "env:OPL_TEST_S3_KEY",
                                                       "secret_access_key": "env:OPL_TEST_S3_SECRET"}}
            estate.env.update(OPL_TEST_REDIS_ADMIN=ADMIN, OPL_TEST_S3_KEY="test", OPL_TEST_S3_SECRET="test")
            estate.write()
            try:
                applied = json.loads(estate.cli("apply", str(estate.path), "--json", check=False,
                                                timeout=900).stdout)
                assert applied["ok"], applied["failures"]
                yield {"estate": estate, "moto": moto, "redis_port": redis_port, "pool": pool,
                       "shared": f"{shared}/prod", "dedicated": f"{dedicated}/prod",
                       "staging": f"{dedicated}/staging"}
            finally:
                estate.cli("down", "-f", str(estate.path), "--purge", "--yes", check=False)
    finally:
        moto.stop()


def _process_port(estate: TestEstate, pool: str, index: int) -> int:
    from odooplane.store import db, ports

    store = db.open_store(f"sqlite:///{estate.data_dir / 'state.db'}")
    try:
        return ports.allocated(store)[(f"pool/{pool}", f"http-{index}")]
    finally:
        store.close()


def _database(target: str) -> str:
    return target.replace("/", "_")


def _host(target: str) -> str:
    return target.replace("/", "-") + ".localhost"


def _login(client: httpx.Client, password: str) -> str:
    page = client.get("/web/login", follow_redirects=True)
    token = CSRF.search(page.text)
    assert page.status_code == 200 and token, page.status_code
    response = client.post("/web/login", data={"login": "admin", "password": password, "csrf_token": token.group(1),
                                                "type": "password", "redirect": ""})
    assert response.status_code in (302, 303), response.status_code
    sid = client.cookies.get("session_id")
    assert sid
    return sid


def _session_info(base: str, headers: dict[str, str], sid: str) -> dict[str, Any] | None:
    response = httpx.post(f"{base}/web/session/get_session_info", headers=headers, cookies={"session_id": sid},
                          json={"jsonrpc": "2.0", "method": "call", "params": {}, "id": 1}, timeout=30)
    result = response.json().get("result")
    return result if isinstance(result, dict) else None


def test_a_session_opened_on_one_process_is_valid_on_the_other(stack: dict[str, Any]) -> None:
    estate: TestEstate = stack["estate"]
    target = stack["shared"]
    headers = {"Host": _host(target), DB_HEADER: _database(target)}  # what the edge sets for this tenant
    first, second = (f"http://127.0.0.1:{_process_port(estate, stack['pool'], i)}" for i in (0, 1))
    with httpx.Client(base_url=first, headers=headers, timeout=30) as client:
        sid = _login(client, estate.admin_password(target))
    info = _session_info(second, headers, sid)
    assert info is not None and info["uid"] == 2 and info["db"] == _database(target)
    # The session is a key of the pool's prefix in Redis, not a file of the pool's data directory.
    prefix = f"odooplane:{estate.data['platform']['name']}:sess:pool-{stack['pool']}:"
    admin = redis.Redis(host="127.0.0.1", port=stack["redis_port"], password=ADMIN)
    assert admin.exists(f"{prefix}{sid}") == 1
    assert 0 < admin.ttl(f"{prefix}{sid}") <= 7 * 24 * 3600
    assert not list(estate.runtime_dir.rglob(sid))
    # Through the edge (either process behind it), the same session is the same user.
    edge = f"http://127.0.0.1:{estate.edge_port}"
    for _ in range(4):
        info = _session_info(edge, {"Host": _host(target)}, sid)
        assert info is not None and info["uid"] == 2


def test_each_session_store_sees_only_its_own_keys(stack: dict[str, Any]) -> None:
    estate: TestEstate = stack["estate"]
    name = estate.data["platform"]["name"]
    dedicated = stack["dedicated"]
    edge = f"http://127.0.0.1:{estate.edge_port}"
    with httpx.Client(base_url=edge, headers={"Host": _host(dedicated)}, timeout=30) as client:
        sid = _login(client, estate.admin_password(dedicated))
    own_prefix = f"odooplane:{name}:sess:{dedicated.replace('/', '__')}:"
    pool_user = f"odooplane-{name}-pool-{stack['pool']}"
    password = estate.secret(f"pool/{stack['pool']}/redis_password")
    assert password
    as_pool = redis.Redis(host="127.0.0.1", port=stack["redis_port"], username=pool_user, password=password)
    with pytest.raises(redis.exceptions.NoPermissionError):
        as_pool.get(f"{own_prefix}{sid}")  # another tenant's session: refused
    with pytest.raises(redis.exceptions.NoPermissionError):
        list(as_pool.scan_iter("*"))  # and no listing of key names either
    admin = redis.Redis(host="127.0.0.1", port=stack["redis_port"], password=ADMIN)
    assert admin.exists(f"{own_prefix}{sid}") == 1


def _rpc(base: str, headers: dict[str, str], target: str, password: str, model: str, method: str,
         *args: Any) -> Any:
    db = _database(target)
    uid = xmlrpc_call(base, headers["Host"], "/xmlrpc/2/common", "authenticate", db, "admin", password, {},
                      headers=headers)
    assert isinstance(uid, int) and uid, uid
    return xmlrpc_call(base, headers["Host"], "/xmlrpc/2/object", "execute_kw", db, uid, password, model, method,
                       list(args), headers=headers)


def test_an_attachment_written_through_one_process_is_read_through_the_other(stack: dict[str, Any]) -> None:
    estate: TestEstate = stack["estate"]
    target = stack["shared"]
    password = estate.admin_password(target)
    headers = {"Host": _host(target), DB_HEADER: _database(target)}
    first, second = (f"http://127.0.0.1:{_process_port(estate, stack['pool'], i)}" for i in (0, 1))
    content = b"stateless attachment " + unique("c").encode()
    created = _rpc(first, headers, target, password, "ir.attachment", "create",
                   {"name": "note.txt", "datas": base64.b64encode(content).decode(), "mimetype": "text/plain"})
    (record,) = _rpc(second, headers, target, password, "ir.attachment", "read", [created], ["datas", "store_fname"])
    assert base64.b64decode(record["datas"]) == content
    sha1 = hashlib.sha1(content).hexdigest()
    assert record["store_fname"] == f"{sha1[:2]}/{sha1}"
    moto: MotoServer = stack["moto"]
    key = f"{estate.data['platform']['name']}/pool-{stack['pool']}/{_database(target)}/{sha1[:2]}/{sha1}"
    assert _object(moto, key) == content
    assert not [p for p in estate.runtime_dir.rglob(sha1) if p.is_file()]  # not in any filestore
    # Served over HTTP too (/web/content) by the other process, from the bucket.
    with httpx.Client(base_url=second, headers=headers, timeout=30) as client:
        _login(client, password)
        served = client.get(f"/web/content/{created}?download=true")
    assert served.status_code == 200 and served.content == content


def test_a_dedicated_environment_is_stateless_too(stack: dict[str, Any]) -> None:
    estate: TestEstate = stack["estate"]
    target = stack["dedicated"]
    password = estate.admin_password(target)
    edge = f"http://127.0.0.1:{estate.edge_port}"
    content = b"dedicated " + unique("c").encode()
    created = _rpc(edge, {"Host": _host(target)}, target, password, "ir.attachment", "create",
                   {"name": "d.txt", "datas": base64.b64encode(content).decode()})
    assert isinstance(created, int)
    sha1 = hashlib.sha1(content).hexdigest()
    key = f"{estate.data['platform']['name']}/{target.replace('/', '__')}/{_database(target)}/{sha1[:2]}/{sha1}"
    assert _object(stack["moto"], key) == content


def _object(moto: MotoServer, key: str) -> bytes:
    import boto3

    client = boto3.client("s3", endpoint_url=moto.endpoint, aws_access_key_id="test", aws_secret_access_key="test",
                          region_name="us-east-1")
    return bytes(client.get_object(Bucket=BUCKET, Key=key)["Body"].read())


def test_odoo_conf_names_the_stores_without_the_admin_password(stack: dict[str, Any]) -> None:
    estate: TestEstate = stack["estate"]
    confs = list(estate.runtime_dir.rglob("*.conf"))
    texts = [p.read_text() for p in confs if "odooplane_sessions_redis" in p.read_text()]
    assert len(texts) >= 3  # the pool's two processes and the dedicated environment
    for text in texts:
        assert "odooplane_sessions" in text.split("server_wide_modules =")[1].splitlines()[0]
        assert "odooplane_attachments" in text
        assert ADMIN not in text  # the Redis admin password never reaches Odoo
    for path in confs:
        assert (path.stat().st_mode & 0o077) == 0, path



def test_acl_users_lost_by_a_redis_restart_are_made_again_by_apply(stack: dict[str, Any]) -> None:
    """Redis without an ACL file forgets its users when it restarts: Odoo then cannot read any session.
    plan names it; apply makes them again (one ACL USERS per server, no restart of Odoo needed)."""
    estate: TestEstate = stack["estate"]
    admin = redis.Redis(host="127.0.0.1", port=stack["redis_port"], password=ADMIN)
    name = estate.data["platform"]["name"]
    lost = sorted(str(u) for u in admin.acl_users() if str(u) != "default")
    assert len(lost) == 3, lost  # the pool's and the dedicated environments' (prod, staging)
    target = stack["shared"]
    edge = f"http://127.0.0.1:{estate.edge_port}"
    with httpx.Client(base_url=edge, headers={"Host": _host(target)}, timeout=30) as client:
        sid = _login(client, estate.admin_password(target))
    admin.acl_deluser(*lost)
    gone = httpx.post(f"{edge}/web/session/get_session_info", headers={"Host": _host(target)},
                      cookies={"session_id": sid}, json={"jsonrpc": "2.0", "method": "call", "params": {}, "id": 1},
                      timeout=30)
    assert gone.status_code != 200 or '"uid": 2' not in gone.text  # Odoo cannot read it: no session
    run = estate.cli("plan", str(estate.path), "--json", check=False)
    assert run.stdout.strip(), run.stderr
    planned = json.loads(run.stdout)
    sessions = sorted(c["target"] for c in planned["changes"] if c["resource"] == "sessions")
    assert sessions == sorted([f"pool {stack['pool']}", stack["dedicated"], stack["staging"]]), planned["changes"]
    applied = json.loads(estate.cli("apply", str(estate.path), "--json", check=False, timeout=300).stdout)
    assert applied["ok"], applied["failures"]
    assert sorted(str(u) for u in admin.acl_users() if str(u) != "default") == lost
    info = _session_info(edge, {"Host": _host(target)}, sid)
    assert info is not None and info["uid"] == 2
    assert f"odooplane-{name}" in lost[0]
    again = json.loads(estate.cli("plan", str(estate.path), "--json", check=False).stdout)
    assert not [c for c in again["changes"] if c["resource"] == "sessions"]


def test_a_backup_holds_the_attachments_kept_in_the_bucket(stack: dict[str, Any]) -> None:
    """Attachments in the bucket are no file of the filestore: the backup brings them into its copy of
    it, so the restore proof (which loads the backup elsewhere and checks every attachment's sha1)
    passes, and a restore gets them back."""
    estate: TestEstate = stack["estate"]
    target = stack["dedicated"]
    edge = f"http://127.0.0.1:{estate.edge_port}"
    content = b"kept in the bucket " + unique("b").encode()
    created = _rpc(edge, {"Host": _host(target)}, target, estate.admin_password(target), "ir.attachment", "create",
                   {"name": "b.txt", "datas": base64.b64encode(content).decode()})
    assert isinstance(created, int)
    sha1 = hashlib.sha1(content).hexdigest()
    assert not [p for p in estate.runtime_dir.rglob(sha1) if p.is_file()]
    backed = estate.cli("backup", "run", target, "-f", str(estate.path), "--json", check=False, timeout=300)
    assert backed.returncode == 0, backed.stdout + backed.stderr
    verified = estate.cli("verify", target, "-f", str(estate.path), "--json", check=False, timeout=600)
    (proof,) = json.loads(verified.stdout)
    assert verified.returncode == 0 and proof["ok"] is True, proof
    assert proof["details"]["attachments"] >= 2  # this one and the earlier test's
    # The stage's copy holds it (downloaded once into the backup's cache, linked into its filestore).
    staged = [p for p in estate.data_dir.rglob(sha1) if p.is_file()]
    assert staged and all(p.read_bytes() == content for p in staged)
    # A clone into staging (its own prefix in the bucket) gets it too: copied into its filestore.
    cloned = estate.cli("clone", target, stack["staging"], "--yes", "-f", str(estate.path), "--json", check=False,
                        timeout=600)
    assert cloned.returncode == 0, cloned.stdout + cloned.stderr
    staging = stack["staging"]
    (record,) = _rpc(edge, {"Host": _host(staging)}, staging, estate.admin_password(staging), "ir.attachment",
                     "read", [created], ["datas"])
    assert base64.b64decode(record["datas"]) == content


def test_a_move_out_of_the_pool_carries_its_bucket_attachments(stack: dict[str, Any]) -> None:
    """(Changes the estate.) The pool tenant moves to dedicated processes: its own prefix in the bucket
    is empty, so the attachments kept under the pool's prefix come into its filestore with it."""
    estate: TestEstate = stack["estate"]
    target = stack["shared"]
    edge = f"http://127.0.0.1:{estate.edge_port}"
    content = b"moved with its tenant " + unique("m").encode()
    password = estate.admin_password(target)
    created = _rpc(edge, {"Host": _host(target)}, target, password, "ir.attachment", "create",
                   {"name": "m.txt", "datas": base64.b64encode(content).decode()})
    tenant, env = target.split("/")
    estate.data["tenants"][tenant]["environments"][env]["placement"] = "dedicated"
    estate.write()
    applied = json.loads(estate.cli("apply", str(estate.path), "--json", check=False, timeout=600).stdout)
    assert applied["ok"], applied["failures"]
    (record,) = _rpc(edge, {"Host": _host(target)}, target, password, "ir.attachment", "read", [created],
                     ["datas"])
    assert base64.b64decode(record["datas"]) == content


def test_a_removed_pool_leaves_no_session_user_behind(stack: dict[str, Any]) -> None:
    """(Runs last: it changes the estate.) The pool and its tenant leave the estate: apply removes the
    pool's edge service and, on the Redis that kept them, its ACL user and its sessions."""
    estate: TestEstate = stack["estate"]
    admin = redis.Redis(host="127.0.0.1", port=stack["redis_port"], password=ADMIN)
    name = estate.data["platform"]["name"]
    user = f"odooplane-{name}-pool-{stack['pool']}"
    prefix = f"odooplane:{name}:sess:pool-{stack['pool']}:"
    admin.set(f"{prefix}left-behind", b"{}")  # a session of it (those of the earlier tests, when they ran)
    assert user in admin.acl_users()
    del estate.data["tenants"][stack["shared"].split("/")[0]]
    del estate.data["pools"][stack["pool"]]
    estate.write()
    applied = json.loads(estate.cli("apply", str(estate.path), "--json", check=False, timeout=300).stdout)
    assert applied["ok"], applied["failures"]
    assert any(s["name"] == "remove-sessions" and s["status"] == "done" for s in applied["steps"]), applied["steps"]
    assert user not in admin.acl_users()
    assert not list(admin.scan_iter(match=f"{prefix}*"))
    assert f"odooplane-{name}-{stack['dedicated'].replace('/', '__')}" in admin.acl_users()  # the other stays
