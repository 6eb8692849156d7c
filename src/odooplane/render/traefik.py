"""Render Traefik's static configuration and one dynamic file per environment (pure functions).

Routing rules: one router per hostname to the environment's HTTP port; the evented path
(``/websocket`` on 16+, ``/longpolling`` before) to the evented port when Odoo runs prefork;
``/web/database`` answered 403 at the edge; client-sent X-Forwarded-* headers are not trusted
(Traefik replaces them unless the sender is a trusted proxy).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

DENY_MIDDLEWARE = "odooplane-deny"
SECURITY_MIDDLEWARE = "odooplane-headers"


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


def render_static(inputs: StaticInputs) -> str:
    """Return traefik.yml: entry points, file provider, API/ping/metrics on the loopback port."""
    forwarded: dict[str, Any] = {"insecure": False}
    if inputs.trusted_proxies:
        forwarded["trustedIPs"] = list(inputs.trusted_proxies)
    config: dict[str, Any] = {
        "global": {"checkNewVersion": False, "sendAnonymousUsage": False},
        "entryPoints": {
            "web": {"address": inputs.http_address, "forwardedHeaders": forwarded},
            "traefik": {"address": inputs.api_address},
        },
        "providers": {
            "providersThrottleDuration": "100ms",
            "file": {"directory": inputs.dynamic_dir, "watch": True},
        },
        "api": {"insecure": True, "dashboard": False},
        "ping": {"entryPoint": "traefik"},
        "metrics": {"prometheus": {"entryPoint": "traefik", "addRoutersLabels": True, "addServicesLabels": True}},
        "log": {"level": "INFO", "format": "json", "filePath": inputs.log_file},
    }
    if inputs.https_address:
        config["entryPoints"]["websecure"] = {"address": inputs.https_address, "forwardedHeaders": forwarded,
                                              "http": {"tls": {}}}
        if inputs.redirect_http:
            config["entryPoints"]["web"]["http"] = {
                "redirections": {"entryPoint": {"to": "websecure", "scheme": "https", "permanent": True}}}
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
        middlewares[f"{route.name}-db"] = {"headers": {"customRequestHeaders": {DATABASE_HEADER: route.database}}}
        mw.append(f"{route.name}-db")
    if route.rate_limit:
        average, burst = route.rate_limit
        middlewares[f"{route.name}-ratelimit"] = {"rateLimit": {"average": average, "burst": burst}}
        mw.insert(0, f"{route.name}-ratelimit")
    main_service = f"{route.pool}@file" if route.pool else route.name
    routers: dict[str, Any] = {
        route.name: {"rule": hosts, "entryPoints": ["web"], "service": main_service, "middlewares": mw},
        f"{route.name}-dbmanager": {
            "rule": f"({hosts}) && PathPrefix(`/web/database`)",
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
        evented_service = f"{route.pool}-evented@file"
    elif not route.pool and route.evented_port is not None:
        evented_service = f"{route.name}-evented"
        services[evented_service] = {"loadBalancer": {"servers": [_server(route.backend_host, route.evented_port)],
                                                      "passHostHeader": True}}
    if evented_service:
        routers[f"{route.name}-evented"] = {
            "rule": f"({hosts}) && PathPrefix(`{evented_path}`)",
            "entryPoints": ["web"],
            "service": evented_service,
            "middlewares": mw,
            "priority": 9_000,
        }
    if route.tls:
        tls: dict[str, Any] = {"certResolver": route.cert_resolver} if route.cert_resolver else {}
        for name, router in list(routers.items()):
            routers[f"{name}-tls"] = {**router, "entryPoints": ["websecure"], "tls": tls}
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


def render_pool(pool: PoolService) -> str:
    """Return the dynamic file of a pool: its load-balanced services (no routers of its own)."""
    services: dict[str, Any] = {
        pool.name: {"loadBalancer": {"servers": [_server(pool.backend_host, p) for p in pool.http_ports],
                                     "passHostHeader": True,
                                     "healthCheck": {"path": "/web/health", "interval": "5s", "timeout": "3s"}}},
    }
    if pool.evented_ports:
        services[f"{pool.name}-evented"] = {
            "loadBalancer": {"servers": [_server(pool.backend_host, p) for p in pool.evented_ports],
                             "passHostHeader": True}
        }
    return _dump({"http": {"services": services}})


class _NoAliases(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def _dump(config: dict[str, Any]) -> str:
    header = "# Rendered by Odooplane: edits are overwritten by the next apply.\n"
    return header + yaml.dump(config, Dumper=_NoAliases, sort_keys=True, default_flow_style=False)
