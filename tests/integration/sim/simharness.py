"""Helpers shared by the simulator's integration tests (real PostgreSQL, real processes).

The PostgreSQL server is ``ODOOPLANE_TEST_PG`` (default
``postgresql://postgres@127.0.0.1:5432/postgres``); tests are skipped with the
reason when it does not answer.  Each test module gets its own login role
(the simulator, like odoo-bin, refuses to run as ``postgres``), databases
named ``simt_<random>`` and a tmp data_dir; everything is dropped at the end.
Simulator processes are started with ``sys.executable -m odooplane.sim`` and
always stopped by PID.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

import odooplane.sim

PG_URL = os.environ.get("ODOOPLANE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
SRC = str(Path(odooplane.sim.__file__).resolve().parents[2])
DEADLINE = 60.0


def admin() -> psycopg.Connection[tuple[Any, ...]]:
    return psycopg.connect(PG_URL, autocommit=True, connect_timeout=5)


def require_pg() -> None:
    try:
        with admin() as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        pytest.skip(f"PostgreSQL at ODOOPLANE_TEST_PG={PG_URL} does not answer: {exc}")


def wait_for(predicate: Callable[[], Any], *, timeout: float = DEADLINE, interval: float = 0.05,
             what: str = "condition") -> Any:
    """Poll ``predicate`` until it returns a truthy value; fail the test at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


@dataclass
class Role:
    """A throw-away PostgreSQL login role owning the test databases."""

    name: str
    password: str
    host: str
    port: int
    databases: list[str] = field(default_factory=list)

    def new_db_name(self) -> str:
        name = f"simt_{secrets.token_hex(5)}"
        self.databases.append(name)
        return name

    def connect(self, dbname: str) -> psycopg.Connection[tuple[Any, ...]]:
        return psycopg.connect(host=self.host or None, port=self.port, user=self.name, password=self.password,
                               dbname=dbname, autocommit=True)

    def query(self, dbname: str, query: str, params: Any = None) -> list[tuple[Any, ...]]:
        with self.connect(dbname) as conn:
            return conn.execute(query, params).fetchall()

    def db_exists(self, dbname: str) -> bool:
        with admin() as conn:
            return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone() is not None


@contextlib.contextmanager
def make_role() -> Iterator[Role]:
    require_pg()
    info = psycopg.conninfo.conninfo_to_dict(PG_URL)
    # An empty host means libpq's default unix socket, for the tests as for the simulator.
    role = Role(name=f"simt_role_{secrets.token_hex(4)}", password=secrets.token_hex(12),
                host=str(info.get("host") or ""), port=int(info.get("port") or 5432))
    with admin() as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN CREATEDB PASSWORD {}").format(
            sql.Identifier(role.name), sql.Literal(role.password)))
    try:
        yield role
    finally:
        with admin() as conn:
            owned = [row[0] for row in conn.execute(
                "SELECT datname FROM pg_database WHERE datdba = (SELECT oid FROM pg_roles WHERE rolname = %s)",
                (role.name,)).fetchall()]
            for dbname in set(owned) | {d for d in role.databases if role.db_exists(d)}:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role.name)))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_conf(path: Path, role: Role, **options: Any) -> Path:
    """Write an odoo.conf for ``role`` with a private data_dir; extra options override the defaults."""
    values: dict[str, Any] = {
        "db_host": role.host, "db_port": role.port, "db_user": role.name, "db_password": role.password,
        "data_dir": path / "data", "logfile": path / "odoo.log", "http_interface": "127.0.0.1",
        "sim_password_rounds": 1000,
    }
    values.update(options)
    conf = path / "odoo.conf"
    conf.write_text("[options]\n" + "".join(f"{key} = {value}\n" for key, value in values.items()))
    return conf


def sim_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("PGUSER", None)
    return env


def run_sim(*args: str | Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """Run ``python -m odooplane.sim ARGS`` to completion."""
    return subprocess.run([sys.executable, "-m", "odooplane.sim", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=sim_env(), check=False)


def init_db(conf: Path, dbname: str, modules: str = "base") -> None:
    result = run_sim("-c", conf, "-d", dbname, "-i", modules, "--without-demo=all", "--stop-after-init")
    assert result.returncode == 0, result.stderr + read_log(conf)


def read_log(conf: Path) -> str:
    log = conf.parent / "odoo.log"
    return log.read_text() if log.exists() else ""


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    cookies: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def request(port: int, method: str, path: str, *, host: str | None = None, body: bytes | str | None = None,
            headers: dict[str, str] | None = None, cookie: str | None = None) -> Response:
    """One HTTP request on its own connection (the simulator closes every connection)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    all_headers = dict(headers or {})
    if host:
        all_headers["Host"] = host
    if cookie:
        all_headers["Cookie"] = f"session_id={cookie}"
    try:
        conn.request(method, path, body=body, headers=all_headers)
        raw = conn.getresponse()
        data = raw.read()
        cookies: dict[str, str] = {}
        for name, value in raw.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                cookies[key] = rest.split(";", 1)[0]
        return Response(raw.status, {k.lower(): v for k, v in raw.getheaders()}, cookies, data)
    finally:
        conn.close()


def jsonrpc(port: int, path: str, params: dict[str, Any], *, headers: dict[str, str] | None = None,
            **kwargs: Any) -> Response:
    payload = json.dumps({"jsonrpc": "2.0", "method": "call", "params": params, "id": 1})
    return request(port, "POST", path, body=payload, headers={"Content-Type": "application/json", **(headers or {})},
                   **kwargs)


def login(port: int, host: str, *, user: str = "admin", password: str = "admin",
          headers: dict[str, str] | None = None) -> tuple[Response, str]:
    """Log in through /web/login; return the POST response and the session id to use next."""
    page = request(port, "GET", "/web/login", host=host, headers=headers)
    assert page.status == 200, page.text
    sid = page.cookies["session_id"]
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match is not None
    form = urllib.parse.urlencode({"login": user, "password": password, "csrf_token": match.group(1)})
    response = request(port, "POST", "/web/login", host=host, body=form, cookie=sid,
                       headers={"Content-Type": "application/x-www-form-urlencoded", **(headers or {})})
    return response, response.cookies.get("session_id", sid)


def session_db(port: int, host: str, sid: str, headers: dict[str, str] | None = None) -> Any:
    response = jsonrpc(port, "/web/session/get_session_info", {}, host=host, cookie=sid, headers=headers)
    assert response.status == 200
    payload = response.json()
    return payload["result"]["db"] if "result" in payload else None


def websocket_upgrade(port: int, host: str) -> str:
    """Send a websocket handshake; return the response's status line."""
    key = "dGhlIHNhbXBsZSBub25jZQ=="
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall((f"GET /websocket HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: http://{host}\r\n\r\n")
                     .encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    return data.split(b"\r\n", 1)[0].decode()


def children(pid: int) -> set[int]:
    """Every descendant process of ``pid`` (from /proc)."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        current = todo.pop()
        for task in Path(f"/proc/{current}/task").glob("*"):
            with contextlib.suppress(OSError):
                for child in (task / "children").read_text().split():
                    if int(child) not in found:
                        found.add(int(child))
                        todo.append(int(child))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class SimServer:
    """A running simulator server, stopped by PID when the context exits."""

    def __init__(self, conf: Path, *args: str, port: int, evented_port: int = 0) -> None:
        self.conf, self.args, self.port, self.evented_port = conf, args, port, evented_port
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> SimServer:
        out = (self.conf.parent / "stdout.txt").open("wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "odooplane.sim", "-c", str(self.conf), *self.args],
                                     stdout=out, stderr=subprocess.STDOUT, env=sim_env())
        out.close()
        wait_for(self._ready, what=f"simulator on port {self.port}")
        return self

    def _ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            pytest.fail(f"simulator exited with {self.proc.returncode}:\n{read_log(self.conf)}")
        try:
            return request(self.port, "GET", "/web/health").status == 200
        except OSError:
            return False

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def log(self) -> str:
        return read_log(self.conf)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(10)

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            descendants = children(self.proc.pid)
            self.stop()
            for pid in descendants:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
