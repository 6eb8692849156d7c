"""What reaches a rendered file, a label or a terminal is one line of printable text; options the
platform writes cannot be set; every problem prints on one line, without pydantic's internals."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.estate.support import HEADER, check

GOOD = HEADER + """pools: {shared18: {}}
tenants:
  acme:
    environments:
      prod: {}
"""


def problems(tmp_path: Path, text: str) -> list[str]:
    valid, found = check(tmp_path, text)
    assert valid is None, "expected the estate to be invalid"
    assert all("\n" not in p and "\r" not in p for p in found), found
    return found


def test_a_newline_in_an_option_value_cannot_add_a_line_to_odoo_conf(tmp_path: Path) -> None:
    found = problems(tmp_path, GOOD.replace("prod: {}", 'prod: {options: {log_level: "info\\nlist_db = True"}}'))
    assert found == [f"{tmp_path / 'estate.yaml'}:9: tenants.acme.environments.prod.options.log_level: the value "
                     "contains a control character (U+000A at position 5); estate text must be printable and on "
                     "one line"]


def test_a_newline_interpolated_from_the_environment_is_refused_too(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_LEVEL_FROM_CI", "info\nadmin_passwd = x")
    found = problems(tmp_path, GOOD.replace("prod: {}", 'prod: {options: {log_level: "${LOG_LEVEL_FROM_CI}"}}'))
    assert len(found) == 1 and "options.log_level: the value contains a control character (U+000A" in found[0]
    assert "admin_passwd" not in found[0]


@pytest.mark.parametrize(("where", "text"), [
    ("tenants.acme.labels.cost_centre", '    labels: {cost_centre: "CC\\u001b[2J"}\n'),
    ("tenants.acme.display_name", '    display_name: "Acme\\u202eemca"\n'),
    ("tenants.acme.labels.site", '    labels: {site: "lyon\\u0000"}\n'),
])
def test_control_characters_in_labels_are_refused_with_their_path(tmp_path: Path, where: str, text: str) -> None:
    found = problems(tmp_path, GOOD.replace("  acme:\n", "  acme:\n" + text))
    assert len(found) == 1 and f": {where}: the value contains a control character" in found[0], found


def test_a_name_with_a_newline_prints_escaped_on_one_line(tmp_path: Path) -> None:
    found = problems(tmp_path, GOOD.replace("      prod: {}", '      "st\\ng": {}'))
    assert found == [f"{tmp_path / 'estate.yaml'}:9: tenants.acme.environments['st\\ng']: the key contains a "
                     "control character (U+000A at position 3); estate text must be printable and on one line"]


def test_an_empty_estate_is_an_error(tmp_path: Path) -> None:
    for text in ("", "# only a comment\n", "{}\n"):
        found = problems(tmp_path, text)
        assert found == [f"{tmp_path / 'estate.yaml'}: the estate is empty (it needs at least a tenant, or a "
                         "cluster, stack or pool)"]


def test_a_bad_pool_name_is_one_clean_problem(tmp_path: Path) -> None:
    found = problems(tmp_path, GOOD.replace("prod: {}", "prod: {placement: {shared: BadName}}"))
    assert found == [f"{tmp_path / 'estate.yaml'}:9: tenants.acme.environments.prod.placement.shared: name "
                     "'BadName' is not a lowercase DNS label (a letter, then letters, digits or single '-', not "
                     "ending with '-')"]
    found = problems(tmp_path, GOOD.replace("prod: {}", "prod: {placement: shared}"))
    assert found == [f"{tmp_path / 'estate.yaml'}:9: tenants.acme.environments.prod.placement: should be "
                     "'dedicated' or a mapping (key: value) (got 'shared')"]


def test_a_value_fitting_no_type_of_a_union_is_one_problem(tmp_path: Path) -> None:
    found = problems(tmp_path, GOOD.replace("prod: {}", "prod: {options: {log_level: [1]}, backup: Nope}"))
    assert sorted(p.split(": ", 1)[1] for p in found) == [
        "tenants.acme.environments.prod.backup: name 'Nope' is not a lowercase DNS label (a letter, then letters, "
        "digits or single '-', not ending with '-')",
        "tenants.acme.environments.prod.options.log_level: should be a valid string, a valid integer, a valid "
        "number or a valid boolean (got [1])",
    ]
    assert not any("literal[" in p or "function-" in p or "SharedPlacement" in p for p in found)


@pytest.mark.parametrize("key", ["list_db", "dbfilter", "admin_passwd", "db_maxconn", "pidfile", "xmlrpc_port",
                                 "workers", "data_dir"])
def test_options_the_platform_writes_are_refused_at_their_path(tmp_path: Path, key: str) -> None:
    found = problems(tmp_path, GOOD.replace("prod: {}", f"prod: {{options: {{{key}: 'x', log_level: info}}}}")
                     .replace("pools: {shared18: {}}", f"pools: {{shared18: {{options: {{{key}: 'x'}}}}}}"))
    assert len(found) == 2, found
    assert any(f"pools.shared18.options.{key}: option {key} is set by Odooplane and cannot be overridden" in p
               for p in found)
    assert any(f"environments.prod.options.{key}: option {key} is set by Odooplane" in p for p in found)


def test_mail_options_outside_production_are_refused_not_silently_replaced(tmp_path: Path) -> None:
    text = GOOD.replace("prod: {}", "prod: {options: {smtp_server: smtp.example.com}}\n"
                                    "      staging: {options: {smtp_server: smtp.example.com, log_level: info}}")
    found = problems(tmp_path, text)
    assert found == [f"{tmp_path / 'estate.yaml'}:10: tenants.acme.environments.staging.options.smtp_server: option "
                     "smtp_server is set by Odooplane: a staging environment's mail goes to the platform's mail "
                     "catcher (stage production or dr sends real mail)"]


def test_options_of_a_shared_environment_are_refused_they_would_be_ignored(tmp_path: Path) -> None:
    found = problems(tmp_path, GOOD.replace("prod: {}", "prod: {placement: {shared: shared18}, "
                                                        "options: {log_level: debug}}"))
    assert found == [f"{tmp_path / 'estate.yaml'}:9: tenants.acme.environments.prod.options: options of a shared "
                     "environment are set on its pool (pools.shared18.options)"]


def test_legitimate_options_still_validate(tmp_path: Path) -> None:
    valid, found = check(tmp_path, GOOD.replace("prod: {}", "prod: {options: {log_level: info, db_sslmode: require, "
                                                            "smtp_server: smtp.example.com, unaccent: true}}"))
    assert found == [] and valid is not None
    assert dict(valid.environments[0].options)["smtp_server"] == "smtp.example.com"
