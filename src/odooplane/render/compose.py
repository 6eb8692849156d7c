"""Render one Docker Compose project for an estate (a pure function of frozen inputs).

The project (``name:``) holds, on one network, every workload of the estate:

- ``odoo-<tenant>__<env>`` per dedicated environment and ``pool-<pool>-<i>`` per pool process:
  the stack's image run as its unprivileged user (render/dockerfile.py's conventions), odoo.conf
  at ``/etc/odoo/odoo.conf`` from a compose secret, the data_dir a named volume at
  ``/var/lib/odoo`` (one per environment; a pool's processes share theirs), HTTP (8069) published
  on 127.0.0.1 for the control plane's probes; the edge reaches 8069 and the evented 8072 by
  service name on the project network;
- ``edge``: Traefik with the local driver's routing (render/traefik.py, see ``container_route``
  and ``container_pool``), its configuration directory mounted read-only at ``/etc/traefik``
  (``traefik.yml`` and the file provider's ``dynamic/``), HTTP(S) published on the estate's
  bind address, the API/ping/metrics entry point on 127.0.0.1 only;
- ``pg-<cluster>`` per managed cluster: the official postgres image's conventions (password from
  ``POSTGRES_PASSWORD_FILE``, a named volume for PGDATA), published on 127.0.0.1 for the control
  plane's SQL and dumps;
- the optional ``mail-sink`` and ``worker`` support services.

Secrets. Nothing secret is in the YAML or in any ``environment:``: odoo.conf (db_password, the
admin hash) and cluster passwords are compose secrets of type ``file``. Compose v2 bind-mounts such
a file read-only, as it is on the host — it ignores a secret's ``uid``/``gid``/``mode`` (a warning
says so) — so the driver writes each file mode 0600 and owned by the uid that reads it (the
image's Odoo user, 101; PostgreSQL's 999). The long syntax's absolute ``target`` places odoo.conf
where Odoo reads it; cluster passwords stay at the default ``/run/secrets/<name>``.

Revisions. A service's ``odooplane.revision`` label is the workload's revision: since compose
recreates a container whose configuration (labels included) changed, but does not look into secret
files, the revision must cover odoo.conf's content — then ``docker compose up -d`` restarts exactly
the services whose desired state changed.

Every service, volume, secret and the network carry ``odooplane.estate``; services also
``odooplane.target``, ``odooplane.kind`` and ``odooplane.revision``. The YAML is deterministic:
keys sorted, lists in the order given.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import yaml

from odooplane.render import dockerfile, traefik

LABEL_ESTATE = "odooplane.estate"
LABEL_TARGET = "odooplane.target"
LABEL_KIND = "odooplane.kind"
LABEL_REVISION = "odooplane.revision"

EDGE_SERVICE = "edge"
EDGE_CONFIG_DIR = "/etc/traefik"  # traefik.yml + dynamic/ (the file provider's directory)
EDGE_DYNAMIC_DIR = f"{EDGE_CONFIG_DIR}/dynamic"
EDGE_LOG_DIR = "/var/log/traefik"
EDGE_ACME_DIR = "/var/lib/traefik-acme"  # ACME's account and certificates (acme.json), when the edge has ACME
EDGE_HTTP_PORT = 8000  # container ports: above 1024, so Traefik runs unprivileged
EDGE_HTTPS_PORT = 8443
EDGE_API_PORT = 8081
POSTGRES_PORT = 5432
POSTGRES_DATA = "/var/lib/postgresql/data"

_PROJECT_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")  # docker compose's rule for project names
_OBJECT_RE = re.compile(r"[a-z0-9][a-z0-9_.-]{0,62}")  # services, volumes, secrets: also DNS names
# Environment variables whose name says they hold a secret (a *_FILE names a file, and is fine).
_SECRET_NAME_RE = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|(?:^|_)KEY(?:$|_)|CREDENTIAL")
_ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_HEALTH_URL = f"http://127.0.0.1:{dockerfile.HTTP_PORT}/web/health"
# Every Odoo image has python3 (curl is not in the simulator's): exit 0 only on a 200.
ODOO_HEALTHCHECK = (
    "CMD", "python3", "-c",
    "import sys, urllib.request; "
    f"sys.exit(0 if urllib.request.urlopen('{_HEALTH_URL}', timeout=5).status == 200 else 1)",
)


@dataclass(frozen=True)
class Mount:
    """A mount of a service: a named volume of the project, or a host path (``bind``)."""

    source: str
    target: str  # absolute path in the container
    kind: Literal["volume", "bind"] = "bind"
    read_only: bool = True


@dataclass(frozen=True)
class Published:
    """A container port published on a host address (loopback unless said otherwise)."""

    container: int
    host: int
    host_ip: str = "127.0.0.1"


@dataclass(frozen=True)
class Resources:
    cpus: float | None = None
    memory_mib: int | None = None


@dataclass(frozen=True)
class SecretFile:
    """A compose secret of type file: ``file`` is the host path of a 0600 file owned by the uid
    that reads it (compose mounts it as is), mounted at ``target`` (default /run/secrets/<name>)."""

    name: str
    file: str
    target: str | None = None


@dataclass(frozen=True)
class OdooService:
    """One Odoo server: a dedicated environment's (``odoo-<tenant>__<env>``) or a pool process
    (``pool-<pool>-<i>``). ``conf`` is the host file of its odoo.conf (http_port 8069, gevent_port
    8072, data_dir /var/lib/odoo, http_interface 0.0.0.0, logfile empty: stdout)."""

    name: str
    kind: Literal["environment", "pool"]
    target: str  # acme/prod | pool shared
    image: str
    entrypoint: tuple[str, ...]
    conf: str
    storage: str  # named volume of its data_dir (a pool's processes name the same one)
    http_port: int  # on 127.0.0.1 of the host
    revision: str
    uid: int = dockerfile.OFFICIAL.uid
    gid: int = dockerfile.OFFICIAL.gid
    evented: bool = False  # prefork: the evented port serves /websocket (reached on the network)
    resources: Resources = field(default_factory=Resources)
    stop_grace_s: int = 30
    depends_on: tuple[str, ...] = ()  # services that must be healthy first (its managed cluster)
    mounts: tuple[Mount, ...] = ()  # addons directories (read-only)


@dataclass(frozen=True)
class EdgeService:
    """Traefik. ``config_dir`` (host) holds traefik.yml (``edge_static``) and ``dynamic/`` (one file
    per environment and pool, written atomically: the directory is mounted, so a renamed file is
    seen); ``log_dir`` (host, writable by ``uid``) receives the access log."""

    image: str
    config_dir: str
    log_dir: str
    http_port: int
    api_port: int  # on 127.0.0.1 only
    revision: str  # covers traefik.yml's text: a changed static configuration recreates the edge
    bind: str = "127.0.0.1"
    https_port: int | None = None
    entrypoint: tuple[str, ...] = ("traefik",)
    uid: int = dockerfile.EDGE_UID
    stop_grace_s: int = 10
    acme_dir: str | None = None  # host directory (0700, the edge's uid) mounted at EDGE_ACME_DIR


@dataclass(frozen=True)
class PostgresService:
    """A managed cluster ``pg-<name>``; ``password`` is the host file of its superuser's password,
    readable by the image's postgres user (uid 999 in the official image and in Odooplane's)."""

    name: str  # the cluster's name
    image: str
    password: str
    host_port: int  # on 127.0.0.1
    revision: str
    superuser: str = "postgres"
    data_dir: str = POSTGRES_DATA
    settings: Mapping[str, str] = field(default_factory=dict)  # postgres -c name=value
    resources: Resources = field(default_factory=Resources)
    stop_grace_s: int = 60
    pitr_dir: str | None = None  # where its point-in-time recovery volume (pgBackRest) is mounted


@dataclass(frozen=True)
class SupportService:
    """The mail sink or the worker: an image, its command, and what it needs."""

    name: Literal["mail-sink", "worker"]
    image: str
    command: tuple[str, ...]
    revision: str
    ports: tuple[Published, ...] = ()
    mounts: tuple[Mount, ...] = ()
    secrets: tuple[SecretFile, ...] = ()
    environment: Mapping[str, str] = field(default_factory=dict)  # never a secret: refused by name
    uid: int | None = None
    gid: int | None = None
    stop_grace_s: int = 10
    entrypoint: tuple[str, ...] = ()  # the image's own when empty
    host_network: bool = False  # the host's network stack (no published ports: it binds the host's)
    cap_add: tuple[str, ...] = ()  # capabilities kept (every other one is dropped)
    working_dir: str | None = None


@dataclass(frozen=True)
class Project:
    """Everything one estate runs on a Docker Engine."""

    name: str
    estate: str  # the estate's id (platform.name)
    odoo: tuple[OdooService, ...] = ()
    edge: EdgeService | None = None
    clusters: tuple[PostgresService, ...] = ()
    mail_sink: SupportService | None = None
    worker: SupportService | None = None


def pitr_volume(cluster: str) -> str:
    """The volume of managed cluster ``cluster``'s point-in-time recovery (its pgBackRest repository)."""
    return f"{cluster_service(cluster)}.pitr"


def cluster_service(cluster: str) -> str:
    """The service (and DNS) name of managed cluster ``cluster``: odoo.conf's db_host."""
    return f"pg-{cluster}"


def _err(where: str, rule: str) -> ValueError:
    return ValueError(f"compose project: {where}: {rule}")


def _name(value: str, where: str) -> str:
    if not _OBJECT_RE.fullmatch(value):
        raise _err(where, f"{value!r} is not a compose name (lowercase letters, digits, '_', '.', '-'; "
                          "at most 63, starting with a letter or digit)")
    return value


def _image(value: str, where: str) -> str:
    try:
        return dockerfile.check_image(value)
    except ValueError as exc:
        raise _err(where, str(exc)) from None


def _port(value: int, where: str) -> int:
    if not 1 <= value <= 65535:
        raise _err(where, f"port {value} is not between 1 and 65535")
    return value


def _abs(path: str, where: str) -> str:
    if not path.startswith("/") or not path.isprintable() or ":" in path:
        raise _err(where, f"{path!r} is not an absolute path (without ':')")
    return path


def _labels(project: Project, **extra: str) -> dict[str, str]:
    labels = {LABEL_ESTATE: project.estate}
    labels.update({f"odooplane.{key}": value for key, value in extra.items()})
    for key, value in labels.items():
        if not value.isprintable():
            raise _err(f"label {key}", "the value is not one line of printable text")
    return labels


def _service_labels(project: Project, *, target: str, kind: str, revision: str) -> dict[str, str]:
    return _labels(project, target=target, kind=kind, revision=revision)


def _published(ports: tuple[Published, ...], where: str) -> list[dict[str, Any]]:
    return [{"target": _port(p.container, where), "published": str(_port(p.host, where)), "host_ip": p.host_ip,
             "protocol": "tcp"} for p in ports]


def _mount(mount: Mount, where: str) -> dict[str, Any]:
    if mount.kind == "volume":
        _name(mount.source, where)
    else:
        _abs(mount.source, where)
    return {"type": mount.kind, "source": mount.source, "target": _abs(mount.target, where),
            "read_only": mount.read_only}


def _resources(service: dict[str, Any], resources: Resources, where: str) -> None:
    if resources.cpus is not None:
        if resources.cpus <= 0:
            raise _err(where, "cpus must be positive")
        service["cpus"] = resources.cpus
    if resources.memory_mib is not None:
        if resources.memory_mib <= 0:
            raise _err(where, "memory must be positive")
        service["mem_limit"] = f"{resources.memory_mib}m"


def _common(*, image: str, where: str, stop_grace_s: int, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "image": _image(image, where),
        "pull_policy": "missing",
        "restart": "unless-stopped",
        "stop_grace_period": f"{stop_grace_s}s",
        "labels": labels,
        "logging": {"driver": "json-file", "options": {"max-size": "10m", "max-file": "5"}},
    }


_CAPABILITY_RE = re.compile(r"[A-Z][A-Z_]{1,30}")


def _hardened(service: dict[str, Any]) -> None:
    # Odoo, Traefik and the support services need no capability (their ports are above 1024).
    service["cap_drop"] = ["ALL"]
    service["security_opt"] = ["no-new-privileges:true"]


def _environment(env: Mapping[str, str], where: str) -> dict[str, str]:
    for key, value in env.items():
        if not _ENV_NAME_RE.fullmatch(key):
            raise _err(where, f"{key!r} is not an environment variable name")
        if _SECRET_NAME_RE.search(key.upper()) and not key.endswith("_FILE"):
            raise _err(where, f"environment variable {key} looks like a secret: pass it as a secret file")
        if not value.isprintable():
            raise _err(where, f"environment variable {key}: the value is not one line of printable text")
    return dict(env)


def _odoo(project: Project, svc: OdooService, secrets: dict[str, dict[str, Any]],
          volumes: dict[str, dict[str, Any]]) -> dict[str, Any]:
    where = f"service {svc.name}"
    conf_secret = f"{svc.name}.conf"
    secrets[conf_secret] = {"file": svc.conf, "labels": _labels(project, target=svc.target)}
    volumes.setdefault(_name(svc.storage, where), {"labels": _labels(project, target=svc.target, kind="storage")})
    if not svc.entrypoint:
        raise _err(where, "the image's entry point is empty")
    service = _common(image=svc.image, where=where, stop_grace_s=svc.stop_grace_s,
                      labels=_service_labels(project, target=svc.target, kind=svc.kind, revision=svc.revision))
    service.update({
        "entrypoint": list(svc.entrypoint),
        "command": ["-c", dockerfile.CONF_PATH],
        "user": f"{svc.uid}:{svc.gid}",
        "secrets": [{"source": conf_secret, "target": dockerfile.CONF_PATH}],
        "volumes": [{"type": "volume", "source": svc.storage, "target": dockerfile.DATA_DIR, "read_only": False},
                    *(_mount(m, where) for m in svc.mounts)],
        "ports": _published((Published(dockerfile.HTTP_PORT, svc.http_port),), where),
        "expose": [str(dockerfile.HTTP_PORT), *([str(dockerfile.EVENTED_PORT)] if svc.evented else [])],
        "healthcheck": {"test": list(ODOO_HEALTHCHECK), "interval": "10s", "timeout": "6s", "retries": 3,
                        "start_period": "60s"},
    })
    if svc.depends_on:
        service["depends_on"] = {_name(dep, where): {"condition": "service_healthy", "restart": True}
                                 for dep in svc.depends_on}
    _resources(service, svc.resources, where)
    _hardened(service)
    return service


def _edge(project: Project, edge: EdgeService) -> dict[str, Any]:
    where = "service edge"
    ports = [Published(EDGE_HTTP_PORT, edge.http_port, edge.bind)]
    if edge.https_port is not None:
        ports.append(Published(EDGE_HTTPS_PORT, edge.https_port, edge.bind))
    ports.append(Published(EDGE_API_PORT, edge.api_port))
    config = f"--configFile={EDGE_CONFIG_DIR}/traefik.yml"
    service = _common(image=edge.image, where=where, stop_grace_s=edge.stop_grace_s,
                      labels=_service_labels(project, target="edge", kind="edge", revision=edge.revision))
    service.update({
        "entrypoint": list(edge.entrypoint),
        "command": [config],
        "user": f"{edge.uid}:{edge.uid}",
        "volumes": [_mount(Mount(edge.config_dir, EDGE_CONFIG_DIR), where),
                    _mount(Mount(edge.log_dir, EDGE_LOG_DIR, read_only=False), where),
                    *([_mount(Mount(edge.acme_dir, EDGE_ACME_DIR, read_only=False), where)] if edge.acme_dir else [])],
        "ports": _published(tuple(ports), where),
        # traefik healthcheck asks the ping endpoint its static configuration names.
        "healthcheck": {"test": ["CMD", edge.entrypoint[0], "healthcheck", config], "interval": "10s",
                        "timeout": "5s", "retries": 3, "start_period": "10s"},
    })
    _hardened(service)
    return service


def _postgres(project: Project, pg: PostgresService, secrets: dict[str, dict[str, Any]],
              volumes: dict[str, dict[str, Any]]) -> dict[str, Any]:
    name = cluster_service(pg.name)
    where = f"service {name}"
    target = f"cluster {pg.name}"
    secret = f"{name}.password"
    volume = f"{name}.data"
    secrets[secret] = {"file": pg.password, "labels": _labels(project, target=target)}
    volumes[volume] = {"labels": _labels(project, target=target, kind="storage")}
    mounts = [{"type": "volume", "source": volume, "target": pg.data_dir, "read_only": False}]
    if pg.pitr_dir is not None:
        volumes[pitr_volume(pg.name)] = {"labels": _labels(project, target=target, kind="storage")}
        mounts.append({"type": "volume", "source": pitr_volume(pg.name), "target": _abs(pg.pitr_dir, where),
                       "read_only": False})
    command = ["postgres"]
    for key, value in sorted(pg.settings.items()):
        if not re.fullmatch(r"[a-z][a-z0-9_.]{0,63}", key) or not str(value).isprintable():
            raise _err(where, f"setting {key!r} is not a PostgreSQL setting name with a one-line value")
        command += ["-c", f"{key}={value}"]
    service = _common(image=pg.image, where=where, stop_grace_s=pg.stop_grace_s,
                      labels=_service_labels(project, target=target, kind="postgres", revision=pg.revision))
    service.update({
        "command": command,
        "environment": _environment({
            "PGDATA": _abs(pg.data_dir, where),
            "POSTGRES_USER": _name(pg.superuser, where),
            "POSTGRES_PASSWORD_FILE": f"/run/secrets/{secret}",
            "POSTGRES_INITDB_ARGS": "--encoding=UTF8 --locale=C",
        }, where),
        "secrets": [{"source": secret}],
        "volumes": mounts,
        "ports": _published((Published(POSTGRES_PORT, pg.host_port),), where),
        "stop_signal": "SIGINT",  # fast shutdown: sessions are rolled back, nothing is lost
        "healthcheck": {"test": ["CMD", "pg_isready", "-h", "127.0.0.1", "-p", str(POSTGRES_PORT),
                                 "-U", pg.superuser, "-d", "postgres"],
                        "interval": "5s", "timeout": "5s", "retries": 5, "start_period": "30s"},
    })
    _resources(service, pg.resources, where)
    return service


def _support(project: Project, svc: SupportService, secrets: dict[str, dict[str, Any]],
             volumes: dict[str, dict[str, Any]]) -> dict[str, Any]:
    where = f"service {svc.name}"
    service = _common(image=svc.image, where=where, stop_grace_s=svc.stop_grace_s,
                      labels=_service_labels(project, target=svc.name, kind=svc.name, revision=svc.revision))
    if svc.entrypoint:
        service["entrypoint"] = list(svc.entrypoint)
    if svc.command:
        service["command"] = list(svc.command)
    if svc.uid is not None:
        service["user"] = f"{svc.uid}:{svc.gid if svc.gid is not None else svc.uid}"
    for port in svc.ports:
        if port.host_ip != "127.0.0.1":
            raise _err(where, f"port {port.host} is published on {port.host_ip}: support services are loopback-only")
    if svc.ports:
        if svc.host_network:
            raise _err(where, "a service on the host's network publishes no port")
        service["ports"] = _published(svc.ports, where)
    if svc.host_network:
        service["network_mode"] = "host"
    if svc.working_dir:
        service["working_dir"] = _abs(svc.working_dir, where)
    for mount in svc.mounts:
        if mount.kind == "volume":
            volumes.setdefault(_name(mount.source, where), {"labels": _labels(project, target=svc.name,
                                                                              kind="storage")})
    if svc.mounts:
        service["volumes"] = [_mount(m, where) for m in svc.mounts]
    if svc.secrets:
        refs = []
        for sec in svc.secrets:
            secrets[_name(sec.name, where)] = {"file": sec.file, "labels": _labels(project, target=svc.name)}
            ref: dict[str, Any] = {"source": sec.name}
            if sec.target:
                ref["target"] = _abs(sec.target, where)
            refs.append(ref)
        service["secrets"] = refs
    if svc.environment:
        service["environment"] = _environment(svc.environment, where)
    _hardened(service)
    for cap in svc.cap_add:
        if not _CAPABILITY_RE.fullmatch(cap):
            raise _err(where, f"{cap!r} is not a capability name (CHOWN, DAC_OVERRIDE, …)")
    if svc.cap_add:
        service["cap_add"] = list(svc.cap_add)
    return service


def _check_unique_ports(services: Mapping[str, dict[str, Any]]) -> None:
    seen: dict[tuple[str, str], str] = {}
    for name, service in services.items():
        for port in service.get("ports", []):
            key = (port["host_ip"], port["published"])
            if key in seen:
                raise _err(f"service {name}", f"{key[0]}:{key[1]} is already published by service {seen[key]}")
            seen[key] = name


def render(project: Project) -> str:
    """Return compose.yaml of ``project``; raise ValueError naming the object and the rule when a
    name, path, port or label is not acceptable (nothing is written by a caller then)."""
    if not _PROJECT_RE.fullmatch(project.name):
        raise _err(f"name {project.name!r}", "a project name is lowercase letters, digits, '-' and '_', "
                                              "starting with a letter or digit (at most 63)")
    _labels(project)
    services: dict[str, dict[str, Any]] = {}
    secrets: dict[str, dict[str, Any]] = {}
    volumes: dict[str, dict[str, Any]] = {}

    def add(name: str, service: dict[str, Any]) -> None:
        if _name(name, f"service {name}") in services:
            raise _err(f"service {name}", "defined twice")
        services[name] = service

    for pg in project.clusters:
        add(cluster_service(_name(pg.name, f"cluster {pg.name}")), _postgres(project, pg, secrets, volumes))
    for svc in project.odoo:
        _name(svc.name, f"service {svc.name}")
        add(svc.name, _odoo(project, svc, secrets, volumes))
    if project.edge is not None:
        add(EDGE_SERVICE, _edge(project, project.edge))
    for support in (project.mail_sink, project.worker):
        if support is not None:
            add(support.name, _support(project, support, secrets, volumes))
    for name, service in services.items():
        for dep in service.get("depends_on", {}):
            if dep not in services:
                raise _err(f"service {name}", f"depends on {dep}, which the project does not define")
    _check_unique_ports(services)
    document: dict[str, Any] = {
        "name": project.name,
        "services": services,
        "networks": {"default": {"labels": _labels(project)}},
    }
    if volumes:
        document["volumes"] = volumes
    if secrets:
        document["secrets"] = secrets
    header = "# Rendered by Odooplane: edits are overwritten by the next apply.\n"
    return header + yaml.dump(document, Dumper=_NoAliases, sort_keys=True, default_flow_style=False, width=4096)


class _NoAliases(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


# -- the edge's configuration, with container addresses -------------------------------------


def edge_static(*, access_log: bool, trusted_proxies: tuple[str, ...] = (), https: bool = False,
                redirect_http: bool = False, trace_endpoint: str | None = None, acme_email: str | None = None,
                acme_ca: str | None = None) -> traefik.StaticInputs:
    """The inputs of traefik.yml inside the edge container: entry points on the container ports
    the project publishes, the file provider on the mounted ``dynamic/``, Traefik's own log on
    stdout (``docker compose logs edge``), the access log in the mounted log directory, ACME's
    storage (with ``acme_email``) in the mounted ACME directory."""
    return traefik.StaticInputs(
        http_address=f":{EDGE_HTTP_PORT}", api_address=f":{EDGE_API_PORT}", dynamic_dir=EDGE_DYNAMIC_DIR,
        access_log=f"{EDGE_LOG_DIR}/access.log" if access_log else None, log_file="",
        trusted_proxies=trusted_proxies, trace_endpoint=trace_endpoint,
        https_address=f":{EDGE_HTTPS_PORT}" if https else None, redirect_http=redirect_http,
        acme_email=acme_email, acme_ca=acme_ca, acme_storage=f"{EDGE_ACME_DIR}/acme.json" if acme_email else None,
    )


def container_route(route: traefik.EnvRoute, service: str | None) -> traefik.EnvRoute:
    """``route`` (the same routing as the local driver's) pointed at Odoo service ``service`` on
    the project network; a shared environment (``route.pool``) keeps pointing at its pool."""
    if route.pool:
        return route
    if service is None:
        raise ValueError(f"route {route.name}: a dedicated environment's route names its service")
    return replace(route, backend_host=service, http_port=dockerfile.HTTP_PORT,
                   evented_port=dockerfile.EVENTED_PORT if route.evented_port is not None else None)


def container_pool(name: str, services: tuple[str, ...], *, evented: bool) -> traefik.PoolService:
    """The load-balanced services of pool ``name`` (``pool-<pool>``): one server per process service."""
    return traefik.PoolService(name=name, http_ports=(dockerfile.HTTP_PORT,) * len(services),
                               evented_ports=(dockerfile.EVENTED_PORT,) * len(services) if evented else (),
                               backend_hosts=services)
