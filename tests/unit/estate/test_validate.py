"""Validation stages: every problem at once, each with file:line and the dotted path."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from odooplane.errors import EstateInvalid
from odooplane.estate import validate

GOOD = """
platform: {default_stack: sim, default_cluster: main}
clusters: {main: {kind: managed}}
stacks: {sim: {series: "18.0", simulator: true}}
tenants:
  acme:
    environments:
      prod: {modules: [sale]}
      staging: {}
"""


def write(tmp_path: Path, text: str, name: str = "estate.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    valid, found = validate.check(write(tmp_path, text))
    assert valid is None, "expected the estate to be invalid"
    return [str(p) for p in found]


def test_valid_estate_resolves_defaults(tmp_path: Path) -> None:
    valid = validate.validate(write(tmp_path, GOOD))
    envs = {str(e.ref): e for e in valid.environments}
    assert set(envs) == {"acme/prod", "acme/staging"}
    prod = envs["acme/prod"]
    assert prod.hostnames == ("acme-prod.localhost",)
    assert prod.database == "acme_prod"
    assert prod.stack_name == "sim" and prod.cluster_name == "main"
    assert prod.stage == "production" and envs["acme/staging"].stage == "staging"
    assert valid.data_dir == (tmp_path / ".odooplane").resolve()


def test_all_problems_are_reported_at_once_with_paths(tmp_path: Path) -> None:
    found = problems(tmp_path, """
        platform: {default_stack: sim, edge: {http_port: "x"}}
        clusters: {main: {kind: managed}}
        stacks: {sim: {series: "18.0", simulator: true}}
        tenants:
          acme:
            environments:
              prod: {hostnames: [Acme.com], workers: -1, colour: blue}
        """)
    joined = "\n".join(found)
    assert "platform.edge.http_port: should be a valid integer" in joined
    assert "tenants.acme.environments.prod.hostnames[0]: 'Acme.com' is not a lowercase hostname" in joined
    assert "tenants.acme.environments.prod.workers: should be greater than or equal to 0" in joined
    assert "tenants.acme.environments.prod: unknown key 'colour'" in joined
    assert len(found) == 4
    assert all("estate.yaml:" in p for p in found)


def test_problem_names_the_line(tmp_path: Path) -> None:
    found = problems(tmp_path, GOOD.replace("prod: {modules: [sale]}", "prod: {modules: [Sale]}"))
    assert found == [f"{tmp_path / 'estate.yaml'}:8: tenants.acme.environments.prod.modules[0]: "
                     "'Sale' is not an Odoo module name (lowercase letters, digits, '_')"]


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("a;drop table", "is not a lowercase DNS label"),
        ("../x", "is not a lowercase DNS label"),
        ("Acme", "is not a lowercase DNS label"),
        ("a" * 200, "is 200 characters long (at most 30)"),
        ("\u0430cme", "contains non-ASCII characters"),  # a Cyrillic look-alike of "acme"
        ("acme-", "is not a lowercase DNS label"),
        ("acme_corp", "is not a lowercase DNS label"),
    ],
)
def test_hostile_tenant_names_are_refused(tmp_path: Path, name: str, fragment: str) -> None:
    text = GOOD.replace("  acme:\n", f"  {name!r}:\n".replace("'", '"'))
    found = problems(tmp_path, text)
    assert any(fragment in p for p in found), found


def test_unknown_key_suggests_the_right_one(tmp_path: Path) -> None:
    found = problems(tmp_path, GOOD.replace("default_cluster: main", "default_clustr: main"))
    assert any("platform: unknown key 'default_clustr'; did you mean 'default_cluster'?" in p for p in found)


def test_duplicate_yaml_keys_are_refused(tmp_path: Path) -> None:
    found = problems(tmp_path, GOOD + "tenants: {}\n")
    line = len(textwrap.dedent(GOOD).splitlines()) + 1
    assert found == [f"{tmp_path / 'estate.yaml'}:{line}: duplicate key 'tenants'"]


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    found = problems(tmp_path, "platform: {default_stack: [\n")
    assert len(found) == 1 and "invalid YAML" in found[0] and "estate.yaml:" in found[0]


def test_duplicate_hostnames_anywhere(tmp_path: Path) -> None:
    text = GOOD.replace("staging: {}", "staging: {hostnames: [acme-prod.localhost]}")
    found = problems(tmp_path, text)
    assert any("hostname 'acme-prod.localhost' is already used at tenants.acme.environments.prod" in p for p in found)


def test_www_prefix_counts_as_the_same_hostname(tmp_path: Path) -> None:
    text = GOOD.replace("staging: {}", "staging: {hostnames: [www.acme-prod.localhost]}")
    assert any("already used" in p for p in problems(tmp_path, text))


def test_default_hostnames_that_collide_are_found(tmp_path: Path) -> None:
    text = GOOD + "  acme-prod:\n    environments: {x: {}}\n  acme-prod-x:\n    environments: {y: {}}\n"
    # acme-prod/x -> acme-prod-x.localhost; no clash with acme-prod-x/y -> acme-prod-x-y.localhost
    valid, found = validate.check(write(tmp_path, text))
    assert found == [] and valid is not None
    text = GOOD + "  a-b:\n    environments: {c: {}}\n  a:\n    environments: {b-c: {}}\n"
    assert any("a-b-c.localhost" in p for p in problems(tmp_path, text))


def test_unknown_stack_and_cluster_references(tmp_path: Path) -> None:
    text = GOOD.replace("staging: {}", "staging: {stack: nope, cluster: other}")
    found = problems(tmp_path, text)
    assert any("environments.staging.stack: unknown stack 'nope' (known: sim)" in p for p in found)
    assert any("environments.staging.cluster: unknown cluster 'other' (known: main)" in p for p in found)


def test_port_collisions(tmp_path: Path) -> None:
    text = GOOD.replace("main: {kind: managed}", "main: {kind: managed, port: 8800}")
    found = problems(tmp_path, text)
    assert any("clusters.main.port: port 8800 is also used by platform.edge.http_port" in p for p in found)
    text = GOOD.replace("prod: {modules: [sale]}", "prod: {http_port: 25000}").replace(
        "staging: {}", "staging: {http_port: 25000}")
    assert any("port 25000 is also used by" in p for p in problems(tmp_path, text))


def test_stack_source_without_odoo_bin(tmp_path: Path) -> None:
    (tmp_path / "odoo").mkdir()
    text = GOOD.replace('sim: {series: "18.0", simulator: true}', 'sim: {series: "18.0", source: odoo}')
    found = problems(tmp_path, text)
    assert any("stacks.sim.source:" in p and "has no odoo-bin" in p for p in found)
    (tmp_path / "odoo" / "odoo-bin").write_text("#!/usr/bin/env python3\n")
    assert validate.validate(write(tmp_path, text)).environments[0].stack.source == "odoo"


def test_secrets_are_never_inline_nor_echoed(tmp_path: Path) -> None:
    text = GOOD.replace("staging: {}", "staging: {admin_password: hunter2secret}")
    found = problems(tmp_path, text)
    assert any("admin_password: is not a secret reference" in p for p in found)
    assert not any("hunter2secret" in p for p in found)
    text = GOOD.replace("main: {kind: managed}", 'main: {kind: external, url: "postgresql://u:s3cretpw@h/db"}')
    found = problems(tmp_path, text)
    assert any("url must not contain a password" in p for p in found)
    assert not any("s3cretpw" in p for p in found)


def test_includes_merge_and_detect_duplicates(tmp_path: Path) -> None:
    (tmp_path / "tenants").mkdir()
    write(tmp_path, "tenants:\n  globex:\n    environments: {prod: {}}\n", "tenants/globex.yaml")
    valid = validate.validate(write(tmp_path, GOOD + "include: [tenants/*.yaml]\n"))
    assert {str(e.ref) for e in valid.environments} == {"acme/prod", "acme/staging", "globex/prod"}
    write(tmp_path, "tenants:\n  acme:\n    environments: {prod: {}}\n", "tenants/acme.yaml")
    found = problems(tmp_path, GOOD + "include: [tenants/*.yaml]\n")
    assert any("tenants.acme: defined twice" in p and "acme.yaml" in p for p in found)


def test_include_with_no_match(tmp_path: Path) -> None:
    found = problems(tmp_path, GOOD + "include: [missing/*.yaml]\n")
    assert any("include[0]: no file matches 'missing/*.yaml'" in p for p in found)


def test_environment_variables_are_interpolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = GOOD.replace('simulator: true', 'simulator: "${SIM_ON:-true}"')
    assert validate.validate(write(tmp_path, text)).estate.stacks["sim"].simulator is True
    monkeypatch.setenv("SIM_ON", "false")
    assert any("set 'source'" in p for p in problems(tmp_path, text))
    found = problems(tmp_path, GOOD.replace("default_stack: sim", 'default_stack: "${NOPE_UNSET_VAR}"'))
    assert any("environment variable NOPE_UNSET_VAR is not set" in p for p in found)


def test_managed_options_cannot_be_overridden(tmp_path: Path) -> None:
    text = GOOD.replace("staging: {}", "staging: {options: {dbfilter: '.*', log_level: info}}")
    assert any("environments.staging.options.dbfilter: option dbfilter is set by Odooplane and cannot be overridden"
               in p for p in problems(tmp_path, text))


def test_registry_lru_size_is_refused_with_what_to_set(tmp_path: Path) -> None:
    found = problems(tmp_path, GOOD.replace("staging: {}", "staging: {options: {registry_lru_size: 300}}"))
    assert any("environments.staging.options.registry_lru_size: option registry_lru_size cannot be set: Odoo reads "
               "it from odoo.conf as text" in p and "set limits.memory_soft_mib instead" in p for p in found), found
    found = problems(tmp_path, GOOD.replace("staging: {}", "staging: {options: {odooplane_cron_partition: '0/2'}}"))
    assert any("option odooplane_cron_partition is set by Odooplane" in p for p in found), found


def test_validate_raises_with_every_problem(tmp_path: Path) -> None:
    with pytest.raises(EstateInvalid) as info:
        validate.validate(write(tmp_path, "tenants: [1, 2]\n"))
    assert info.value.exit_code == 2
    assert "tenants: should be a valid dictionary" in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    valid, found = validate.check(tmp_path / "nope.yaml")
    assert valid is None and [str(p) for p in found] == [f"{tmp_path / 'nope.yaml'}: file not found"]


def test_an_unquoted_impossible_date_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    found = problems(tmp_path, GOOD + "change_management:\n  freezes:\n    go-live: {start: 2026-02-30}\n")
    line = len(textwrap.dedent(GOOD).splitlines()) + 3
    assert len(found) == 1 and found[0].startswith(f"{tmp_path / 'estate.yaml'}:{line}: '2026-02-30' cannot be read")


def test_business_hours_and_redis_references_are_checked(tmp_path: Path) -> None:
    hours = "    business_hours: {start: '18:00', end: '08:00'}\n"
    text = GOOD.replace("  acme:\n", "  acme:\n" + hours, 1)
    found = problems(tmp_path, text)
    assert any("business hours must end after they start" in p for p in found), found
    found = problems(tmp_path, GOOD.replace("  acme:\n", "  acme:\n    redis: sessions\n", 1))
    assert any("tenants.acme.redis: unknown Redis server 'sessions' (none defined)" in p for p in found), found
