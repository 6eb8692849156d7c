"""odoo.conf parsing like odoo/tools/config.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from odooplane.sim.config import MIB, ConfigError, build


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "odoo.conf"
    path.write_text(text)
    return str(path)


def test_options_are_read_and_cast_like_odoo(tmp_path: Path) -> None:
    conf = write(tmp_path, "[options]\ndb_host = db.internal\ndb_port = 5433\nhttp_port = 9069\nworkers = 3\n"
                           "list_db = False\nproxy_mode = True\ndbfilter = ^%d$\nadmin_passwd = s3cret\n"
                           "limit_memory_hard = 1073741824\nwithout_demo = all\n")
    config = build(rcfile=conf)
    assert config["db_host"] == "db.internal"
    assert config["db_port"] == 5433
    assert config["http_port"] == 9069
    assert config["workers"] == 3
    assert config["list_db"] is False
    assert config["proxy_mode"] is True
    assert config["dbfilter"] == "^%d$"  # RawConfigParser: no % interpolation
    assert config["limit_memory_hard"] == 1024 * MIB
    assert config.demo is False


def test_defaults_are_odoo_18s(tmp_path: Path) -> None:
    config = build(rcfile=write(tmp_path, "[options]\n"))
    assert config["http_port"] == 8069
    assert config["gevent_port"] == 8072
    assert config["max_cron_threads"] == 2
    assert config["limit_memory_soft"] == 2048 * MIB
    assert config["limit_memory_hard"] == 2560 * MIB
    assert config["limit_request"] == 65536
    assert config["db_template"] == "template0"
    assert config["server_wide_modules"] == "base,web"
    assert config["list_db"] is True
    assert config.registry_lru_size == 2048 // 15
    assert config.release.series == "18.0"


def test_unknown_keys_are_accepted_silently(tmp_path: Path) -> None:
    config = build(rcfile=write(tmp_path, "[options]\ndb_filter = ^%d$\nlongpolling_port = 9999\nfoo = bar\n"))
    assert config["dbfilter"] == ""  # db_filter is not an option: ignored
    assert config.evented_port == 8072  # longpolling_port is not used by 18


def test_lowercase_booleans_and_none_logfile(tmp_path: Path) -> None:
    config = build(rcfile=write(tmp_path, "[options]\nlist_db = false\nproxy_mode = true\nlogfile = None\n"))
    assert config["list_db"] is False
    assert config["proxy_mode"] is True
    assert config["logfile"] is False


def test_false_integer_falls_back_to_default(tmp_path: Path) -> None:
    config = build(rcfile=write(tmp_path, "[options]\ndb_port = False\nhttp_port = False\n"))
    assert config["db_port"] is False
    assert config["http_port"] == 8069


def test_command_line_wins_over_the_file(tmp_path: Path) -> None:
    conf = write(tmp_path, "[options]\nhttp_port = 9069\ndb_name = fromfile\n")
    config = build(rcfile=conf, overrides={"http_port": 7069, "db_name": None}, init="base,sale", update="crm",
                   stop_after_init=True)
    assert config["http_port"] == 7069
    assert config.db_names == ["fromfile"]
    assert config.init == ("base", "sale")
    assert config.update == ("crm",)
    assert config.stop_after_init


def test_invalid_integer_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="http_port"):
        build(rcfile=write(tmp_path, "[options]\nhttp_port = lots\n"))


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="doesn't exist or is not readable"):
        build(rcfile=str(tmp_path / "missing.conf"))


def test_init_with_several_databases_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="multiple databases"):
        build(rcfile=write(tmp_path, "[options]\ndb_name = a,b\n"), init="base")


def test_sim_keys_configure_faults_and_series(tmp_path: Path) -> None:
    conf = write(tmp_path, "[options]\nsim_series = 16.0\nsim_fail_init = True\nsim_fail_upgrade = sale, crm\n"
                           "sim_crash_after_requests = 5\nsim_boot_fail = true\nsim_startup_delay = 0.5\n"
                           "sim_init_seconds = 2\nsim_password_rounds = 1000\nsim_cron_interval = 1\n")
    sim = build(rcfile=conf).sim
    assert sim.series == "16.0"
    assert sim.fail_init == frozenset({"*"})
    assert sim.fail_upgrade == frozenset({"sale", "crm"})
    assert sim.crash_after_requests == 5
    assert sim.boot_fail
    assert sim.startup_delay == 0.5
    assert sim.init_seconds == 2.0
    assert sim.password_rounds == 1000
    assert sim.cron_interval == 1.0


def test_faults_are_off_by_default(tmp_path: Path) -> None:
    sim = build(rcfile=write(tmp_path, "[options]\nsim_fail_init = False\n")).sim
    assert sim.fail_init is None
    assert sim.fail_upgrade is None
    assert sim.crash_after_requests is None
    assert not sim.boot_fail


def test_unknown_series_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="sim_series"):
        build(rcfile=write(tmp_path, "[options]\nsim_series = 12.0\n"))


def test_series_15_uses_longpolling_port(tmp_path: Path) -> None:
    config = build(rcfile=write(tmp_path, "[options]\nsim_series = 15.0\nlongpolling_port = 8899\n"
                                          "gevent_port = 1\n"))
    assert config.evented_port == 8899
    assert not config.release.has_websocket


def test_paths_are_normalised_and_filestore_is_under_data_dir(tmp_path: Path) -> None:
    config = build(rcfile=write(tmp_path, f"[options]\ndata_dir = {tmp_path}/./data\n"))
    assert config["data_dir"] == str(tmp_path / "data")
    assert config.filestore("acme") == str(tmp_path / "data" / "filestore" / "acme")
    assert config.session_dir == str(tmp_path / "data" / "sessions")


def test_explicit_registry_lru_size(tmp_path: Path) -> None:
    assert build(rcfile=write(tmp_path, "[options]\nregistry_lru_size = 3\n")).registry_lru_size == 3
