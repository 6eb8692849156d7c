"""Module catalogue, manifest discovery and dependency resolution."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from odooplane.sim.modules import adapt_version, catalogue, discover, load_order, mark_install, mark_upgrade

SERIES = "18.0"


def uninstalled(manifests: Mapping[str, object]) -> dict[str, str]:
    return {name: "uninstalled" for name in manifests}


@pytest.mark.parametrize(
    ("version", "expected"),
    [("1.3", "18.0.1.3"), ("1.0.2", "18.0.1.0.2"), ("18.0.2.1", "18.0.2.1"), ("18.0", "18.0.18.0")],
)
def test_adapt_version_prefixes_the_series(version: str, expected: str) -> None:
    assert adapt_version(version, SERIES) == expected


@pytest.mark.parametrize("version", ["17.0.1.0", "1", "1.2.3.4", "abc"])
def test_adapt_version_rejects_other_shapes(version: str) -> None:
    with pytest.raises(ValueError, match="Invalid version"):
        adapt_version(version, SERIES)


def test_installing_base_gives_the_twelve_modules_of_real_odoo_18() -> None:
    manifests = catalogue(SERIES)
    marked = mark_install(["base"], uninstalled(manifests), manifests)
    assert sorted(marked) == ["auth_totp", "base", "base_import", "base_import_module", "base_setup", "bus",
                              "html_editor", "iap", "web", "web_editor", "web_tour", "web_unsplash"]


def test_sale_stock_account_gives_fifty_nine_modules() -> None:
    manifests = catalogue(SERIES)
    states = uninstalled(manifests)
    for name in mark_install(["base"], states, manifests):
        states[name] = "installed"
    marked = mark_install(["sale_management", "stock", "account"], states, manifests)
    assert len(marked) + 12 == 59
    assert {"sale", "product", "mail", "account_payment", "sale_stock", "stock_account"} <= set(marked)
    assert not any(name.startswith("l10n_") for name in marked)  # country modules need a company country


def test_auto_install_needs_a_newly_marked_trigger() -> None:
    manifests = catalogue(SERIES)
    states = uninstalled(manifests)
    for name in ("base", "web", "mail", "sale", "crm"):
        states[name] = "installed"
    # sale_crm's triggers are installed already, none is being installed now: not auto-installed
    assert "sale_crm" not in mark_install(["contacts"], states, manifests)


def test_install_of_an_installed_module_marks_nothing() -> None:
    manifests = catalogue(SERIES)
    assert mark_install(["base"], {name: "installed" for name in manifests}, manifests) == []


def test_missing_dependency_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "__manifest__.py").write_text("{'name': 'Broken', 'depends': ['nowhere']}")
    manifests = catalogue(SERIES, [str(tmp_path)])
    with pytest.raises(ValueError, match="not available"):
        mark_install(["broken"], uninstalled(manifests), manifests)


def test_upgrade_includes_installed_dependents() -> None:
    manifests = catalogue(SERIES)
    states = uninstalled(manifests)
    for name in ("base", "web", "mail", "product", "sale", "sale_management", "crm"):
        states[name] = "installed"
    assert set(mark_upgrade(["sale"], states, manifests)) == {"sale", "sale_management"}


def test_upgrading_base_upgrades_everything_installed() -> None:
    manifests = catalogue(SERIES)
    states = uninstalled(manifests)
    for name in ("base", "web", "crm"):
        states[name] = "installed"
    assert set(mark_upgrade(["base"], states, manifests)) == {"base", "web", "crm"}


def test_load_order_is_by_depth_then_name() -> None:
    manifests = catalogue(SERIES)
    # base (depth 0), web (1), then auth_totp/base_setup/bus (2, all depending on web) by name
    assert load_order(["web", "base", "base_setup", "bus", "auth_totp"], manifests) == [
        "base", "web", "auth_totp", "base_setup", "bus"]


def test_discover_reads_manifests_and_adapts_versions(tmp_path: Path) -> None:
    module = tmp_path / "acme_custom"
    module.mkdir()
    (module / "__manifest__.py").write_text(
        "# -*- coding: utf-8 -*-\n{'name': 'Acme', 'version': '2.1', 'depends': ['sale'], 'application': True,"
        " 'auto_install': ['sale'], 'license': 'OPL-1'}\n")
    (tmp_path / "not_a_module").mkdir()
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "__manifest__.py").write_text("{'name': 'Bad', 'version': '17.0.1.0'}")
    found = discover([str(tmp_path)], SERIES)
    assert set(found) == {"acme_custom"}
    manifest = found["acme_custom"]
    assert manifest.version == "18.0.2.1"
    assert manifest.depends == ("sale",)
    assert manifest.auto_install_triggers == frozenset({"sale"})
    assert manifest.application
    assert manifest.license == "OPL-1"
    assert manifest.path == str(module)


def test_non_installable_module_keeps_a_bad_version(tmp_path: Path) -> None:
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "__manifest__.py").write_text("{'name': 'Old', 'version': '9', 'installable': False}")
    assert not discover([str(tmp_path)], SERIES)["old"].installable


def test_first_addons_path_wins_and_overrides_builtins(tmp_path: Path) -> None:
    for folder, version in (("first", "5.0"), ("second", "6.0")):
        (tmp_path / folder / "crm").mkdir(parents=True)
        (tmp_path / folder / "crm" / "__manifest__.py").write_text(f"{{'name': 'CRM', 'version': '{version}'}}")
    manifests = catalogue(SERIES, [str(tmp_path / "first"), str(tmp_path / "second")])
    assert manifests["crm"].version == "18.0.5.0"
    assert manifests["crm"].depends == ()


def test_catalogue_versions_follow_the_series() -> None:
    assert catalogue("17.0")["base"].version == "17.0.1.3"
    assert catalogue("19.0")["sale"].version.startswith("19.0.")
