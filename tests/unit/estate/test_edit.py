"""Editing the estate in place keeps every byte the edit is not about."""

from __future__ import annotations

import difflib

import pytest
import yaml

from odooplane.estate.edit import EditError, render_value, set_env_keys

ESTATE = """\
# The estate of ACME Group — reviewed in git, so every byte matters.
platform: {name: acme}   # a comment with a colon: here
tenants:
  acme:
    labels: {business_unit: distribution, brand: "ACME #1"}
    environments:
      prod:
        modules: [sale_management, stock, account, purchase, mrp, quality_control, maintenance, hr_expense]
        hostnames:
        - acme-prod.localhost
        - erp.acme.example
        release: r1   # pinned
        # the end of prod
      staging: {modules: [sale_management], workers: 0}   # flow style
      dev:
      qa: {}

  globex:
    environments:
      prod: {placement: {shared: std}, workers: 2}  # pooled
"""


def changed_lines(before: str, after: str) -> list[str]:
    return [line for line in difflib.ndiff(before.splitlines(), after.splitlines()) if line[:1] in "+-"]


def value(text: str, tenant: str, env: str, key: str) -> object:
    return yaml.safe_load(text)["tenants"][tenant]["environments"][env][key]


def test_replacing_a_value_changes_only_its_line_and_keeps_the_comment() -> None:
    after = set_env_keys(ESTATE, tenant="acme", env="prod", values={"release": "r2"})
    assert changed_lines(ESTATE, after) == ["-         release: r1   # pinned", "+         release: r2   # pinned"]
    assert value(after, "acme", "prod", "release") == "r2"


def test_a_new_key_is_added_after_the_block_without_rewrapping_long_lines() -> None:
    after = set_env_keys(ESTATE, tenant="acme", env="prod", values={"placement": {"shared": "std"}})
    assert changed_lines(ESTATE, after) == ["+         placement: {shared: std}"]
    assert after.index("placement:") < after.index("# the end of prod")
    assert value(after, "acme", "prod", "placement") == {"shared": "std"}


@pytest.mark.parametrize(("env", "key", "new", "expected"), [
    ("staging", "placement", "dedicated",
     "+       staging: {modules: [sale_management], workers: 0, placement: dedicated}   # flow style"),
    ("staging", "workers", 2, "+       staging: {modules: [sale_management], workers: 2}   # flow style"),
    ("dev", "release", "r2", "+       dev: {release: r2}"),
    ("qa", "release", "r2", "+       qa: {release: r2}"),
])
def test_flow_and_empty_environments_are_edited_on_their_own_line(env: str, key: str, new: object,
                                                                    expected: str) -> None:
    after = set_env_keys(ESTATE, tenant="acme", env=env, values={key: new})
    assert changed_lines(ESTATE, after)[1:] == [expected]
    assert value(after, "acme", env, key) == new


def test_a_nested_flow_value_is_replaced_whole() -> None:
    after = set_env_keys(ESTATE, tenant="globex", env="prod", values={"placement": "dedicated"})
    assert changed_lines(ESTATE, after)[1:] == ["+       prod: {placement: dedicated, workers: 2}  # pooled"]


def test_a_block_value_is_replaced_by_one_flow_line() -> None:
    after = set_env_keys(ESTATE, tenant="acme", env="prod", values={"hostnames": ["erp.acme.example"]})
    assert changed_lines(ESTATE, after) == ["-         hostnames:", "-         - acme-prod.localhost",
                                            "-         - erp.acme.example", "+         hostnames: [erp.acme.example]"]


def test_crlf_line_breaks_are_kept() -> None:
    crlf = ESTATE.replace("\n", "\r\n")
    after = set_env_keys(crlf, tenant="acme", env="prod", values={"placement": "dedicated", "release": "r3"})
    assert "\n" not in after.replace("\r\n", "")
    assert after.count("\r\n") == crlf.count("\r\n") + 1


def test_strings_yaml_would_read_differently_are_quoted() -> None:
    assert render_value("yes") == '"yes"'
    assert render_value("18.0") == '"18.0"'
    assert render_value("a: b") == '"a: b"'
    assert render_value("shared:std") == "shared:std"
    assert yaml.safe_load(f"k: {render_value('x # y')}")["k"] == "x # y"


def test_unknown_environment_is_an_error() -> None:
    with pytest.raises(EditError, match=r"tenants\.acme\.environments\.nope"):
        set_env_keys(ESTATE, tenant="acme", env="nope", values={"release": "r2"})
