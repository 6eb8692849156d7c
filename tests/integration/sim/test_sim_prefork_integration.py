"""A prefork simulator (workers >= 1): HTTP workers, cron workers and the evented process."""

from __future__ import annotations

import contextlib
import os
import signal
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from simharness import (
    Role,
    SimServer,
    alive,
    children,
    free_port,
    init_db,
    jsonrpc,
    login,
    make_role,
    request,
    session_db,
    wait_for,
    websocket_upgrade,
    write_conf,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def role() -> Iterator[Role]:
    with make_role() as made:
        yield made


@pytest.fixture(scope="module")
def dbs(role: Role, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    conf = write_conf(tmp_path_factory.mktemp("init"), role)
    first, second = role.new_db_name(), role.new_db_name()
    init_db(conf, first)
    init_db(conf, second)
    return first, second


def prefork_conf(path: Path, role: Role, **options: object) -> tuple[Path, int, int]:
    port, evented = free_port(), free_port()
    values: dict[str, object] = {"http_port": port, "gevent_port": evented, "workers": 2, "max_cron_threads": 1,
                                 "dbfilter": "^%d$", "sim_cron_interval": 0.3}
    values.update(options)
    return write_conf(path, role, **values), port, evented


@pytest.fixture(scope="module")
def server(role: Role, dbs: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimServer]:
    for dbname in dbs:
        role.query(dbname, "UPDATE ir_cron SET nextcall = now() at time zone 'UTC' - interval '1 hour',"
                           " lastcall = NULL RETURNING id")
    conf, port, evented = prefork_conf(tmp_path_factory.mktemp("prefork"), role, limit_request=4)
    with SimServer(conf, port=port, evented_port=evented) as running:
        wait_for(lambda: _answers(evented), what="evented process")
        yield running


def _answers(port: int) -> bool:
    try:
        return request(port, "GET", "/web/health").status == 200
    except OSError:
        return False


def test_master_runs_workers_cron_and_evented_processes(server: SimServer) -> None:
    kinds = wait_for(lambda: len(children(server.pid)) >= 4 and children(server.pid), what="4 children")
    commands = [Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") for pid in kinds if alive(pid)]
    assert sum(b"gevent" in cmd for cmd in commands) == 1


def test_host_header_selects_the_database(server: SimServer, dbs: tuple[str, str]) -> None:
    for dbname in dbs:
        _, sid = login(server.port, f"{dbname}.localhost")
        assert session_db(server.port, f"{dbname}.localhost", sid) == dbname


def test_websocket_fails_on_http_port_and_upgrades_on_gevent_port(server: SimServer, dbs: tuple[str, str]) -> None:
    host = f"{dbs[0]}.localhost"
    assert websocket_upgrade(server.port, host) == "HTTP/1.1 500 Internal Server Error"
    assert websocket_upgrade(server.evented_port, host) == "HTTP/1.1 101 Switching Protocols"


def test_sessions_are_shared_with_the_evented_process(server: SimServer, dbs: tuple[str, str]) -> None:
    host = f"{dbs[1]}.localhost"
    _, sid = login(server.port, host)
    assert session_db(server.evented_port, host, sid) == dbs[1]


def test_workers_are_recycled_after_limit_request(server: SimServer) -> None:
    for _ in range(12):
        assert request(server.port, "GET", "/web/health").status == 200
    wait_for(lambda: "max request (4) reached." in server.log(), what="worker recycling")
    assert request(server.port, "GET", "/web/health").status == 200


def test_cron_workers_visit_every_database_of_the_role(server: SimServer, role: Role, dbs: tuple[str, str]) -> None:
    for dbname in dbs:  # served or not, prefork crons run them all
        wait_for(lambda db=dbname: role.query(db, "SELECT bool_and(lastcall IS NOT NULL) FROM ir_cron"
                                                  " WHERE active")[0][0], what=f"crons of {dbname}")


def test_cron_partition_splits_the_databases_between_processes(tmp_path: Path) -> None:
    """Two processes of one pool (odooplane_dbrouter loaded, odooplane_cron_partition 0/2 and 1/2):
    every database's crons run, each only in the process whose share it is (CRC-32 of its name).
    A role of its own: the module's server runs crons in every database of the module's role."""
    with make_role() as role:
        _partitioned_crons(role, tmp_path)


def _partitioned_crons(role: Role, tmp_path: Path) -> None:
    names: dict[int, str] = {}
    while len(names) < 2:
        name = role.new_db_name()
        names.setdefault(zlib.crc32(name.encode()) % 2, name)
    for folder in ("init", "p0", "p1"):
        (tmp_path / folder).mkdir()
    conf = write_conf(tmp_path / "init", role)
    for name in names.values():
        init_db(conf, name)
        role.query(name, "UPDATE ir_cron SET nextcall = now() at time zone 'UTC' - interval '1 hour',"
                         " lastcall = NULL RETURNING id")
    with contextlib.ExitStack() as stack:
        for index in (0, 1):
            conf, port, _ = prefork_conf(tmp_path / f"p{index}", role,
                                         server_wide_modules="base,web,odooplane_dbrouter",
                                         odooplane_cron_partition=f"{index}/2")
            stack.enter_context(SimServer(conf, port=port))
        for name in names.values():
            wait_for(lambda db=name: role.query(db, "SELECT bool_and(lastcall IS NOT NULL) FROM ir_cron"
                                                    " WHERE active")[0][0], what=f"crons of {name}")
    for index in (0, 1):
        log = (tmp_path / f"p{index}" / "odoo.log").read_text()
        ran = {db for db in names.values() if f" {db} odoo.addons.base.models.ir_cron: Job " in log}
        assert ran == {names[index]}, (index, ran, names)


def test_version_info_on_both_ports(server: SimServer) -> None:
    for port in (server.port, server.evented_port):
        assert jsonrpc(port, "/web/webclient/version_info", {}).json()["result"]["server_version"] == "18.0"


def test_sigterm_stops_master_and_leaves_no_child_process(role: Role, dbs: tuple[str, str], tmp_path: Path) -> None:
    conf, port, evented = prefork_conf(tmp_path, role)
    with SimServer(conf, port=port) as running:
        wait_for(lambda: _answers(evented), what="evented process")
        descendants = wait_for(lambda: len(children(running.pid)) >= 4 and children(running.pid),
                               what="workers")
        assert running.stop(signal.SIGTERM) == 0
        wait_for(lambda: not any(alive(pid) for pid in descendants), timeout=20, what="children to exit")


def test_children_die_with_a_killed_master(role: Role, dbs: tuple[str, str], tmp_path: Path) -> None:
    conf, port, evented = prefork_conf(tmp_path, role)
    with SimServer(conf, port=port) as running:
        wait_for(lambda: _answers(evented), what="evented process")
        descendants = wait_for(lambda: len(children(running.pid)) >= 4 and children(running.pid),
                               what="workers")
        os.kill(running.pid, signal.SIGKILL)
        running.stop()
        wait_for(lambda: not any(alive(pid) for pid in descendants), timeout=20, what="orphans to exit")


def test_series_15_prefork_has_no_bus_on_the_http_port(role: Role, tmp_path: Path) -> None:
    port, evented = free_port(), free_port()
    conf = write_conf(tmp_path, role, http_port=port, longpolling_port=evented, workers=1, max_cron_threads=0,
                      dbfilter="^%d$", sim_series="15.0", sim_longpolling_timeout=0.1)
    dbname = role.new_db_name()
    init_db(conf, dbname)
    with SimServer(conf, port=port):
        wait_for(lambda: _answers(evented), what="longpolling process")
        host = f"{dbname}.localhost"
        error = jsonrpc(port, "/longpolling/poll", {"channels": [], "last": 0}, host=host).json()["error"]
        assert error["data"]["message"] == "bus.Bus unavailable"
        assert jsonrpc(evented, "/longpolling/poll", {"channels": [], "last": 0}, host=host).json()["result"] == []
