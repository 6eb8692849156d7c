"""A small HTTP/1.1 client on the standard library for probes and local APIs: cheap to import
(the CLI's start-up time is part of every apply) and enough for GETs to loopback services."""

from __future__ import annotations

import http.client
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit


class HttpError(Exception):
    """The request did not get an answer (refused, reset, timed out)."""


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    elapsed_ms: float

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)


def get(url: str, *, headers: dict[str, str] | None = None, params: dict[str, Any] | None = None,
        timeout: float = 5.0) -> Response:
    """GET ``url``; a ``Host`` in ``headers`` replaces the URL's. Raise HttpError without an answer."""
    parts = urlsplit(url)
    path = parts.path or "/"
    query = parts.query or (urlencode(params) if params else "")
    if query:
        path = f"{path}?{query}"
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=timeout)
    started = time.perf_counter()
    try:
        send_headers = dict(headers or {})
        host = send_headers.pop("Host", None)
        conn.putrequest("GET", path, skip_host=host is not None, skip_accept_encoding=True)
        if host is not None:
            conn.putheader("Host", host)
        for key, value in send_headers.items():
            conn.putheader(key, value)
        conn.endheaders()
        response = conn.getresponse()
        body = response.read()
        return Response(response.status, {k.lower(): v for k, v in response.getheaders()}, body,
                        (time.perf_counter() - started) * 1000)
    except (OSError, http.client.HTTPException) as exc:
        raise HttpError(f"{type(exc).__name__}: {exc}") from exc
    finally:
        conn.close()
