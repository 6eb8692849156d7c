"""The odoo-bin-shaped command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from odooplane.sim import cli
from odooplane.sim.server import stripped_argv


def test_version_prints_the_series_of_the_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = tmp_path / "odoo.conf"
    conf.write_text("[options]\nsim_series = 17.0\n")
    with pytest.raises(SystemExit) as info:
        cli.main(["-c", str(conf), "--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == "Odoo Server 17.0"


def test_version_defaults_to_18(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--version"])
    assert capsys.readouterr().out.strip() == "Odoo Server 18.0"


def test_unknown_option_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["--db-filtre", "x"])
    assert info.value.code == 2
    assert "unrecognized arguments" in capsys.readouterr().err


def test_unknown_command_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["frobnicate"]) == 1
    assert "Unknown command 'frobnicate'" in capsys.readouterr().err


def test_unreadable_config_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["-c", str(tmp_path / "nope.conf")])
    assert info.value.code == 2
    assert "doesn't exist or is not readable" in capsys.readouterr().err


def test_postgres_role_is_refused_like_odoo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = tmp_path / "odoo.conf"
    conf.write_text(f"[options]\ndb_user = postgres\nlogfile = {tmp_path}/odoo.log\n")
    assert cli.main(["-c", str(conf), "--stop-after-init"]) == 1
    assert "security risk" in capsys.readouterr().err


def test_options_map_to_odoo_destinations(tmp_path: Path) -> None:
    config, _ = cli.load("server", ["-d", "acme", "-i", "base,crm", "--without-demo=all", "-p", "9000",
                                    "--workers", "2", "--db-filter", "^%h$", "--no-database-list", "--proxy-mode",
                                    "--stop-after-init", "--logfile", str(tmp_path / "x.log")])
    assert config.db_names == ["acme"]
    assert config.init == ("base", "crm")
    assert not config.demo
    assert (config["http_port"], config["workers"], config["dbfilter"]) == (9000, 2, "^%h$")
    assert config["list_db"] is False
    assert config["proxy_mode"] is True
    assert config.stop_after_init


def test_neutralize_accepts_stdout_but_server_does_not() -> None:
    _, namespace = cli.load("neutralize", ["-d", "acme", "--stdout"])
    assert namespace.to_stdout
    with pytest.raises(SystemExit):
        cli.load("server", ["--stdout"])


def test_stripped_argv_drops_install_and_update() -> None:
    assert stripped_argv(["-c", "x.conf", "-i", "base", "-d", "db", "--update=sale", "-ucrm", "--stop-after-init",
                          "--workers", "2"]) == ["-c", "x.conf", "-d", "db", "--workers", "2"]
