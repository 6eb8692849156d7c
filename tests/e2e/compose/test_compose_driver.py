"""The compose driver on a real Docker Engine (a private dockerd, images built offline from a local
Debian base): the scenarios the local driver's e2e tests run — an estate of dedicated and pooled
environments on a managed cluster, routed and isolated through the edge; backup, verify, restore
(through the volumes' directories, then through the data-plane agent); a clone with its mail caught
by the mail sink container; an apply killed (SIGKILL) midway that the
next apply converges; down --purge leaving no container, volume or network."""

from __future__ import annotations

import json
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from cryptography.fernet import Fernet

from tests.e2e.test_clone import caught, credentials, send_mail
from tests.e2e.test_health import certificate, poll
from tests.support import alerting
from tests.support.docker_engine import DockerEngine
from tests.support.estate import TestEstate, make_estate, unique
from tests.support.services import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.docker]


def compose_estate(tmp_path: Path, engine: DockerEngine, base_image: str,
                   tenants: dict[str, dict[str, Any]]) -> TestEstate:
    # The simulator's image (a real Odoo stack on compose names an image: not built in CI).
    estate = make_estate(tmp_path, tenants, cluster="managed", stack={"series": "18.0", "simulator": True})
    estate.data["platform"]["driver"] = "compose"
    estate.data["platform"]["compose"] = {"project": unique("c"), "base_image": base_image, "edge_image": "build",
                                          "postgres_image": "build"}
    estate.data["platform"]["edge"]["bind"] = "127.0.0.1"
    estate.write()
    estate.env.update(DOCKER_HOST=engine.host, DOCKER_CONFIG=str(engine.root / "client"))
    return estate


def failures(stdout: str) -> object:
    """What an ``apply --json`` says failed (its failures and failed steps), else its output's tail."""
    try:
        result = json.loads(stdout)
    except ValueError:
        return stdout[-4000:]
    steps = [s for s in result.get("steps", []) if s.get("status") not in ("done", "skipped")]
    return {"failures": result.get("failures"), "error": result.get("error"), "steps": steps[-5:]}


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory, engine: DockerEngine, base_image: str) -> Iterator[TestEstate]:
    a, b = unique("a"), unique("b")
    pool = unique("s")
    estate = compose_estate(tmp_path_factory.mktemp("compose"), engine, base_image, {
        a: {"environments": {"prod": {"workers": 2, "modules": ["mail"],
                                      "resources": {"cpus": 1.5, "memory_mib": 3072}},
                             "staging": {"stage": "staging", "modules": ["mail"]}}},
        b: {"environments": {"prod": {"placement": {"shared": pool}}}},
    })
    estate.data["pools"] = {pool: {"processes": 1, "workers": 0, "resources": {"cpus": 1}}}
    cert, key = certificate(estate.path.parent, "prod", f"{a}-prod.localhost", 90)
    estate.data["platform"]["edge"]["tls"] = {"https_port": free_port(),
                                              "certificates": [{"cert_file": cert, "key_file": key}]}
    estate.write()
    estate.tenants = (a, b)  # type: ignore[attr-defined]
    # The estate's secrets key comes from the environment: the worker container gets it from a
    # secret file, never from its own environment.
    estate.env["ODOOPLANE_SECRET_KEY"] = Fernet.generate_key().decode()
    try:
        applied = estate.cli("apply", str(estate.path), "--json", check=False, timeout=1500)
        assert applied.returncode == 0, (failures(applied.stdout), applied.stderr[-4000:])
        yield estate
    finally:
        if not getattr(estate, "purged", False):  # the module's last test purges it and checks
            estate.cli("down", "-f", str(estate.path), "--purge", "--yes", check=False, timeout=600)


def edge_get(estate: TestEstate, host: str, path: str = "/web/login") -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{estate.edge_port}{path}", headers={"Host": host}, timeout=30)


def test_apply_runs_every_environment_in_containers_routed_by_the_edge(running: TestEstate) -> None:
    a, b = running.tenants  # type: ignore[attr-defined]
    status = running.status()
    assert status["healthy"], [(r["target"], r["state"], r["health"], r["route"]) for r in status["environments"]]
    for target in (f"{a}/prod", f"{a}/staging", f"{b}/prod"):
        tenant, env = target.split("/")
        assert edge_get(running, f"{tenant}-{env}.localhost").status_code == 200, target
        assert running.session_db(target) == f"{tenant}_{env}"
    assert edge_get(running, f"{a}-prod.localhost", "/web/Database/manager").status_code in (403, 400)
    plan = json.loads(running.cli("plan", str(running.path), "--json").stdout)
    assert plan["empty"], plan["changes"]


def https_get(estate: TestEstate, host: str, cafile: Path, path: str = "/web/login") -> tuple[str, bytes]:
    """(status line, the certificate the edge presented for ``host`` by SNI, DER), trusting ``cafile``."""
    port = estate.data["platform"]["edge"]["tls"]["https_port"]
    context = ssl.create_default_context(cafile=str(cafile))
    with socket.create_connection(("127.0.0.1", port), timeout=30) as raw, \
            context.wrap_socket(raw, server_hostname=host) as tls:
        tls.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        status = tls.recv(4096).split(b"\r\n", 1)[0].decode()
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return status, der


def test_the_edge_serves_https_with_the_estate_certificate(running: TestEstate, engine: DockerEngine) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    a, _ = running.tenants  # type: ignore[attr-defined]
    status, der = https_get(running, f"{a}-prod.localhost", running.path.parent / "prod.crt")
    assert status.startswith("HTTP/1.1 200"), status
    ours = x509.load_pem_x509_certificate((running.path.parent / "prod.crt").read_bytes())
    assert der == ours.public_bytes(serialization.Encoding.DER)
    # The key's copy in the edge's configuration is readable by the edge's user only.
    project = running.data["platform"]["compose"]["project"]
    certs = Path(running.data_dir) / "compose" / "edge" / "certs"
    keys = list(certs.glob("*.key"))
    assert len(keys) == 1 and keys[0].stat().st_mode & 0o777 == 0o600, (project, keys)


def test_resources_of_the_estate_are_the_engine_limits(running: TestEstate, engine: DockerEngine) -> None:
    a, _ = running.tenants  # type: ignore[attr-defined]
    project = running.data["platform"]["compose"]["project"]
    pool = next(iter(running.data["pools"]))
    limits = {}
    for service in (f"odoo-{a}__prod", f"pool-{pool}-0", "edge"):
        ids = engine.docker("ps", "-q", "--filter", f"label=com.docker.compose.project={project}",
                            "--filter", f"label=com.docker.compose.service={service}").stdout.split()
        assert len(ids) == 1, (service, ids)
        host = json.loads(engine.docker("inspect", ids[0]).stdout)[0]["HostConfig"]
        limits[service] = (host["NanoCpus"], host["Memory"])
    assert limits == {f"odoo-{a}__prod": (1_500_000_000, 3072 * 1024 * 1024), f"pool-{pool}-0": (1_000_000_000, 0),
                      "edge": (0, 0)}


def test_the_worker_runs_in_the_project_without_secrets_in_its_environment(
        running: TestEstate, engine: DockerEngine) -> None:
    """The worker is the project's ``worker`` service (Odooplane's own image, the host's network):
    it sweeps the estate's health through the same loopback addresses as the CLI and publishes it
    on the metrics port; the secrets key it needs reaches it as a 0600 secret file; nothing of it
    is supervised on this host."""
    a, b = running.tenants  # type: ignore[attr-defined]
    project = running.data["platform"]["compose"]["project"]
    ids = engine.docker("ps", "-q", "--filter", f"label=com.docker.compose.project={project}",
                        "--filter", "label=com.docker.compose.service=worker").stdout.split()
    assert len(ids) == 1, ids
    inspected = engine.docker("inspect", ids[0]).stdout
    details = json.loads(inspected)[0]
    assert details["State"]["Running"], details["State"]
    assert details["Config"]["Labels"]["odooplane.kind"] == "worker"
    assert details["Config"]["Image"].startswith("odooplane/control:")
    assert details["HostConfig"]["NetworkMode"] == "host"
    key = running.env["ODOOPLANE_SECRET_KEY"]
    assert key not in inspected, "the secrets key is in the worker container's configuration"
    assert not any(e.startswith("ODOOPLANE_SECRET_KEY=") for e in details["Config"]["Env"])
    env_file = next(m for m in details["Mounts"] if m["Destination"] == "/run/secrets/worker.env")
    assert Path(env_file["Source"]).stat().st_mode & 0o777 == 0o600
    assert json.loads(Path(env_file["Source"]).read_text())["ODOOPLANE_SECRET_KEY"] == key
    assert not list(Path(running.data_dir).glob("supervisor/**/worker.conf")), "a worker is supervised on the host"
    # Its health sweeps reached every environment (they read the cluster password with the key).
    metrics_port = int(running.data["platform"]["metrics_port"])

    def swept() -> list[alerting.Sample] | None:
        try:
            samples = alerting.scrape(metrics_port)
        except httpx.HTTPError:
            return None
        ups = [alerting.value(samples, "odooplane_env_up", tenant=t) for t in (a, b)]
        return samples if ups == [1, 1] else None

    poll("the worker container's first health sweep", swept, timeout=180)


def test_backup_verify_restore_in_containers(running: TestEstate, engine: DockerEngine) -> None:
    a, _ = running.tenants  # type: ignore[attr-defined]
    url = running.cluster_url().rsplit("/", 1)[0] + f"/{a}_prod"
    (cluster,) = engine.docker("ps", "-q", "--filter", "label=com.docker.compose.service=pg-main").stdout.split()
    since = engine.docker("info", "--format", "{{json .SystemTime}}").stdout.strip().strip('"')
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO res_partner (name, active) VALUES ('in-the-backup', true)")
    made = json.loads(running.cli("backup", "run", f"{a}/prod", "-f", str(running.path), "--json").stdout)
    assert made["backups"], made
    verified = json.loads(running.cli("verify", f"{a}/prod", "-f", str(running.path), "--json",
                                      timeout=900).stdout)
    assert verified[0]["ok"], verified
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO res_partner (name, active) VALUES ('after-the-backup', true)")
    running.cli("restore", f"{a}/prod", "-f", str(running.path), "--yes", "--json", timeout=900)
    with psycopg.connect(url, autocommit=True) as conn:
        names = {r[0] for r in conn.execute("SELECT name FROM res_partner").fetchall()}
    assert "in-the-backup" in names and "after-the-backup" not in names
    running.wait_serving()
    # The dump and both loads (verification sandbox, restore) ran the server's own tools in the
    # cluster's container, the restores as the database's own role, and left nothing in it.
    until = engine.docker("info", "--format", "{{json .SystemTime}}").stdout.strip().strip('"')
    events = engine.docker("events", "--since", since, "--until", until, "--filter", f"container={cluster}",
                           "--filter", "event=exec_start", "--format", "{{.Action}}").stdout.splitlines()
    tools = [e.split()[1] for e in events if len(e.split()) > 1 and e.split()[1] in ("pg_dump", "pg_restore")]
    assert tools.count("pg_dump") == 1 and tools.count("pg_restore") == 2, events
    restores = [e for e in events if " pg_restore " in f"{e} "]
    assert all(" -U " in e and " -U postgres " not in f"{e} " for e in restores), restores
    left = engine.docker("exec", cluster, "ls", "-A", "/tmp").stdout.split()
    assert not [n for n in left if n.startswith("odooplane-")], left


def test_filestores_reached_by_the_agent_back_up_and_restore_a_lost_attachment(
        running: TestEstate, engine: DockerEngine) -> None:
    """``platform.compose.storage: agent`` (what a remote DOCKER_HOST gets): backup, verify and
    restore stream the filestore through the data-plane agent's containers, never through the
    volume's directory on this host; a restore brings back an attachment lost after the backup,
    owned by Odoo's uid. The estate keeps this setting for the tests after this one."""
    a, _ = running.tenants  # type: ignore[attr-defined]
    running.data["platform"]["compose"]["storage"] = "agent"
    running.write()
    project = running.data["platform"]["compose"]["project"]
    db = f"{a}_prod"
    url = running.cluster_url().rsplit("/", 1)[0] + f"/{db}"
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT store_fname FROM ir_attachment WHERE store_fname IS NOT NULL LIMIT 1").fetchone()
    assert row is not None
    made = json.loads(running.cli("backup", "run", f"{a}/prod", "-f", str(running.path), "--json").stdout)
    assert made["backups"], made
    # The engine is on this host, so the test (not the driver) can look inside the volume.
    volume = engine.docker("volume", "inspect", "--format", "{{.Mountpoint}}", f"{project}_env-{a}__prod"
                           ).stdout.strip()
    attachment = Path(volume) / "filestore" / db / str(row[0])
    content = attachment.read_bytes()
    verified = json.loads(running.cli("verify", f"{a}/prod", "-f", str(running.path), "--json", timeout=900).stdout)
    assert verified[0]["ok"] and verified[0]["details"]["attachments"] > 0, verified
    attachment.unlink()
    running.cli("restore", f"{a}/prod", "-f", str(running.path), "--yes", "--json", timeout=900)
    assert attachment.read_bytes() == content
    assert (attachment.stat().st_uid, attachment.stat().st_gid) == (101, 101)
    assert sorted(p.name for p in (Path(volume) / "filestore").iterdir()) == [db]  # no staged or swapped-out copy
    running.wait_serving()
    assert edge_get(running, f"{a}-prod.localhost").status_code == 200
    assert "odooplane/agent" in engine.docker("image", "ls", "--format", "{{.Repository}}").stdout.split()
    assert engine.docker("ps", "--all", "--quiet", "--filter", "ancestor=odooplane/agent").stdout.split() == []


def volumes(engine: DockerEngine, project: str) -> list[str]:
    return engine.docker("volume", "ls", "--quiet", "--filter", f"label=com.docker.compose.project={project}"
                         ).stdout.split()


def test_clone_into_staging_catches_its_mail_in_the_sink(running: TestEstate, engine: DockerEngine) -> None:
    a, _ = running.tenants  # type: ignore[attr-defined]
    project = running.data["platform"]["compose"]["project"]
    done = json.loads(running.cli("clone", f"{a}/prod", f"{a}/staging", "-f", str(running.path), "--yes", "--json",
                                  timeout=900).stdout)
    assert done["checks"]["verified"] is True, done
    port = done["checks"]["mail_catcher_port"]
    url = running.cluster_url().rsplit("/", 1)[0] + f"/{a}_staging"
    with psycopg.connect(url, autocommit=True) as conn:
        servers = conn.execute("SELECT smtp_host, smtp_port FROM ir_mail_server WHERE active").fetchall()
    assert servers == [("mail-sink", port)]  # the sink's service name on the project's network
    creds = credentials(running, f"{a}/staging")
    send_mail(running, f"{a}-staging.localhost", f"{a}_staging", creds["password"], "Order C00042")
    messages = caught(running, f"{a}/staging", "Order C00042")
    assert [m["to"] for m in messages if m["subject"] == "Order C00042"] == [["customer@example.com"]]
    # Verification sandboxes leave no volume behind.
    assert not [v for v in volumes(engine, project) if "sandbox" in v]


def test_a_killed_apply_converges_then_down_purge_leaves_nothing(running: TestEstate, engine: DockerEngine) -> None:
    """Last of the module (its estate is purged): a tenant added, the apply killed (SIGKILL) once
    its database exists, before its container runs — the next apply converges; then ``down
    --purge`` leaves no container, volume, network or compose file of the project, and no image
    Odooplane built that no container uses."""
    tenant = unique("p")
    running.data["tenants"][tenant] = {"environments": {"prod": {}}}
    running.write()
    project = running.data["platform"]["compose"]["project"]
    killed = running.cli("apply", str(running.path), "-q", check=False, timeout=1500,
                         extra_env={"ODOOPLANE_TEST_KILL_POINT": "step:process"})
    assert killed.returncode == -9, (killed.stdout[-2000:], killed.stderr[-2000:])
    running.cli("apply", str(running.path), "-q", timeout=1500)
    assert edge_get(running, f"{tenant}-prod.localhost").status_code == 200
    assert json.loads(running.cli("plan", str(running.path), "--json").stdout)["empty"]
    running.wait_serving()
    running.cli("down", "-f", str(running.path), "--purge", "--yes", timeout=600)
    running.purged = True  # type: ignore[attr-defined]
    label = f"label=com.docker.compose.project={project}"
    for kind in ("container", "volume", "network"):
        args = [kind, "ls", "--quiet", "--filter", label] + (["--all"] if kind == "container" else [])
        listed = engine.docker(*args).stdout.split()
        assert listed == [], (kind, listed)
    assert not (running.data_dir / "compose" / "compose.yaml").exists()
    # The images Odooplane built are gone, but for those another estate's containers still use.
    in_use = set(engine.docker("ps", "--all", "--format", "{{.Image}}").stdout.split())
    built = set(engine.docker("image", "ls", "--filter", "label=odooplane.content", "--format",
                              "{{.Repository}}:{{.Tag}}").stdout.split())
    assert built <= in_use, built - in_use
