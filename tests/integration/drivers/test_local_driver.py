"""The local driver with the real supervisord and the real Traefik binary: processes survive the
caller, are restarted when they die, routes are served by Host header, and stopping under load
stops every program at once, killing what ignores SIGTERM with its process group after its grace."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from odooplane import execute
from odooplane.clock import wait_until
from odooplane.drivers.base import EdgeSpec, ProcessSpec
from odooplane.drivers.local import LocalDriver
from odooplane.layout import Layout
from odooplane.render.traefik import EnvRoute
from tests.support import stubborn
from tests.support.services import free_port

pytestmark = pytest.mark.integration

SERVER = """
import http.server, os, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = (os.environ.get("WHO", "?") + " " + self.headers.get("Host", "") + " " +
                self.headers.get("X-Forwarded-Host", "") + " " + self.headers.get("X-Forwarded-For", "")).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


@pytest.fixture
def driver(tmp_path: Path) -> Iterator[LocalDriver]:
    layout = Layout(tmp_path / "data")
    edge = EdgeSpec(http_address=f"127.0.0.1:{free_port()}", api_port=free_port(), trusted_proxies=(),
                    access_log=True)
    drv = LocalDriver(layout, edge)
    drv.prepare()
    try:
        yield drv
    finally:
        drv.shutdown()


def backend(tmp_path: Path, name: str, port: int) -> ProcessSpec:
    script = tmp_path / "server.py"
    script.write_text(SERVER)
    return ProcessSpec(name=name, kind="service", argv=(sys.executable, str(script), str(port)), cwd=tmp_path,
                       log_file=tmp_path / f"{name}.log", env={"WHO": name}, stop_wait_s=5)


def edge_get(driver: LocalDriver, host: str, path: str = "/", **headers: str) -> httpx.Response:
    return httpx.get(f"http://{driver.edge.http_address}{path}", headers={"Host": host, **headers}, timeout=5)


def test_processes_are_supervised_and_restarted(driver: LocalDriver, tmp_path: Path) -> None:
    port = free_port()
    spec = backend(tmp_path, "svc-a", port)
    assert driver.ensure_process(spec) is True
    first = driver.wait_running("svc-a", timeout=20)
    assert driver.ensure_process(spec) is False  # unchanged: nothing to do
    assert driver.process_current(spec)
    os.kill(first.pid, signal.SIGKILL)
    assert wait_until(lambda: (p := driver.processes().get("svc-a")) is not None and p.running and p.pid != first.pid,
                      timeout=20)
    assert driver.remove_process("svc-a") is True
    assert "svc-a" not in driver.processes()
    assert wait_until(lambda: _dead(first.pid), timeout=5)


def test_routes_by_host_and_untrusted_forwarded_headers(driver: LocalDriver, tmp_path: Path) -> None:
    driver.ensure_edge()
    ports = {name: free_port() for name in ("a", "b")}
    for name, port in ports.items():
        driver.ensure_process(backend(tmp_path, f"svc-{name}", port))
        driver.wait_running(f"svc-{name}", timeout=20)
        driver.ensure_route(EnvRoute(name=f"t-{name}", hostnames=(f"{name}.localhost",), http_port=port,
                                     evented_port=None, series_major=18))
    for name in ports:
        driver.wait_route_served(f"t-{name}", timeout=15)
    a = edge_get(driver, "a.localhost", **{"X-Forwarded-Host": "b.localhost", "X-Forwarded-For": "6.6.6.6"})
    assert a.status_code == 200
    who, host, fwd_host = [*a.text.split(" "), "", "", ""][:3]
    assert who == "svc-a" and host == "a.localhost"
    assert fwd_host == "a.localhost", "a client-sent X-Forwarded-Host must not reach Odoo"
    assert "6.6.6.6" not in a.text
    assert edge_get(driver, "b.localhost").text.startswith("svc-b ")
    assert edge_get(driver, "nobody.localhost").status_code == 404
    assert edge_get(driver, "a.localhost", "/web/database/manager").status_code == 403
    assert driver.remove_route("t-a") is True
    assert wait_until(lambda: edge_get(driver, "a.localhost").status_code == 404, timeout=10)


def test_a_broken_route_file_keeps_the_others_served(driver: LocalDriver, tmp_path: Path) -> None:
    driver.ensure_edge()
    port = free_port()
    driver.ensure_process(backend(tmp_path, "svc-c", port))
    driver.wait_running("svc-c", timeout=20)
    driver.ensure_route(EnvRoute(name="t-c", hostnames=("c.localhost",), http_port=port, evented_port=None,
                                 series_major=18))
    driver.wait_route_served("t-c", timeout=15)
    (driver.layout.edge_dynamic / "env-broken.yaml").write_text("http: [this is: not valid\n")
    assert edge_get(driver, "c.localhost").status_code == 200


def _dead(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


# -- stopping under load: every program at once, what ignores SIGTERM killed after its grace ----------


def test_shutdown_stops_every_program_at_once_killing_groups_that_ignore_term(
        driver: LocalDriver, tmp_path: Path) -> None:
    # Four programs with a 20 s stop timeout each: one after the other that is 80 s, past any bound.
    pids = [pid for i in range(4) for pid in stubborn.supervise(driver, tmp_path, f"svc-{i}")]
    daemon = driver.supervisor.daemon_pid()
    assert daemon is not None
    started = time.monotonic()
    driver.shutdown()
    elapsed = time.monotonic() - started
    assert elapsed < 40, f"shutdown took {elapsed:.0f} s"
    assert not any(execute.alive(pid) for pid in pids), "every program and its children are gone"
    assert not execute.alive(daemon)


def test_stop_keeps_what_it_is_told_and_kills_after_the_grace_given(driver: LocalDriver, tmp_path: Path) -> None:
    victims = [pid for i in range(3) for pid in stubborn.supervise(driver, tmp_path, f"svc-{i}", stop_wait_s=120)]
    kept = stubborn.supervise(driver, tmp_path, "svc-keep", stop_wait_s=120)
    told: list[str] = []
    started = time.monotonic()
    driver.stop_processes(keep=["svc-keep"], grace_s=3, progress=told.append)
    elapsed = time.monotonic() - started
    assert 3 <= elapsed < 15, f"stopped in {elapsed:.1f} s with a 3 s grace (their own timeout: 120 s)"
    assert not any(execute.alive(pid) for pid in victims)
    assert all(execute.alive(pid) for pid in kept)
    processes = driver.processes()
    assert processes["svc-keep"].running and all(processes[f"svc-{i}"].state == "STOPPED" for i in range(3))
    assert told and "svc-0" in told[0] and "still running" in told[0], told
    driver.shutdown(grace_s=1)
    assert not any(execute.alive(pid) for pid in kept)


RECORDER = """
import signal, sys, time
def stop(*_):
    open(sys.argv[1], "w").write(repr(time.time()))
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
while True:
    time.sleep(1)
"""


def test_stop_goes_from_users_to_what_they_use_one_priority_at_a_time(driver: LocalDriver, tmp_path: Path) -> None:
    """The worker (highest priority) is gone before Odoo, Odoo before the edge and PostgreSQL: a
    user of a service is never left probing it while it stops."""
    stubborn.supervise(driver, tmp_path, "svc-user", stop_wait_s=120, priority=900)
    script = tmp_path / "recorder.py"
    script.write_text(RECORDER)
    driver.ensure_process(ProcessSpec(name="svc-used", kind="service",
                                      argv=(sys.executable, str(script), str(tmp_path / "stopped-at")),
                                      cwd=tmp_path, log_file=tmp_path / "used.log", priority=100))
    driver.wait_running("svc-used", timeout=20)
    started = time.time()
    driver.stop_processes(grace_s=2)
    assert float((tmp_path / "stopped-at").read_text()) - started >= 2, "stopped only once its user was gone"
