"""Which neutralization SQL applies to which modules."""

from __future__ import annotations

from pathlib import Path

from odooplane.sim import neutralize
from odooplane.sim.modules import catalogue


def test_queries_follow_installed_modules_in_order() -> None:
    manifests = catalogue("18.0")
    queries = list(neutralize.queries(["base", "web", "crm", "payment", "iap"], manifests))
    assert len(queries) == 4
    assert "ir_mail_server" in queries[0]
    assert "autovacuum_job" in queries[0]
    assert "database.is_neutralized" in queries[0]
    assert "web.neutralize_banner" in queries[1]
    assert "state NOT IN ('test', 'disabled')" in queries[2]
    assert "+disabled" in queries[3]


def test_neither_api_keys_nor_sessions_are_touched() -> None:
    text = "\n".join(neutralize.QUERIES.values())
    assert "res_users_apikeys" not in text
    assert "oauth_access_token" not in text


def test_addons_path_module_brings_its_own_file(tmp_path: Path) -> None:
    module = tmp_path / "acme_sync"
    (module / "data").mkdir(parents=True)
    (module / "__manifest__.py").write_text("{'name': 'Acme sync', 'version': '1.0', 'depends': ['base']}")
    (module / "data" / "neutralize.sql").write_text("UPDATE acme_sync SET endpoint = NULL;\n")
    manifests = catalogue("18.0", [str(tmp_path)])
    assert list(neutralize.queries(["acme_sync"], manifests)) == ["UPDATE acme_sync SET endpoint = NULL;"]
