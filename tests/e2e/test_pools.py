"""Shared pools, templates and hybrid placement end to end: tenants of a pool are isolated from
each other whatever the client sends (N-by-N matrix through the edge), per-tenant controls exist,
template copies get their own identity, and an environment moves between placements."""

from __future__ import annotations

import json
import os
import uuid
import xmlrpc.client
import zlib
from pathlib import Path

import httpx
import psycopg
import pytest

from odooplane.clock import wait_until
from tests.support.estate import TestEstate, make_estate, open_to_all, shared_dir, unique
from tests.support.odoo_client import CSRF
from tests.support.rpc import xmlrpc_call

pytestmark = pytest.mark.e2e
POOL = unique("s")  # pool roles are cluster-wide names: unique per run


@pytest.fixture(scope="module")
def pool_estate(tmp_path_factory: pytest.TempPathFactory) -> TestEstate:
    tmp = tmp_path_factory.mktemp("pools")
    names = [unique("p") for _ in range(3)]
    tenants = {name: {"environments": {"staging": {"placement": {"shared": POOL}}}} for name in names}
    limited = unique("r")  # rate-limited: kept out of the isolation matrix, which sends many requests
    tenants[limited] = {"environments": {"staging": {"placement": {"shared": POOL},
                                                     "rate_limit": {"average": 2, "burst": 3}}}}
    tenants[names[0]]["environments"]["prod"] = {"placement": "dedicated", "connection_limit": 25,
                                                 "statement_timeout_s": 30}
    estate = make_estate(tmp, tenants)
    estate.data["stacks"]["odoo"]["templates"] = [[]]
    estate.data["pools"] = {POOL: {"processes": 2, "workers": 2, "options": {"sim_cron_interval": 1}}}
    estate.write()
    estate.names = names  # type: ignore[attr-defined]
    estate.limited = limited  # type: ignore[attr-defined]
    try:
        applied = json.loads(estate.cli("apply", str(estate.path), "--json", check=False, timeout=900).stdout)
        assert applied["ok"], applied["failures"]
        yield estate
    finally:
        estate.cli("down", "-f", str(estate.path), "--purge", "--yes", check=False)


def host(target: str) -> str:
    tenant, env = target.split("/")
    return f"{tenant}-{env}.localhost"


def login(estate: TestEstate, host_header: str, password: str, *, path: str = "/web/login",
          extra: dict[str, str] | None = None) -> str | None:
    """Log in as admin at ``host_header`` (with extra request headers); return the session's db."""
    with httpx.Client(base_url=f"http://127.0.0.1:{estate.edge_port}", headers={"Host": host_header, **(extra or {})},
                      timeout=30) as client:
        page = client.get(path)
        token = CSRF.search(page.text)
        if page.status_code != 200 or not token:
            return None
        client.post("/web/login", data={"login": "admin", "password": password, "csrf_token": token.group(1),
                                         "redirect": ""})
        info = client.post("/web/session/get_session_info", json={"jsonrpc": "2.0", "method": "call",
                                                                  "params": {}, "id": 1}).json()
        result = info.get("result")
        return str(result["db"]) if result else None


def test_status_shows_placement_and_pool_membership(pool_estate: TestEstate) -> None:
    status = pool_estate.status()
    assert status["healthy"], status
    names = pool_estate.names  # type: ignore[attr-defined]
    rows = {r["target"]: r for r in status["environments"]}
    assert rows[f"{names[0]}/prod"]["placement"] == "dedicated"
    assert rows[f"{names[1]}/staging"]["placement"] == f"shared:{POOL}"
    (pool,) = status["pools"]
    assert pool["name"] == POOL and len(pool["processes"]) == 2
    assert sorted(pool["tenants"]) == sorted(f"{n}/staging" for n in [*names, pool_estate.limited])  # type: ignore[attr-defined]
    assert all(p["state"] == "running" for p in pool["processes"])


def test_isolation_matrix(pool_estate: TestEstate) -> None:
    """Every hostname reaches exactly its own database, whatever the client sends."""
    names = pool_estate.names  # type: ignore[attr-defined]
    targets = [f"{n}/staging" for n in names] + [f"{names[0]}/prod"]
    passwords = {t: pool_estate.admin_password(t) for t in targets}
    base = f"http://127.0.0.1:{pool_estate.edge_port}"
    failures = []
    for i in targets:
        own_db = i.replace("/", "_")
        if login(pool_estate, host(i), passwords[i]) != own_db:
            failures.append(f"{i}: plain login")
        if login(pool_estate, host(i).upper(), passwords[i]) != own_db:
            failures.append(f"{i}: upper-case host")
        for j in targets:
            if i == j:
                continue
            other_db = j.replace("/", "_")
            tries = {
                "?db=": login(pool_estate, host(i), passwords[i], path=f"/web/login?db={other_db}"),
                "X-Odooplane-Database": login(pool_estate, host(i), passwords[i],
                                              extra={"X-Odooplane-Database": other_db}),
                "X-Forwarded-Host": login(pool_estate, host(i), passwords[i], extra={"X-Forwarded-Host": host(j)}),
            }
            for how, got in tries.items():
                if got != own_db:
                    failures.append(f"{i} -> {j} via {how}: got {got}")
            # RPC takes the database as an argument: it must not reach another tenant's.
            uid = xmlrpc_call(base, host(i), "/xmlrpc/2/common", "authenticate", other_db, "admin", passwords[j], {})
            if uid and not isinstance(uid, xmlrpc.client.Fault):
                failures.append(f"{i} -> {j}: xmlrpc authenticate succeeded")
            answer = httpx.post(f"{base}/jsonrpc", headers={"Host": host(i)}, json={
                "jsonrpc": "2.0", "method": "call", "id": 1,
                "params": {"service": "common", "method": "login", "args": [other_db, "admin", passwords[j]]}}).json()
            if answer.get("result"):
                failures.append(f"{i} -> {j}: jsonrpc login succeeded")
            auth = httpx.post(f"{base}/web/session/authenticate", headers={"Host": host(i)}, json={
                "jsonrpc": "2.0", "method": "call", "id": 1,
                "params": {"db": other_db, "login": "admin", "password": passwords[j]}}).json()
            if auth.get("result"):
                failures.append(f"{i} -> {j}: /web/session/authenticate succeeded")
        own = xmlrpc_call(base, host(i), "/xmlrpc/2/common", "authenticate", own_db, "admin", passwords[i], {})
        if not isinstance(own, int) or isinstance(own, bool):
            failures.append(f"{i}: xmlrpc authenticate on its own database failed")
    assert failures == []


def test_pool_serves_no_database_without_the_edge_header(pool_estate: TestEstate) -> None:
    port = _pool_port(pool_estate)
    response = httpx.get(f"http://127.0.0.1:{port}/web/login", follow_redirects=False)
    assert response.status_code == 303 and "/web/database/selector" in response.headers["location"]


def _pool_port(estate: TestEstate) -> int:
    import yaml

    data = yaml.safe_load((estate.data_dir / "edge" / "dynamic" / f"pool-{POOL}.yaml").read_text())
    url = data["http"]["services"][f"pool-{POOL}"]["loadBalancer"]["servers"][0]["url"]
    return int(url.rsplit(":", 1)[1])


def test_per_tenant_controls(pool_estate: TestEstate) -> None:
    names = pool_estate.names  # type: ignore[attr-defined]
    with psycopg.connect(os.environ["ODOOPLANE_TEST_PG"]) as conn:
        limit = conn.execute("SELECT datconnlimit FROM pg_database WHERE datname = %s", (f"{names[0]}_prod",))
        assert limit.fetchone() == (25,)
        timeout = conn.execute(
            "SELECT s.setconfig FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase "
            "WHERE d.datname = %s", (f"{names[0]}_prod",)).fetchone()
        assert timeout is not None and "statement_timeout=30s" in timeout[0]
        owner = conn.execute("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s",
                             (f"{names[1]}_staging",)).fetchone()
        assert owner == (f"pool_{POOL}",)
    limited = host(f"{pool_estate.limited}/staging")  # type: ignore[attr-defined]
    codes = [httpx.get(f"http://127.0.0.1:{pool_estate.edge_port}/web/health", headers={"Host": limited}).status_code
             for _ in range(12)]
    assert 429 in codes, codes
    others = [httpx.get(f"http://127.0.0.1:{pool_estate.edge_port}/web/health",
                        headers={"Host": host(f"{names[2]}/staging")}).status_code for _ in range(12)]
    assert 429 not in others


def test_each_process_runs_the_crons_of_its_share_of_the_tenants(pool_estate: TestEstate) -> None:
    """The pool's 2 processes split its tenants for crons (odooplane_cron_partition I/2): every tenant's
    crons run, and each only in the process whose share it is."""
    dbs = [f"{n}_staging" for n in [*pool_estate.names, pool_estate.limited]]  # type: ignore[attr-defined]
    base = os.environ["ODOOPLANE_TEST_PG"].rsplit("/", 1)[0]
    for db in dbs:
        with psycopg.connect(f"{base}/{db}") as conn:
            conn.execute("UPDATE ir_cron SET nextcall = now() at time zone 'UTC' - interval '1 hour', lastcall = NULL"
                         " WHERE active")

    def all_ran() -> bool:
        for db in dbs:
            with psycopg.connect(f"{base}/{db}") as conn:
                if not conn.execute("SELECT bool_and(lastcall IS NOT NULL) FROM ir_cron WHERE active").fetchone()[0]:
                    return False
        return True

    # The simulator's cron interval is 1 s here; real Odoo's cron workers sleep 60 to 69 s between rounds.
    timeout = 200 if os.environ.get("ODOO_SOURCE") else 60
    assert wait_until(all_ran, timeout=timeout, interval=0.5), "every tenant's crons ran"
    logs = pool_estate.runtime_dir / "logs" / "pools" / POOL
    for index in (0, 1):
        text = (logs / f"odoo-{index}.log").read_text()
        ran = {db for db in dbs if f" {db} odoo.addons.base.models.ir_cron: Job " in text}
        assert ran == {db for db in dbs if zlib.crc32(db.encode()) % 2 == index}, (index, ran)
    confs = [(pool_estate.runtime_dir / "pools" / POOL / f"odoo-{i}.conf") for i in (0, 1)]
    assert [c.read_text().count(f"odooplane_cron_partition = {i}/2") for i, c in enumerate(confs)] == [1, 1]


def test_template_copies_have_their_own_identity_and_hardlinked_filestore(pool_estate: TestEstate) -> None:
    names = pool_estate.names  # type: ignore[attr-defined]
    params = {}
    with psycopg.connect(os.environ["ODOOPLANE_TEST_PG"]) as admin:
        templates = [r[0] for r in admin.execute(
            "SELECT datname FROM pg_database WHERE datistemplate AND NOT datallowconn AND datname LIKE 'tpl-%%' "
            "AND shobj_description(oid, 'pg_database') LIKE %s", (f"odooplane:{pool_estate.estate_id()}:%",))]
    assert len(templates) == 1
    for name in names:
        db = f"{name}_staging"
        url = os.environ["ODOOPLANE_TEST_PG"].rsplit("/", 1)[0] + f"/{db}"
        with psycopg.connect(url) as conn:
            rows = dict(conn.execute(
                "SELECT key, value FROM ir_config_parameter WHERE key IN ('database.uuid', 'database.secret', "
                "'web.base.url')").fetchall())
            owners = {r[0] for r in conn.execute(
                "SELECT DISTINCT pg_get_userbyid(relowner) FROM pg_class c JOIN pg_namespace n "
                "ON n.oid = c.relnamespace WHERE n.nspname = 'public'").fetchall()}
        params[db] = rows
        assert rows["web.base.url"] == f"http://{host(f'{name}/staging')}:{pool_estate.edge_port}"
        assert owners == {f"pool_{POOL}"}, owners
    assert len({p["database.uuid"] for p in params.values()}) == len(names)
    assert len({p["database.secret"] for p in params.values()}) == len(names)
    tpl_files = list((pool_estate.runtime_dir / "templates").glob("*/data/filestore/*/*/*"))
    assert tpl_files, "the template has a filestore"
    copied = pool_estate.runtime_dir / "pools" / POOL / "data" / "filestore" / f"{names[0]}_staging"
    copy = copied / tpl_files[0].parent.name / tpl_files[0].name
    assert copy.exists() and copy.stat().st_ino == tpl_files[0].stat().st_ino, "hard-linked, not copied"


def test_move_to_dedicated_and_back_keeps_the_data(pool_estate: TestEstate) -> None:
    names = pool_estate.names  # type: ignore[attr-defined]
    target = f"{names[2]}/staging"
    db = f"{names[2]}_staging"
    url = os.environ["ODOOPLANE_TEST_PG"].rsplit("/", 1)[0] + f"/{db}"
    marker = uuid.uuid4().hex
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO res_partner (name, active) VALUES (%s, true)", (marker,))
    out = json.loads(pool_estate.cli("move", target, "--to", "dedicated", "-f", str(pool_estate.path), "--json",
                                     timeout=600).stdout)
    assert out["ok"] and out["to"] == "dedicated" and out["downtime_s"] is not None
    rows = {r["target"]: r for r in pool_estate.status()["environments"]}
    assert rows[target]["placement"] == "dedicated" and rows[target]["health"] == "ok"
    assert pool_estate.session_db(target) == db
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM res_partner WHERE name = %s", (marker,)).fetchone() == (1,)
        assert conn.execute("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s",
                            (db,)).fetchone() == (db,)
    assert not (pool_estate.runtime_dir / "pools" / POOL / "data" / "filestore" / db).exists()
    assert "placement: dedicated" in pool_estate.path.read_text()
    back = json.loads(pool_estate.cli("move", target, "--to", f"shared:{POOL}", "-f", str(pool_estate.path),
                                      "--json", timeout=600).stdout)
    assert back["ok"], back
    assert pool_estate.session_db(target) == db
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM res_partner WHERE name = %s", (marker,)).fetchone() == (1,)
    with psycopg.connect(os.environ["ODOOPLANE_TEST_PG"]) as admin:
        assert admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (db,)).fetchone() is None
    assert json.loads(pool_estate.cli("plan", str(pool_estate.path), "--json").stdout)["empty"]


def estate_templates(estate: TestEstate) -> list[str]:
    """The template databases this estate has on the test cluster."""
    with psycopg.connect(os.environ["ODOOPLANE_TEST_PG"]) as admin:
        return [r[0] for r in admin.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE 'tpl-%%' "
            "AND shobj_description(oid, 'pg_database') LIKE %s", (f"odooplane:{estate.estate_id()}:%",))]


def test_templates_are_built_only_where_a_pool_will_copy_them(tmp_path: Path) -> None:
    """Templates serve new pool tenants: a cluster with only dedicated environments, and a release
    change, build none."""
    t = unique("d")
    for release, version in (("r1", "1.0"), ("r2", "1.1")):
        module = shared_dir(tmp_path) / "addons" / release / "shop_custom"
        module.mkdir(parents=True)
        (module / "__manifest__.py").write_text(repr({"name": "shop_custom", "version": version,
                                                       "depends": ["base"], "license": "LGPL-3"}))
    open_to_all(shared_dir(tmp_path))
    estate = make_estate(tmp_path, {t: {"environments": {
        "prod": {"release": "r1", "modules": ["shop_custom"], "backup": False},
        "dev": {"backup": False}}}})
    estate.data["stacks"]["odoo"]["templates"] = [[]]
    addons = shared_dir(tmp_path) / "addons"
    estate.data["releases"] = {"r1": {"stack": "odoo", "addons": [str(addons / "r1")]},
                               "r2": {"stack": "odoo", "addons": [str(addons / "r2")]}}
    estate.write()
    try:
        created = json.loads(estate.cli("apply", str(estate.path), "--json", timeout=900).stdout)
        assert created["ok"], created["failures"]
        estate.data["tenants"][t]["environments"]["prod"]["release"] = "r2"
        estate.write()
        upgraded = json.loads(estate.cli("apply", str(estate.path), "--json", timeout=900).stdout)
        assert upgraded["ok"] and upgraded["upgrades"][0]["status"] == "upgraded", upgraded
        steps = {s["name"] for s in created["steps"] + upgraded["steps"]}
        assert "template" not in steps and "from-template" not in steps, steps
        assert estate_templates(estate) == []
        assert not list((estate.runtime_dir / "templates").glob("*"))
    finally:
        estate.cli("down", "-f", str(estate.path), "--purge", "--yes", check=False)
