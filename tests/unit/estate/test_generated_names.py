"""Generated PostgreSQL names never collide: a pool's role is never an environment's, by
construction (reserved tenant names) and by a cross-check that names both places."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from odooplane.estate import names, resolve
from tests.unit.estate.support import HEADER, check

GOOD = HEADER + """pools: {x: {}}
tenants:
  acme:
    environments:
      prod: {placement: {shared: x}}
"""


def test_a_tenant_named_pool_is_refused_its_environment_would_own_the_pools_databases(tmp_path: Path) -> None:
    valid, found = check(tmp_path, GOOD + "  pool:\n    environments:\n      x: {}\n")
    assert valid is None
    assert found == [f"{tmp_path / 'estate.yaml'}:10: tenants.pool: tenant name 'pool' is reserved: the database "
                     "roles of pools are named pool_<pool>"]


def test_a_tenant_named_pg_is_refused_postgresql_reserves_its_roles(tmp_path: Path) -> None:
    valid, found = check(tmp_path, GOOD + "  pg:\n    environments:\n      prod: {}\n")
    assert valid is None and len(found) == 1 and "tenant name 'pg' is reserved" in found[0], found


def test_existing_pool_roles_keep_their_names(tmp_path: Path) -> None:
    valid, found = check(tmp_path, GOOD)
    assert found == [] and valid is not None
    assert valid.pools[0].role == "pool_x" and valid.environments[0].role == "pool_x"
    assert valid.environments[0].database == "acme_prod"


def test_the_cross_check_names_both_places_if_two_kinds_of_names_ever_meet(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A future naming change that made a pool's role an environment's is caught by validate."""
    monkeypatch.setattr(names, "pool_role", lambda pool: names.sql_identifier(f"acme_{pool}"))
    valid, found = check(tmp_path, GOOD.replace("pools: {x: {}}", "pools: {prod: {}}").replace(
        "prod: {placement: {shared: x}}", "prod: {}\n      dev: {placement: {shared: prod}}"))
    assert valid is None
    assert found == [f"{tmp_path / 'estate.yaml'}:9: tenants.acme.environments.prod: PostgreSQL role 'acme_prod' "
                     "of environment acme/prod is also the role of pool prod (pools.prod)"]


def test_no_two_kinds_of_generated_database_names_can_be_equal() -> None:
    """Every name the code generates, over names chosen to provoke clashes."""
    labels = ["a", "pool", "x", "a-b", "b", "new", "opl", "tpl", "moving", "restore", "old", "preupgrade"]
    made: dict[str, str] = {}

    def claim(name: str, what: str) -> None:
        assert made.setdefault(name, what) == what, f"{name!r} is both {made[name]} and {what}"

    for tenant, env in itertools.product([t for t in labels if t not in names.RESERVED_TENANTS], labels):
        ref = resolve.EnvRef(tenant, env)
        claim(ref.database, f"environment {ref}")
        for suffix in ("__moving", "__restore", "__old", "__preupgrade"):
            claim(ref.database + suffix, f"{suffix} copy of {ref}")
        claim(f"vfy-{ref.slug.replace('__', '-')}-0123abcd", f"verify sandbox of {ref}")
    for pool in labels:
        claim(names.pool_role(pool), f"role of pool {pool}")
    claim("opl_new_0123456789ab", "a database being created")
    claim("tpl-0123456789abcdef", "a template")


@pytest.mark.parametrize("value", ["acme\n", "prod\n", "a\nb"])
def test_a_trailing_newline_is_not_part_of_a_name(value: str) -> None:
    with pytest.raises(ValueError, match="is not a lowercase DNS label"):
        names.check_label(value, max_len=30, what="name")
    with pytest.raises(ValueError, match="is not a safe PostgreSQL identifier"):
        names.sql_identifier(f"acme_{value}")
    with pytest.raises(ValueError):
        names.check_hostname(f"{value}.example.com".replace("\n.", ".") + "\n")
    with pytest.raises(ValueError):
        names.check_option_key("list_db\n")
