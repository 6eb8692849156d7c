"""The compose project renderer: golden files pin the whole project; the Compose Specification
(check-jsonschema's vendored schema) validates every golden file; the rules that keep secrets out
of the YAML and names safe fail with the object they concern."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from odooplane.drivers.base import ProcessSpec
from odooplane.drivers.compose import artifacts
from odooplane.errors import PermanentError
from odooplane.render import compose, dockerfile, traefik
from tests.unit.render import test_renderers as renderers

GOLDEN = Path(__file__).parent / "golden" / "compose"
PROJECT_DIR = "/srv/odooplane/compose"


def check_golden(name: str, text: str) -> None:
    renderers.check_golden(f"compose/{name}", text)


def odoo(name: str, target: str, *, kind: str = "environment", storage: str | None = None, http_port: int,
         **extra: object) -> compose.OdooService:
    values: dict[str, object] = dict(
        name=name, kind=kind, target=target, image="odooplane/sim:0123456789abcdef0123",
        entrypoint=dockerfile.SIMULATOR.entrypoint, conf=f"{PROJECT_DIR}/secrets/{name}.conf",
        storage=storage or f"env-{name.removeprefix('odoo-')}", http_port=http_port, revision=f"rev-{name}",
        depends_on=("pg-main",),
    )
    values.update(extra)
    return compose.OdooService(**values)  # type: ignore[arg-type]


def reference() -> compose.Project:
    """Two dedicated environments (one prefork), a pool of two processes, a managed cluster, the
    edge without TLS, the mail sink and the worker."""
    return compose.Project(
        name="odooplane-default",
        estate="default",
        odoo=(
            odoo("odoo-acme__prod", "acme/prod", http_port=20001, evented=True,
                 resources=compose.Resources(cpus=1.5, memory_mib=2048),
                 mounts=(compose.Mount("/srv/addons/acme", f"{dockerfile.ADDONS_DIR}/0"),)),
            odoo("odoo-acme__staging", "acme/staging", http_port=20003, stop_grace_s=20),
            odoo("pool-shared-0", "pool shared", kind="pool", storage="pool-shared", http_port=20005, evented=True),
            odoo("pool-shared-1", "pool shared", kind="pool", storage="pool-shared", http_port=20007, evented=True),
        ),
        edge=compose.EdgeService(image="odooplane/traefik:3.7.15", config_dir=f"{PROJECT_DIR}/edge",
                                 log_dir="/srv/odooplane/logs/edge", http_port=8800, api_port=8801,
                                 revision="rev-edge", bind="0.0.0.0"),
        clusters=(compose.PostgresService(name="main", image="odooplane/postgres:15",
                                          password=f"{PROJECT_DIR}/secrets/pg-main", host_port=25432,
                                          revision="rev-pg", settings={"shared_buffers": "256MB"}),),
        mail_sink=compose.SupportService(name="mail-sink", image="odooplane/control:1",
                                         command=("odooplane", "mail-sink", "--listen", "0.0.0.0:2525"),
                                         revision="rev-mail", ports=(compose.Published(8025, 8825),)),
        worker=worker(),
    )


def worker() -> compose.SupportService:
    """The worker as the compose driver makes it from the worker's process (operations/provision.py)."""
    spec = ProcessSpec(name="worker", kind="service",
                       argv=("/usr/bin/python3", "-m", "odooplane", "--log-level", "info", "worker", "-f",
                             "/srv/estate/estate.yaml"),
                       cwd=Path("/srv/odooplane"), log_file=Path("/srv/odooplane/logs/worker.log"),
                       env={"ODOOPLANE_SECRET_KEY": "not-in-the-yaml"}, stop_wait_s=120,
                       paths=(Path("/srv/backups"),), read_paths=(Path("/srv/estate"), Path("/srv/addons/acme")))
    return artifacts.worker_service(spec, image="odooplane/control:1", env_file=f"{PROJECT_DIR}/secrets/worker.env",
                                    env_digest="0" * 64, socket=Path("/run/docker.sock"))


def minimal() -> compose.Project:
    """One threaded environment on an external cluster, nothing else."""
    return compose.Project(name="tiny", estate="tiny", odoo=(
        odoo("odoo-solo__prod", "solo/prod", http_port=20001, image="odoo:18.0",
             entrypoint=dockerfile.OFFICIAL.entrypoint, depends_on=()),))


def test_reference_project_matches_its_golden_file() -> None:
    check_golden("reference.yaml", compose.render(reference()))


def test_minimal_project_matches_its_golden_file() -> None:
    text = compose.render(minimal())
    check_golden("minimal.yaml", text)
    data = yaml.safe_load(text)
    assert set(data) == {"name", "services", "networks", "volumes", "secrets"}
    # odoo itself, not the official image's /entrypoint.sh: that one puts db_password in argv
    assert data["services"]["odoo-solo__prod"]["entrypoint"] == ["odoo"]


def test_edge_configuration_routes_to_services_on_the_project_network() -> None:
    """traefik.yml and the dynamic files, rendered by render/traefik.py with container addresses."""
    check_golden("edge/traefik.yml", traefik.render_static(compose.edge_static(access_log=True)))
    prod = compose.container_route(traefik.EnvRoute(
        name="acme__prod", hostnames=("acme-prod.localhost",), http_port=20001, evented_port=20002, series_major=18),
        "odoo-acme__prod")
    staging = compose.container_route(traefik.EnvRoute(
        name="acme__staging", hostnames=("acme-staging.localhost",), http_port=20003, evented_port=None,
        series_major=18), "odoo-acme__staging")
    shared = compose.container_route(traefik.EnvRoute(
        name="initech__prod", hostnames=("initech-prod.localhost",), http_port=None, evented_port=None,
        series_major=18, pool="pool-shared", pool_evented=True, database="initech_prod"), None)
    pool = compose.container_pool("pool-shared", ("pool-shared-0", "pool-shared-1"), evented=True)
    files = {"acme__prod.yaml": traefik.render_env(prod), "acme__staging.yaml": traefik.render_env(staging),
             "initech__prod.yaml": traefik.render_env(shared), "pool-shared.yaml": traefik.render_pool(pool)}
    for name, text in files.items():
        check_golden(f"edge/dynamic/{name}", text)
    prod_services = yaml.safe_load(files["acme__prod.yaml"])["http"]["services"]
    assert prod_services["acme__prod"]["loadBalancer"]["servers"] == [{"url": "http://odoo-acme__prod:8069"}]
    assert prod_services["acme__prod.evented"]["loadBalancer"]["servers"] == [{"url": "http://odoo-acme__prod:8072"}]
    pool_services = yaml.safe_load(files["pool-shared.yaml"])["http"]["services"]
    assert [s["url"] for s in pool_services["pool-shared.evented"]["loadBalancer"]["servers"]] == [
        "http://pool-shared-0:8072", "http://pool-shared-1:8072"]


def test_golden_projects_follow_the_compose_specification() -> None:
    files = sorted(str(p) for p in GOLDEN.glob("*.yaml"))
    assert len(files) >= 2
    result = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
                             *files], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_specification_check_catches_what_compose_refuses(tmp_path: Path) -> None:
    """The check above can fail: a misspelt service key is refused by the same schema."""
    data = yaml.safe_load(compose.render(minimal()))
    data["services"]["odoo-solo__prod"]["restart_policy"] = "always"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data))
    result = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
                             str(bad)], capture_output=True, text=True, check=False)
    assert result.returncode == 1 and "restart_policy" in result.stdout


def test_render_is_deterministic_and_ends_with_a_newline() -> None:
    first, second = compose.render(reference()), compose.render(reference())
    assert first == second and first.endswith("\n") and not first.endswith("\n\n")
    shuffled = dataclasses.replace(reference(), odoo=tuple(reversed(reference().odoo)))
    assert compose.render(shuffled) == first  # services are keyed by name: order does not matter


def test_odoo_reads_its_conf_from_a_file_secret_at_the_path_odoo_reads() -> None:
    data = yaml.safe_load(compose.render(reference()))
    service = data["services"]["odoo-acme__prod"]
    assert service["secrets"] == [{"source": "odoo-acme__prod.conf", "target": "/etc/odoo/odoo.conf"}]
    assert data["secrets"]["odoo-acme__prod.conf"]["file"] == f"{PROJECT_DIR}/secrets/odoo-acme__prod.conf"
    assert service["command"] == ["-c", "/etc/odoo/odoo.conf"]
    assert service["user"] == "101:101"
    assert service["volumes"][0] == {"type": "volume", "source": "env-acme__prod", "target": "/var/lib/odoo",
                                     "read_only": False}


def test_no_service_carries_a_secret_in_its_environment() -> None:
    data = yaml.safe_load(compose.render(reference()))
    pg = data["services"]["pg-main"]
    assert pg["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/pg-main.password"
    assert "POSTGRES_PASSWORD" not in pg["environment"]
    assert data["secrets"]["pg-main.password"] == {"file": f"{PROJECT_DIR}/secrets/pg-main",
                                                   "labels": {"odooplane.estate": "default",
                                                              "odooplane.target": "cluster main"}}
    for name, service in data["services"].items():
        for key in service.get("environment", {}):
            assert "PASSWORD" not in key or key.endswith("_FILE"), (name, key)


@pytest.mark.parametrize("key", ["ODOOPLANE_DB_PASSWORD", "API_TOKEN", "AWS_SECRET_ACCESS_KEY", "RESTIC_KEY"])
def test_an_environment_variable_named_like_a_secret_is_refused(key: str) -> None:
    worker = dataclasses.replace(reference().worker, environment={key: "x"})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=f"service worker: environment variable {key} looks like a secret"):
        compose.render(dataclasses.replace(reference(), worker=worker))


def test_published_ports_are_loopback_except_the_edge_entry_points() -> None:
    data = yaml.safe_load(compose.render(reference()))
    public = {(name, p["target"]) for name, s in data["services"].items() for p in s.get("ports", [])
              if p["host_ip"] != "127.0.0.1"}
    assert public == {("edge", compose.EDGE_HTTP_PORT)}
    edge_ports = {p["target"]: (p["host_ip"], p["published"]) for p in data["services"]["edge"]["ports"]}
    assert edge_ports[compose.EDGE_API_PORT] == ("127.0.0.1", "8801")
    assert data["services"]["pg-main"]["ports"] == [
        {"target": 5432, "published": "25432", "host_ip": "127.0.0.1", "protocol": "tcp"}]


def test_the_worker_runs_on_the_host_network_with_the_engine_socket_and_its_paths() -> None:
    service = yaml.safe_load(compose.render(reference()))["services"]["worker"]
    assert service["network_mode"] == "host" and "ports" not in service
    assert service["user"] == "0:0" and service["cap_drop"] == ["ALL"]
    assert service["cap_add"] == ["CHOWN", "DAC_OVERRIDE", "FOWNER"]
    mounts = {m["target"]: (m["source"], m["read_only"]) for m in service["volumes"]}
    assert mounts == {"/var/run/docker.sock": ("/run/docker.sock", False),
                      "/srv/odooplane": ("/srv/odooplane", False), "/srv/backups": ("/srv/backups", False),
                      "/srv/estate": ("/srv/estate", True), "/srv/addons/acme": ("/srv/addons/acme", True)}
    assert service["command"] == ["--log-level", "info", "worker", "-f", "/srv/estate/estate.yaml"]
    assert service["secrets"] == [{"source": "worker.env", "target": "/run/secrets/worker.env"}]
    assert "not-in-the-yaml" not in compose.render(reference())
    assert service["environment"]["ODOOPLANE_ENV_FILE"] == "/run/secrets/worker.env"


def test_a_changed_secret_or_image_changes_the_worker_revision() -> None:
    base = worker()
    spec = ProcessSpec(name="worker", kind="service", argv=("python", "-m", "odooplane", "worker"),
                       cwd=Path("/srv/odooplane"), log_file=Path("/srv/odooplane/worker.log"))
    revisions = {artifacts.worker_service(spec, image=image, env_file="/s/worker.env", env_digest=digest,
                                          socket=Path("/run/docker.sock")).revision
                 for image, digest in (("odooplane/control:1", "a"), ("odooplane/control:1", "b"),
                                       ("odooplane/control:2", "a"))}
    assert len(revisions) == 3 and base.revision not in revisions


def test_only_odooplane_itself_runs_as_the_worker_container() -> None:
    spec = ProcessSpec(name="worker", kind="service", argv=("/bin/sh", "-c", "true"), cwd=Path("/srv"),
                       log_file=Path("/srv/w.log"))
    with pytest.raises(PermanentError, match="runs only Odooplane itself"):
        artifacts.worker_service(spec, image="odooplane/control:1", env_file="/s/worker.env", env_digest="a",
                                 socket=Path("/run/docker.sock"))


def test_a_service_on_the_host_network_publishes_no_port() -> None:
    project = dataclasses.replace(reference(), worker=dataclasses.replace(
        worker(), ports=(compose.Published(9000, 9000),)))
    with pytest.raises(ValueError, match="service worker: a service on the host's network publishes no port"):
        compose.render(project)


def test_a_support_service_published_beyond_loopback_is_refused() -> None:
    sink = dataclasses.replace(reference().mail_sink, ports=(compose.Published(8025, 8825, "0.0.0.0"),))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"service mail-sink: port 8825 is published on 0\.0\.0\.0"):
        compose.render(dataclasses.replace(reference(), mail_sink=sink))


def test_every_object_is_labelled_with_the_estate() -> None:
    data = yaml.safe_load(compose.render(reference()))
    for kind in ("services", "volumes", "secrets", "networks"):
        for name, obj in data[kind].items():
            assert obj["labels"]["odooplane.estate"] == "default", (kind, name)
    labels = data["services"]["pool-shared-1"]["labels"]
    assert labels == {"odooplane.estate": "default", "odooplane.target": "pool shared", "odooplane.kind": "pool",
                      "odooplane.revision": "rev-pool-shared-1"}


def test_a_pool_shares_one_volume_between_its_processes() -> None:
    data = yaml.safe_load(compose.render(reference()))
    sources = {data["services"][f"pool-shared-{i}"]["volumes"][0]["source"] for i in (0, 1)}
    assert sources == {"pool-shared"}
    assert set(data["volumes"]) == {"env-acme__prod", "env-acme__staging", "pool-shared", "pg-main.data"}


def test_resources_and_health_are_rendered_when_given() -> None:
    data = yaml.safe_load(compose.render(reference()))
    prod, staging = data["services"]["odoo-acme__prod"], data["services"]["odoo-acme__staging"]
    assert (prod["cpus"], prod["mem_limit"]) == (1.5, "2048m")
    assert "cpus" not in staging and "mem_limit" not in staging
    assert prod["expose"] == ["8069", "8072"] and staging["expose"] == ["8069"]
    assert prod["healthcheck"]["test"][:3] == ["CMD", "python3", "-c"]
    assert "http://127.0.0.1:8069/web/health" in prod["healthcheck"]["test"][3]
    assert prod["depends_on"] == {"pg-main": {"condition": "service_healthy", "restart": True}}
    assert data["services"]["pg-main"]["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
    assert all(s["restart"] == "unless-stopped" for s in data["services"].values())


@pytest.mark.parametrize(("change", "message"), [
    ({"name": "Odooplane"}, "name 'Odooplane': a project name is lowercase"),
    ({"name": "-x"}, "name '-x': a project name"),
    ({"odoo": (odoo("odoo-Acme__prod", "acme/prod", http_port=1),)},
     "service odoo-Acme__prod: 'odoo-Acme__prod' is not"),
    ({"odoo": (odoo("odoo-a__b", "a/b", http_port=20001, image="odoo 18"),)},
     "service odoo-a__b: 'odoo 18' is not an image"),
    ({"odoo": (odoo("odoo-a__b", "a/b", http_port=20001, storage="../etc"),)}, "service odoo-a__b: '../etc' is not"),
    ({"odoo": (odoo("odoo-a__b", "a/b", http_port=20001, depends_on=("pg-other",)),)},
     "service odoo-a__b: depends on pg-other, which the project does not define"),
    ({"odoo": (odoo("odoo-a__b", "a/b", http_port=25432),)}, "127.0.0.1:25432 is already published by service pg-main"),
    ({"odoo": (odoo("odoo-a__b", "a/b", http_port=20001, mounts=(compose.Mount("addons", "/mnt/x"),)),)},
     "service odoo-a__b: 'addons' is not an absolute path"),
    ({"estate": "a\nb"}, "label odooplane.estate: the value is not one line"),
])
def test_bad_input_is_refused_naming_the_object_and_the_rule(change: dict[str, object], message: str) -> None:
    project = dataclasses.replace(reference(), mail_sink=None, worker=None, edge=None, **change)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(".", r"\.")):
        compose.render(project)


def test_two_services_of_one_name_are_refused() -> None:
    twice = odoo("odoo-a__b", "a/b", http_port=20011)
    with pytest.raises(ValueError, match="service odoo-a__b: defined twice"):
        compose.render(dataclasses.replace(reference(), odoo=(twice, dataclasses.replace(twice, http_port=20012))))


def test_a_pool_needs_one_backend_host_per_process() -> None:
    with pytest.raises(ValueError, match="pool pool-x: one backend host and port per process"):
        traefik.render_pool(traefik.PoolService(name="pool-x", http_ports=(8069, 8069), evented_ports=(),
                                                backend_hosts=("pool-x-0",)))
