"""What the compose driver writes, as pure functions of the desired state: the services of the
project (render/compose.py turns them into compose.yaml), each Odoo workload's odoo.conf, the
edge's static and dynamic configuration. The driver builds images and writes secret files with
these; ``odooplane render`` shows them without applying anything (an image Odooplane would build is
named symbolically there)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from odooplane.drivers.base import (
    Artifacts,
    ClusterSpec,
    DesiredRuntime,
    EdgeSpec,
    OdooWorkload,
    ProcessSpec,
    StackRef,
)
from odooplane.drivers.compose.images import MAIL_SINK_ENTRYPOINT, REPOSITORY
from odooplane.errors import PermanentError
from odooplane.estate.models import ComposeSettings
from odooplane.render import compose as render
from odooplane.render import dockerfile, odoo_conf
from odooplane.render import traefik as render_traefik

MAIL_SINK: Literal["mail-sink"] = "mail-sink"
WORKER: Literal["worker"] = "worker"
WORKER_ENV_FILE = "/run/secrets/worker.env"
ENGINE_SOCKET = "/var/run/docker.sock"
IN_CONTAINER_VAR = "ODOOPLANE_IN_CONTAINER"  # "compose": the process runs in the project's worker service
# The worker writes the edge's files and secret files owned by the images' users, as on the host.
WORKER_CAPABILITIES = ("CHOWN", "DAC_OVERRIDE", "FOWNER")
BUILT = "built"  # the tag an image Odooplane builds is named by here (it is its content hash when built)


@dataclass(frozen=True)
class OdooImage:
    image: str
    entrypoint: tuple[str, ...]
    uid: int
    gid: int


def odoo_image(stack: StackRef, *, built: str | None) -> OdooImage:
    """The image of an Odoo workload of ``stack``: the simulator's, or one built from the stack's
    source tree (``built``: its tag, once built), or the stack's image run with the official image's
    conventions."""
    if stack.simulator:
        tag = built or f"{REPOSITORY}/simulator:{BUILT}"
        return OdooImage(tag, dockerfile.SIMULATOR.entrypoint, dockerfile.SIMULATOR.uid, dockerfile.SIMULATOR.gid)
    if stack.image:
        return OdooImage(stack.image, dockerfile.OFFICIAL.entrypoint, dockerfile.OFFICIAL.uid, dockerfile.OFFICIAL.gid)
    if stack.source:
        tag = built or f"{REPOSITORY}/odoo:{BUILT}"
        return OdooImage(tag, dockerfile.SOURCE.entrypoint, dockerfile.SOURCE.uid, dockerfile.SOURCE.gid)
    raise PermanentError("an Odoo stack on the compose driver names an image (stacks.<name>.image, e.g. "
                         "odoo:18.0) or a source tree Odooplane builds one from (stacks.<name>.source)")


def conf_text(w: OdooWorkload, managed: Collection[str]) -> str:
    """odoo.conf of ``w`` inside its container (``managed``: the clusters that are services of the
    project, reached by their service name)."""
    if w.cluster in managed:
        host, port = render.cluster_service(w.cluster), render.POSTGRES_PORT
    else:
        host, port = w.cluster_address
        if host in ("127.0.0.1", "localhost", "::1"):
            raise PermanentError(f"{w.target}: cluster {w.cluster} is at {host}, which a container cannot reach "
                                 "(its own loopback): use a managed cluster or a host the containers reach")
    addons = tuple(f"{dockerfile.ADDONS_DIR}/{i}" for i, _ in enumerate(w.stack.addons))
    return odoo_conf.render_placed(w.settings, odoo_conf.Placement(
        db_host=host, db_port=port, data_dir=dockerfile.DATA_DIR, addons_path=addons,
        http_port=dockerfile.HTTP_PORT, evented_port=dockerfile.EVENTED_PORT, logfile="",
        http_interface="0.0.0.0"))


def odoo_service(w: OdooWorkload, managed: Collection[str], *, image: OdooImage, conf: str) -> render.OdooService:
    """The service of ``w`` (``conf``: the host file of its odoo.conf)."""
    kind: Literal["environment", "pool"] = "pool" if w.role == "pool" else "environment"
    mounts = tuple(render.Mount(source, f"{dockerfile.ADDONS_DIR}/{i}") for i, source in enumerate(w.stack.addons))
    depends = (render.cluster_service(w.cluster),) if w.cluster in managed else ()
    return render.OdooService(name=w.name, kind=kind, target=w.target, image=image.image,
                              entrypoint=image.entrypoint, conf=conf, storage=w.storage, http_port=w.http_port,
                              revision=w.revision, uid=image.uid, gid=image.gid, evented=w.evented,
                              stop_grace_s=w.stop_grace_s, depends_on=depends, mounts=mounts,
                              resources=render.Resources(cpus=w.cpus, memory_mib=w.memory_mib))


PITR_DIR = "/var/lib/pgbackrest"  # a managed cluster's pgBackRest volume, in its container


def postgres_service(spec: ClusterSpec, *, image: str, password_file: str) -> render.PostgresService:
    revision = hashlib.sha256(repr((image, spec.port, spec.settings, spec.superuser_password)
                                   + (("pitr",) if spec.pitr else ())).encode()
                              ).hexdigest()[:16]
    return render.PostgresService(name=spec.name, image=image, password=password_file, host_port=spec.port,
                                  revision=revision, settings={k: str(v) for k, v in spec.settings},
                                  pitr_dir=PITR_DIR if spec.pitr else None)


CERTS_DIR = "certs"  # beside traefik.yml in the edge's configuration directory (mounted read-only)


ACME_DIR = "acme"  # beside traefik.yml: the edge's ACME storage (0700, the edge's uid), mounted writable


def edge_static(edge: EdgeSpec) -> str:
    return render_traefik.render_static(render.edge_static(
        access_log=edge.access_log, trusted_proxies=edge.trusted_proxies, https=edge.https_address is not None,
        redirect_http=edge.redirect_http, acme_email=edge.acme_email, acme_ca=edge.acme_ca))


def edge_certificates(edge: EdgeSpec) -> list[tuple[tuple[str, str], tuple[str, str]]]:
    """Each certificate pair of the edge (``(cert_file, key_file)`` of this host) and where its copy
    goes, relative to the edge directory: named by the digest of both files, so a renewed certificate
    is a new name, which changes ``common.yaml`` and makes Traefik load it."""
    out = []
    for cert_file, key_file in edge.certificates:
        digest = hashlib.sha256()
        for path in (cert_file, key_file):
            try:
                digest.update(Path(path).read_bytes())
            except OSError as exc:
                raise PermanentError(f"{path}: cannot read this certificate file ({exc.strerror})") from None
        name = digest.hexdigest()[:16]
        out.append(((cert_file, key_file), (f"{CERTS_DIR}/{name}.crt", f"{CERTS_DIR}/{name}.key")))
    return out


def edge_common(copies: Collection[tuple[str, str]]) -> str:
    """The shared dynamic file, naming the certificate copies at their path in the container."""
    return render_traefik.render_common(tuple((f"{render.EDGE_CONFIG_DIR}/{cert}", f"{render.EDGE_CONFIG_DIR}/{key}")
                                              for cert, key in copies))


def edge_service(edge: EdgeSpec, *, image: str, edge_dir: Path, static: str) -> render.EdgeService:
    bind, _, port = edge.http_address.rpartition(":")
    https_port = int(edge.https_address.rpartition(":")[2]) if edge.https_address else None
    return render.EdgeService(
        image=image, config_dir=str(edge_dir), log_dir=str(edge_dir / "logs"), http_port=int(port),
        api_port=edge.api_port, revision=hashlib.sha256((image + static).encode()).hexdigest()[:16],
        bind=bind or "0.0.0.0", https_port=https_port,
        acme_dir=str(edge_dir / ACME_DIR) if edge.acme_email else None)


def route_text(route: render_traefik.EnvRoute) -> str:
    return render_traefik.render_env(render.container_route(route, None if route.pool else f"odoo-{route.name}"))


def pool_text(service: render_traefik.PoolService) -> str:
    processes = tuple(f"{service.name}-{i}" for i in range(len(service.http_ports)))
    return render_traefik.render_pool(render.container_pool(service.name, processes,
                                                            evented=bool(service.evented_ports)))


def mail_sink_service(listeners: Mapping[int, Path], *, image: str, mail_dir: Path) -> render.SupportService:
    """The mail sink: one listener per non-production environment's port (published on 127.0.0.1
    too); messages land in the control plane's mail directories (bind mounts at the same paths)."""
    command: list[str] = ["--host", "0.0.0.0"]
    for port, directory in sorted(listeners.items()):
        command += ["--listen", f"{port}={directory}"]
    return render.SupportService(
        name=MAIL_SINK, image=image, command=tuple(command), entrypoint=MAIL_SINK_ENTRYPOINT,
        revision=hashlib.sha256(repr((image, command)).encode()).hexdigest()[:16],
        ports=tuple(render.Published(port, port) for port in sorted(listeners)),
        mounts=(render.Mount(str(mail_dir), str(mail_dir), read_only=False),), uid=0, gid=0)


RENDER_KEY = b""  # render's key for env_digest: the driver keys it with a random key of the project's


def env_text(spec: ProcessSpec) -> str:
    """The worker's secret file: its variables as a JSON object (``cli.main.load_env_file`` reads it)."""
    return json.dumps(dict(spec.env), sort_keys=True)


def env_digest(text: str, key: bytes) -> str:
    """A digest of the worker's secret file keyed with ``key`` (the revision changes with a secret,
    and a label never carries a plain hash of one)."""
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def worker_service(spec: ProcessSpec, *, image: str, env_file: str, env_digest: str,
                   socket: Path) -> render.SupportService:
    """Odooplane's worker (``spec``: ``python -m odooplane … worker``) as the project's ``worker``
    service of the control image: on the host's network (it reaches clusters, Odoo and the edge on
    the same loopback addresses as the CLI), the engine's unix ``socket``, the data directory and
    every path ``spec`` names mounted at their host paths, and the variables of ``spec.env`` in the
    0600 secret file ``env_file`` — never in the container's environment. ``env_digest`` (a digest
    of that file's content) is part of the revision: a changed secret recreates the container."""
    if spec.argv[1:3] != ("-m", "odooplane"):
        raise PermanentError(f"process {spec.name}: the compose driver runs only Odooplane itself in a container "
                             f"(python -m odooplane …), not {spec.argv[0]}")
    command = tuple(spec.argv[3:])
    mounts = [render.Mount(str(socket), ENGINE_SOCKET, read_only=False)]
    writes = sorted({spec.cwd, *spec.paths})
    mounts += [render.Mount(str(p), str(p), read_only=False) for p in writes]
    mounts += [render.Mount(str(p), str(p)) for p in sorted(set(spec.read_paths) - set(writes))]
    environment = {"DOCKER_HOST": f"unix://{ENGINE_SOCKET}", "ODOOPLANE_ENV_FILE": WORKER_ENV_FILE,
                   IN_CONTAINER_VAR: "compose", "HOME": str(spec.cwd)}
    revision = hashlib.sha256(repr((image, command, mounts, sorted(environment.items()), sorted(spec.env),
                                    env_digest)).encode()).hexdigest()[:16]
    return render.SupportService(
        name=WORKER, image=image, command=command, revision=revision, mounts=tuple(mounts),
        secrets=(render.SecretFile("worker.env", env_file, WORKER_ENV_FILE),), environment=environment,
        uid=0, gid=0, stop_grace_s=spec.stop_wait_s, host_network=True, cap_add=WORKER_CAPABILITIES,
        working_dir=str(spec.cwd))


def _built_or(image: str, name: str) -> str:
    return f"{REPOSITORY}/{name}:{BUILT}" if image == "build" else image


def render_artifacts(desired: DesiredRuntime, *, root: Path, project: str, estate_id: str, edge: EdgeSpec,
                     settings: ComposeSettings, mail_dir: Path) -> Artifacts:
    """Every file the compose driver would write for ``desired``, by its path relative to its
    directory ``root`` (``<data_dir>/compose``): compose.yaml, each workload's odoo.conf (a secret
    file), the edge's configuration, the worker's secret file (unless ``worker: host``; it mounts
    the engine's default socket). Images it would build are named
    ``odooplane/<name>:<built>``; cluster password files are secrets only: they are not rendered."""
    managed = {c.name for c in desired.clusters}
    secrets = root / "secrets"
    out: dict[str, str] = {}
    services = []
    for w in desired.workloads:
        conf = secrets / f"{w.name}.conf"
        out[str(conf.relative_to(root))] = conf_text(w, managed)
        image = odoo_image(w.stack, built=None)
        services.append(odoo_service(w, managed, image=image, conf=str(conf)))
    clusters = tuple(postgres_service(c, image=_built_or(settings.postgres_image, "postgres"),
                                      password_file=str(secrets / f"pg-{c.name}.password"))
                     for c in sorted(desired.clusters, key=lambda c: c.name))
    edge_dir = root / "edge"
    static = edge_static(edge)
    out["edge/traefik.yml"] = static
    out["edge/dynamic/common.yaml"] = edge_common([copy for _, copy in edge_certificates(edge)])
    for route in desired.routes:
        out[f"edge/dynamic/env-{route.name}.yaml"] = route_text(route)
    for pool in desired.pool_services:
        out[f"edge/dynamic/{pool.name}.yaml"] = pool_text(pool)
    listeners = {m.port: m.directory for m in desired.mail_listeners}
    sink = (mail_sink_service(listeners, image=f"{REPOSITORY}/mail-sink:{BUILT}", mail_dir=mail_dir)
            if listeners else None)
    worker = None
    for spec in desired.processes:
        if spec.name == WORKER and settings.worker != "host":
            # Its secret file holds the placeholders; the revision is keyed on the real one's content.
            text = env_text(spec)
            out[str((secrets / "worker.env").relative_to(root))] = text
            worker = worker_service(spec, image=f"{REPOSITORY}/control:{BUILT}", env_file=str(secrets / "worker.env"),
                                    env_digest=env_digest(text, RENDER_KEY), socket=Path(ENGINE_SOCKET))
    out["compose.yaml"] = render.render(render.Project(
        name=project, estate=estate_id or "estate", odoo=tuple(sorted(services, key=lambda s: s.name)),
        edge=edge_service(edge, image=_built_or(settings.edge_image, "edge"), edge_dir=edge_dir, static=static),
        clusters=clusters, mail_sink=sink, worker=worker))
    return dict(sorted(out.items()))
