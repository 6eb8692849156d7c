"""Render Traefik's static configuration and one dynamic file per environment (pure functions).

Routing rules: one router per hostname to the environment's HTTP port; the evented path
(``/websocket`` on 16+, ``/longpolling`` before) to the evented port when Odoo runs prefork;
Odoo's database manager answered 403 at the edge in every spelling that could reach it (see
``DB_MANAGER_RULE``); client-sent X-Forwarded-* headers are not trusted (Traefik replaces them
unless the sender is a trusted proxy).

Object names: an environment's routers, services and middlewares are ``<slug>`` and
``<slug>.<role>``, a pool's services ``pool-<name>`` and ``pool-<name>.evented``. Tenant,
environment and pool names hold no '.', so no two environments or pools can name the same
object (with ``-``, environment ``prod-evented`` would have been ``prod``'s evented router).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

DENY_MIDDLEWARE = "odooplane-deny"
SECURITY_MIDDLEWARE = "odooplane-headers"
SEPARATOR = "."  # between an environment's or pool's name and the role of one of its objects


def part_of(name: str, owner: str) -> bool:
    """Whether the router (or service) ``name`` belongs to ``owner`` (an environment's slug or a
    pool's service name), e.g. ``acme__prod.tls`` to ``acme__prod`` but not to ``acme__pro``."""
    return name == owner or name.startswith(owner + SEPARATOR)


def _named(owner: str, role: str) -> str:
    return f"{owner}{SEPARATOR}{role}"


# Odoo's database manager: /web/database/* (pages and actions) and the 'db' RPC service at
# /xmlrpc/db and /xmlrpc/2/db. Traefik matches these regular expressions on the request path
# after sanitising it (dot segments and repeated slashes removed, unreserved %XX decoded), and
# the entry points refuse encoded '/', '\', '%', ';' and NUL first (ENCODED_CHARACTERS). What is
# left to cover is what Traefik keeps but a server or another proxy may still route: letter
# case, ';params' on a segment (and segments made only of them), and repeated separators.
_PARAMS = r"(?:;[^/]*)?"
_SEP = r"(?:/+(?:;[^/]*)?)*/+"
DB_MANAGER_PATHS = (
    rf"(?i)^{_SEP}web{_PARAMS}{_SEP}database",
    rf"(?i)^{_SEP}xmlrpc{_PARAMS}(?:{_SEP}2{_PARAMS})?{_SEP}db{_PARAMS}(?:/|$)",
)
DB_MANAGER_RULE = " || ".join(f"PathRegexp(`{path}`)" for path in DB_MANAGER_PATHS)
# Percent-encoded characters a request path may not hold (400 at the entry point): each one is
# decoded by Odoo's HTTP server into something that changes which route a path reaches (a
# separator, a second decoding, a parameter, an end of string).
ENCODED_CHARACTERS = {"allowEncodedSlash": False, "allowEncodedBackSlash": False, "allowEncodedNullCharacter": False,
                      "allowEncodedSemicolon": False, "allowEncodedPercent": False}


@dataclass(frozen=True)
class StaticInputs:
    http_address: str
    api_address: str
    dynamic_dir: str
    access_log: str | None
    log_file: str
    trusted_proxies: tuple[str, ...] = ()
    trace_endpoint: str | None = None  # OTLP/HTTP: tracing gives each request a trace id (access log, traceparent)
    https_address: str | None = None  # serve HTTPS on the 'websecure' entry point
    redirect_http: bool = False
    acme_email: str | None = None  # certificates resolver 'acme' (HTTP-01 on the web entry point)
    acme_ca: str | None = None
    acme_storage: str | None = None


ACME_RESOLVER = "acme"
# How long Traefik waits after applying a configuration before it takes the next one. A new route
# is served ~50-70 ms after its file is written at 20 ms, ~110 ms at Traefik's default (100 ms); a
# burst of route files (bulk provisioning) still collapses into at most 50 reloads a second.
THROTTLE = "20ms"


def render_static(inputs: StaticInputs) -> str:
    """Return traefik.yml: entry points, file provider, API/ping/metrics on the loopback port."""
    forwarded: dict[str, Any] = {"insecure": False}
    if inputs.trusted_proxies:
        forwarded["trustedIPs"] = list(inputs.trusted_proxies)
    paths = {"sanitizePath": True, "encodedCharacters": dict(ENCODED_CHARACTERS)}
    config: dict[str, Any] = {
        "global": {"checkNewVersion": False, "sendAnonymousUsage": False},
        "entryPoints": {
            "web": {"address": inputs.http_address, "forwardedHeaders": forwarded, "http": dict(paths)},
            "traefik": {"address": inputs.api_address},
        },
        "providers": {
            "providersThrottleDuration": THROTTLE,
            "file": {"directory": inputs.dynamic_dir, "watch": True},
        },
        "api": {"insecure": True, "dashboard": False},
        "ping": {"entryPoint": "traefik"},
        "metrics": {"prometheus": {"entryPoint": "traefik", "addRoutersLabels": True, "addServicesLabels": True}},
        "log": {"level": "INFO", "format": "json", "filePath": inputs.log_file},
    }
    if inputs.https_address:
        config["entryPoints"]["websecure"] = {"address": inputs.https_address, "forwardedHeaders": forwarded,
                                              "http": {"tls": {}, **paths}}
        if inputs.redirect_http:
            config["entryPoints"]["web"]["http"]["redirections"] = {
                "entryPoint": {"to": "websecure", "scheme": "https", "permanent": True}}
    if inputs.acme_email:
        config["certificatesResolvers"] = {ACME_RESOLVER: {"acme": {
            "email": inputs.acme_email, "storage": inputs.acme_storage, "caServer": inputs.acme_ca,
            "httpChallenge": {"entryPoint": "web"}}}}
    if inputs.trace_endpoint:
        config["tracing"] = {"sampleRate": 1.0, "serviceName": "odooplane-edge",
                             "otlp": {"http": {"endpoint": inputs.trace_endpoint}}}
    if inputs.access_log:
        config["accessLog"] = {
            "filePath": inputs.access_log,
            "format": "json",
            "fields": {
                "defaultMode": "keep",
                "headers": {"defaultMode": "drop", "names": {"X-Request-Id": "keep", "User-Agent": "keep"}},
            },
        }
    return _dump(config)


def render_common(certificates: tuple[tuple[str, str], ...] = ()) -> str:
    """Return the dynamic file shared by every environment: the deny and header middlewares, and
    the certificate files (``(cert_file, key_file)``) Traefik picks from by SNI."""
    config: dict[str, Any] = {
        "http": {
            "middlewares": {
                # An allow-list nobody can match: Traefik answers 403 Forbidden.
                DENY_MIDDLEWARE: {"ipAllowList": {"sourceRange": ["255.255.255.255/32"]}},
                SECURITY_MIDDLEWARE: {
                    "headers": {
                        "frameDeny": True,
                        "contentTypeNosniff": True,
                        "referrerPolicy": "strict-origin-when-cross-origin",
                    }
                },
            }
        }
    }
    if certificates:
        config["tls"] = {"certificates": [{"certFile": cert, "keyFile": key} for cert, key in certificates]}
    return _dump(config)


DATABASE_HEADER = "X-Odooplane-Database"


@dataclass(frozen=True)
class EnvRoute:
    """The edge configuration of one environment.

    A dedicated environment has its own backend ports; a shared one points at its pool's
    services (``pool``) and gets the trusted ``X-Odooplane-Database`` header, set here and so
    overwriting whatever a client sent.
    """

    name: str  # file- and router-safe, e.g. acme__prod
    hostnames: tuple[str, ...]
    http_port: int | None
    evented_port: int | None  # None: threaded mode serves the evented path itself
    series_major: int
    backend_host: str = "127.0.0.1"
    pool: str | None = None  # service name of a shared pool (pool-<name>)
    pool_evented: bool = False  # the pool runs prefork: route the evented path to its gevent ports
    database: str | None = None  # sets the trusted database header
    rate_limit: tuple[int, int] | None = None  # (average, burst) requests per second
    tls: bool = False  # also route on the 'websecure' entry point
    cert_resolver: str | None = None  # obtain the hostnames' certificates from this resolver


def _host_rule(hostnames: tuple[str, ...]) -> str:
    return " || ".join(f"Host(`{h}`)" for h in hostnames)


def _server(host: str, port: int) -> dict[str, Any]:
    return {"url": f"http://{host}:{port}"}


def render_env(route: EnvRoute) -> str:
    """Return the dynamic configuration file of one environment."""
    hosts = _host_rule(route.hostnames)
    evented_path = "/websocket" if route.series_major >= 16 else "/longpolling"
    middlewares: dict[str, Any] = {}
    mw = [f"{SECURITY_MIDDLEWARE}@file"]
    if route.database:
        middlewares[_named(route.name, "db")] = {
            "headers": {"customRequestHeaders": {DATABASE_HEADER: route.database}}}
        mw.append(_named(route.name, "db"))
    if route.rate_limit:
        average, burst = route.rate_limit
        middlewares[_named(route.name, "ratelimit")] = {"rateLimit": {"average": average, "burst": burst}}
        mw.insert(0, _named(route.name, "ratelimit"))
    main_service = f"{route.pool}@file" if route.pool else route.name
    routers: dict[str, Any] = {
        route.name: {"rule": hosts, "entryPoints": ["web"], "service": main_service, "middlewares": mw},
        _named(route.name, "dbmanager"): {
            "rule": f"({hosts}) && ({DB_MANAGER_RULE})",
            "entryPoints": ["web"],
            "service": "noop@internal",
            "middlewares": [f"{DENY_MIDDLEWARE}@file"],
            "priority": 10_000,
        },
    }
    services: dict[str, Any] = {}
    if not route.pool:
        assert route.http_port is not None
        services[route.name] = {"loadBalancer": {"servers": [_server(route.backend_host, route.http_port)],
                                                 "passHostHeader": True}}
    evented_service = None
    if route.pool and route.pool_evented:
        evented_service = f"{_named(route.pool, 'evented')}@file"
    elif not route.pool and route.evented_port is not None:
        evented_service = _named(route.name, "evented")
        services[evented_service] = {"loadBalancer": {"servers": [_server(route.backend_host, route.evented_port)],
                                                      "passHostHeader": True}}
    if evented_service:
        routers[_named(route.name, "evented")] = {
            "rule": f"({hosts}) && PathPrefix(`{evented_path}`)",
            "entryPoints": ["web"],
            "service": evented_service,
            "middlewares": mw,
            "priority": 9_000,
        }
    if route.tls:
        tls: dict[str, Any] = {"certResolver": route.cert_resolver} if route.cert_resolver else {}
        for name, router in list(routers.items()):
            routers[_named(name, "tls")] = {**router, "entryPoints": ["websecure"], "tls": tls}
    http: dict[str, Any] = {"routers": routers}
    if services:
        http["services"] = services
    if middlewares:
        http["middlewares"] = middlewares
    return _dump({"http": http})


@dataclass(frozen=True)
class PoolService:
    name: str  # pool-<name>
    http_ports: tuple[int, ...]
    evented_ports: tuple[int, ...]  # empty: threaded processes serve the evented path themselves
    backend_host: str = "127.0.0.1"
    backend_hosts: tuple[str, ...] = ()  # one host per process (containers on one port); default backend_host


def render_pool(pool: PoolService) -> str:
    """Return the dynamic file of a pool: its load-balanced services (no routers of its own)."""
    hosts = pool.backend_hosts or (pool.backend_host,) * len(pool.http_ports)
    if len(hosts) != len(pool.http_ports) or (pool.evented_ports and len(pool.evented_ports) != len(hosts)):
        raise ValueError(f"pool {pool.name}: one backend host and port per process")
    services: dict[str, Any] = {
        pool.name: {"loadBalancer": {"servers": [_server(h, p) for h, p in zip(hosts, pool.http_ports, strict=True)],
                                     "passHostHeader": True,
                                     "healthCheck": {"path": "/web/health", "interval": "5s", "timeout": "3s"}}},
    }
    if pool.evented_ports:
        services[_named(pool.name, "evented")] = {
            "loadBalancer": {"servers": [_server(h, p) for h, p in zip(hosts, pool.evented_ports, strict=True)],
                             "passHostHeader": True}
        }
    return _dump({"http": {"services": services}})


# libyaml's emitter when PyYAML has it (the same text, ten times faster: observing an estate
# renders every route to compare it with the file on disk).
_SafeDumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _NoAliases(_SafeDumper):  # type: ignore[valid-type,misc]
    def ignore_aliases(self, data: Any) -> bool:
        return True


def _dump(config: dict[str, Any]) -> str:
    header = "# Rendered by Odooplane: edits are overwritten by the next apply.\n"
    return header + yaml.dump(config, Dumper=_NoAliases, sort_keys=True, default_flow_style=False)
