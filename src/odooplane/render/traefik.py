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


def render_common() -> str:
    """Return the dynamic file shared by every environment: the deny and header middlewares."""
    config = {
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
    return _dump(config)


@dataclass(frozen=True)
class EnvRoute:
    name: str  # file- and router-safe, e.g. acme__prod
    hostnames: tuple[str, ...]
    http_port: int
    evented_port: int | None  # None: threaded mode serves the evented path itself
    series_major: int
    backend_host: str = "127.0.0.1"


def _host_rule(hostnames: tuple[str, ...]) -> str:
    return " || ".join(f"Host(`{h}`)" for h in hostnames)


def render_env(route: EnvRoute) -> str:
    """Return the dynamic configuration file of one environment."""
    hosts = _host_rule(route.hostnames)
    evented_path = "/websocket" if route.series_major >= 16 else "/longpolling"
    mw = [f"{SECURITY_MIDDLEWARE}@file"]
    routers: dict[str, Any] = {
        route.name: {
            "rule": hosts,
            "entryPoints": ["web"],
            "service": route.name,
            "middlewares": mw,
        },
        f"{route.name}-dbmanager": {
            "rule": f"({hosts}) && PathPrefix(`/web/database`)",
            "entryPoints": ["web"],
            "service": "noop@internal",
            "middlewares": [f"{DENY_MIDDLEWARE}@file"],
            "priority": 10_000,
        },
    }
    services: dict[str, Any] = {
        route.name: {
            "loadBalancer": {
                "servers": [{"url": f"http://{route.backend_host}:{route.http_port}"}],
                "passHostHeader": True,
            }
        },
    }
    if route.evented_port is not None:
        routers[f"{route.name}-evented"] = {
            "rule": f"({hosts}) && PathPrefix(`{evented_path}`)",
            "entryPoints": ["web"],
            "service": f"{route.name}-evented",
            "middlewares": mw,
            "priority": 9_000,
        }
        services[f"{route.name}-evented"] = {
            "loadBalancer": {
                "servers": [{"url": f"http://{route.backend_host}:{route.evented_port}"}],
                "passHostHeader": True,
            }
        }
    return _dump({"http": {"routers": routers, "services": services}})


class _NoAliases(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def _dump(config: dict[str, Any]) -> str:
    header = "# Rendered by Odooplane: edits are overwritten by the next apply.\n"
    return header + yaml.dump(config, Dumper=_NoAliases, sort_keys=True, default_flow_style=False)
