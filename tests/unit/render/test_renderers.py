"""Renderers are pure: golden files pin every key (Odoo silently ignores a misspelt option).
Regenerate with UPDATE_GOLDEN=1 after an intended change, and read the diff."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from odooplane.render import odoo_conf, supervisor, traefik

GOLDEN = Path(__file__).parent / "golden"


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text)
    assert path.read_text() == text, f"{name} differs from its golden file (UPDATE_GOLDEN=1 to accept)"


def conf(series: int, **extra: object) -> odoo_conf.OdooConf:
    base: dict[str, object] = dict(
        series_major=series, db_host="127.0.0.1", db_port=5432, db_user="acme_prod", db_password="pw-123456",
        db_name="acme_prod", dbfilter=odoo_conf.dbfilter_exact("acme_prod"), data_dir="/srv/op/envs/acme__prod/data",
        addons_path=("/opt/addons", "/opt/odoo/odoo/addons"), http_port=20001, evented_port=20002,
        admin_passwd_hash="$pbkdf2-sha512$600000$c2FsdA$aGFzaA", logfile="/srv/op/logs/envs/acme__prod/odoo.log",
        workers=2, max_cron_threads=1,
    )
    base.update(extra)
    return odoo_conf.OdooConf(**base)  # type: ignore[arg-type]


def test_odoo_conf_18() -> None:
    check_golden("odoo-18.conf", odoo_conf.render(conf(18, extra={"log_level": "info"})))


def test_odoo_conf_15_uses_longpolling_port() -> None:
    text = odoo_conf.render(conf(15))
    check_golden("odoo-15.conf", text)
    assert "longpolling_port = 20002" in text and "gevent_port" not in text


def test_odoo_conf_never_holds_the_plain_master_password() -> None:
    text = odoo_conf.render(conf(18))
    assert "admin_passwd = $pbkdf2-sha512$" in text
    assert "list_db = False" in text and "proxy_mode = True" in text


@pytest.mark.parametrize(
    ("database", "expected"),
    [("acme_prod", "^acme_prod$"), ("acme-corp_prod", "^acme\\-corp_prod$")],
)
def test_dbfilter_is_anchored_and_escaped(database: str, expected: str) -> None:
    assert odoo_conf.dbfilter_exact(database) == expected


def test_traefik_static() -> None:
    text = traefik.render_static(traefik.StaticInputs(
        http_address="127.0.0.1:8800", api_address="127.0.0.1:8801", dynamic_dir="/srv/op/edge/dynamic",
        access_log="/srv/op/logs/edge-access.log", log_file="/srv/op/logs/edge.log"))
    check_golden("traefik.yml", text)
    data = yaml.safe_load(text)
    assert data["global"]["checkNewVersion"] is False
    assert data["providers"]["providersThrottleDuration"] == "20ms"
    assert data["entryPoints"]["web"]["forwardedHeaders"] == {"insecure": False}
    assert "tracing" not in data


def test_traefik_static_with_tracing_sends_spans_to_the_worker() -> None:
    text = traefik.render_static(traefik.StaticInputs(
        http_address="127.0.0.1:8800", api_address="127.0.0.1:8801", dynamic_dir="/srv/op/edge/dynamic",
        access_log=None, log_file="/srv/op/logs/edge.log", trace_endpoint="http://127.0.0.1:8802/v1/traces"))
    data = yaml.safe_load(text)
    assert data["tracing"]["otlp"]["http"]["endpoint"] == "http://127.0.0.1:8802/v1/traces"
    assert data["tracing"]["sampleRate"] == 1.0


def test_traefik_env_prefork_routes_websocket_and_blocks_database_manager() -> None:
    route = traefik.EnvRoute(name="acme__prod", hostnames=("acme-prod.localhost", "erp.acme.example"),
                             http_port=20001, evented_port=20002, series_major=18)
    text = traefik.render_env(route)
    check_golden("env-prefork.yaml", text)
    routers = yaml.safe_load(text)["http"]["routers"]
    assert routers["acme__prod.evented"]["rule"].endswith("PathPrefix(`/websocket`)")
    assert routers["acme__prod.dbmanager"]["middlewares"] == [f"{traefik.DENY_MIDDLEWARE}@file"]


def test_traefik_env_threaded_has_no_evented_router() -> None:
    route = traefik.EnvRoute(name="acme__dev", hostnames=("acme-dev.localhost",), http_port=20003,
                             evented_port=None, series_major=18)
    routers = yaml.safe_load(traefik.render_env(route))["http"]["routers"]
    assert set(routers) == {"acme__dev", "acme__dev.dbmanager"}


def test_traefik_env_series_15_routes_longpolling() -> None:
    route = traefik.EnvRoute(name="old__prod", hostnames=("old.localhost",), http_port=1, evented_port=2,
                             series_major=15)
    assert "/longpolling" in traefik.render_env(route)


def test_supervisor_program() -> None:
    program = supervisor.Program(
        name="odoo-acme__prod", command=("/venv/bin/python", "-m", "odooplane.sim", "-c", "/srv/op/my conf.conf"),
        directory="/srv/op/envs/acme__prod", log_file="/srv/op/logs/processes/odoo-acme__prod.log",
        environment={"ODOOPLANE_TARGET": "acme/prod", "X": 'quote"and%percent'},
    )
    text = supervisor.render_program(program)
    check_golden("program.conf", text)
    assert "stopasgroup = true" in text and "killasgroup = true" in text
    assert "'/srv/op/my conf.conf'" in text


def _objects(text: str) -> set[str]:
    http = yaml.safe_load(text)["http"]
    return {f"{kind}:{name}" for kind in ("routers", "services", "middlewares") for name in http.get(kind, {})}


def test_traefik_object_names_of_two_environments_or_pools_never_coincide() -> None:
    """Environment 'prod-evented' next to 'prod', pool 'x-evented' next to 'x': names a '-'
    suffix would have shared (Traefik then drops both definitions)."""
    def env(name: str) -> set[str]:
        return _objects(traefik.render_env(traefik.EnvRoute(
            name=name, hostnames=(f"{name.replace('__', '-')}.localhost",), http_port=20001, evented_port=20002,
            series_major=18, database=name.replace("__", "_"), rate_limit=(5, 10), tls=True)))

    prod, other = env("acme__prod"), env("acme__prod-evented")
    assert prod.isdisjoint(other), prod & other
    for suffix in ("dbmanager", "tls", "db", "ratelimit"):
        assert env("acme__prod").isdisjoint(env(f"acme__prod-{suffix}"))
    assert all(traefik.part_of(name.split(":", 1)[1], "acme__prod") for name in prod)
    assert not any(traefik.part_of(name.split(":", 1)[1], "acme__prod") for name in other)

    def pool(name: str) -> set[str]:
        return _objects(traefik.render_pool(traefik.PoolService(name=name, http_ports=(1,), evented_ports=(2,))))

    assert pool("pool-x").isdisjoint(pool("pool-x-evented"))


def test_traefik_static_refuses_encoded_separators_on_every_entry_point() -> None:
    data = yaml.safe_load(traefik.render_static(traefik.StaticInputs(
        http_address="127.0.0.1:8800", api_address="127.0.0.1:8801", dynamic_dir="/d", access_log=None,
        log_file="/l", https_address="127.0.0.1:8443", redirect_http=True)))
    for name in ("web", "websecure"):
        http = data["entryPoints"][name]["http"]
        assert http["sanitizePath"] is True
        assert http["encodedCharacters"] == {"allowEncodedSlash": False, "allowEncodedBackSlash": False,
                                             "allowEncodedNullCharacter": False, "allowEncodedSemicolon": False,
                                             "allowEncodedPercent": False}
    assert data["entryPoints"]["web"]["http"]["redirections"]["entryPoint"]["to"] == "websecure"


def test_odoo_conf_refuses_a_value_that_would_add_a_line() -> None:
    with pytest.raises(ValueError, match="log_level: the value is not one line"):
        odoo_conf.render(conf(18, extra={"log_level": "info\nlist_db = True"}))
    with pytest.raises(ValueError, match="not one line"):
        odoo_conf.render(conf(18, data_dir="/srv/x\r\nadmin_passwd = x"))


def test_odoo_conf_extra_options_never_repeat_a_key_it_writes() -> None:
    for key in ("list_db", "db_maxconn", "pidfile", "admin_passwd"):
        with pytest.raises(ValueError, match=f"option '{key}' cannot be set"):
            odoo_conf.render(conf(18, extra={key: "x"}))


def test_the_estate_refuses_every_option_odoo_conf_writes() -> None:
    """The renderer and the estate schema keep separate lists (render and estate do not import
    each other): every key render() writes must be one the estate may not set."""
    from odooplane.estate import models

    written = {line.split(" = ", 1)[0] for line in odoo_conf.render(conf(18, pidfile="/p")).splitlines()[2:]}
    written |= {line.split(" = ", 1)[0] for line in odoo_conf.render(conf(15)).splitlines()[2:]}
    assert written <= odoo_conf.MANAGED_KEYS
    assert odoo_conf.MANAGED_KEYS <= models.MANAGED_OPTION_KEYS, odoo_conf.MANAGED_KEYS - models.MANAGED_OPTION_KEYS
