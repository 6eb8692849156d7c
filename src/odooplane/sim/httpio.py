"""Minimal HTTP request/response objects (what werkzeug provides to real Odoo).

Requests carry lower-cased headers, the raw body and helpers for the query
string, url-encoded forms, cookies and JSON.  Responses are status + headers +
body, with an optional ``upgrade`` callback that takes over the socket after a
``101 Switching Protocols``.  Error pages and redirects have werkzeug's bodies.
"""

from __future__ import annotations

import datetime
import email.utils
import html
import json
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

JSON_MIMETYPES = ("application/json", "application/json-rpc")


@dataclass
class Request:
    """One parsed HTTP request."""

    method: str
    path: str
    query_string: str
    headers: dict[str, str]
    body: bytes
    remote_addr: str
    requestline: str = ""
    scheme: str = "http"

    @cached_property
    def args(self) -> dict[str, str]:
        return dict(parse_qsl(self.query_string, keep_blank_values=True))

    @cached_property
    def mimetype(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @cached_property
    def form(self) -> dict[str, str]:
        if self.mimetype != "application/x-www-form-urlencoded":
            return {}
        return dict(parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))

    @cached_property
    def cookies(self) -> dict[str, str]:
        jar = SimpleCookie()
        try:
            jar.load(self.headers.get("cookie", ""))
        except CookieError:
            return {}
        return {key: morsel.value for key, morsel in jar.items()}

    def json(self) -> Any:
        """Return the decoded JSON body. Raise ValueError if it is not JSON."""
        return json.loads(self.body.decode("utf-8"))

    @property
    def host(self) -> str:
        return self.headers.get("host", "")

    @property
    def url_root(self) -> str:
        return f"{self.scheme}://{self.host}"

    @property
    def full_path(self) -> str:
        return f"{self.path}?{self.query_string}"


Upgrade = Callable[[socket.socket], None]


@dataclass
class Response:
    """An HTTP response to write back."""

    status: int = 200
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    upgrade: Upgrade | None = None

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def set_header(self, name: str, value: str) -> None:
        self.headers = [(k, v) for k, v in self.headers if k.lower() != name.lower()]
        self.headers.append((name, value))

    def set_cookie(self, name: str, value: str, *, max_age: int | None = None, httponly: bool = True) -> None:
        """Set a cookie the way werkzeug's ``dump_cookie`` formats it (path ``/``)."""
        parts = [f"{name}={value}"]
        if max_age is not None:
            expires = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=max_age)
            parts.append(f"Expires={email.utils.format_datetime(expires, usegmt=True)}")
            parts.append(f"Max-Age={max_age}")
        if httponly:
            parts.append("HttpOnly")
        parts.append("Path=/")
        self.headers.append(("Set-Cookie", "; ".join(parts)))


def reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def html_response(body: str, status: int = 200, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(status, body.encode("utf-8"), [("Content-Type", "text/html; charset=utf-8"), *(headers or [])])


def json_response(data: Any, status: int = 200, headers: list[tuple[str, str]] | None = None) -> Response:
    """``Request.make_json_response``."""
    body = json.dumps(data, ensure_ascii=False, default=str).encode("utf-8")
    return Response(status, body, [("Content-Type", "application/json; charset=utf-8"), *(headers or [])])


def redirect(location: str, code: int = 303, *, local: bool = True) -> Response:
    """``Request.redirect``: a werkzeug redirect; ``local`` drops any scheme and host (no open redirect)."""
    parts = urlsplit(location)
    if local:
        target = "/" + (quote(parts.path, safe="/%:@&=+$,;~!*'()") + (f"?{parts.query}" if parts.query else "")
                        + (f"#{parts.fragment}" if parts.fragment else "")).lstrip("/\\")
    else:
        target = location
    escaped = html.escape(target)
    body = ("<!doctype html>\n<html lang=en>\n<title>Redirecting...</title>\n<h1>Redirecting...</h1>\n"
            f'<p>You should be redirected automatically to the target URL: <a href="{escaped}">{escaped}</a>. '
            "If not, click the link.\n")
    return html_response(body, code, [("Location", target)])


ERROR_DESCRIPTIONS = {
    400: "The browser (or proxy) sent a request that this server could not understand.",
    403: "You don't have the permission to access the requested resource. It is either read-protected or not "
         "readable by the server.",
    404: "The requested URL was not found on the server. If you entered the URL manually please check your "
         "spelling and try again.",
    405: "The method is not allowed for the requested URL.",
    426: "The server requires an upgraded connection.",
    500: "The server encountered an internal error and was unable to complete your request. Either the server is "
         "overloaded or there is an error in the application.",
    503: "The server is temporarily unable to service your request due to maintenance downtime or capacity "
         "problems. Please try again later.",
}


def error_page(status: int, description: str | None = None) -> Response:
    """A werkzeug HTTPException page."""
    text = description or ERROR_DESCRIPTIONS.get(status, "")
    body = (f"<!doctype html>\n<html lang=en>\n<title>{status} {reason(status)}</title>\n"
            f"<h1>{reason(status)}</h1>\n<p>{html.escape(text)}</p>\n")
    return html_response(body, status)
