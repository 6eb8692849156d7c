"""Database selection per request, exactly as ``odoo/http.py`` does it.

``db_filter`` keeps the databases whose name ``re.match``-es the configured
``dbfilter`` after ``%h`` (host) and ``%d`` (first label of the host) were
substituted, both ``re.escape``-d.  ``re.match`` anchors at the start only, so
an unanchored ``%d`` prefix-matches (``acme`` keeps ``acme_prod``) and the match
is case-sensitive.  The host comes from ``Host``, or from the last value of
``X-Forwarded-Host`` when ``proxy_mode`` is on (werkzeug's ProxyFix with
``x_host=1``, which Odoo only applies when that header is present).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping


def forwarded_host(headers: Mapping[str, str], *, proxy_mode: bool) -> str | None:
    """Return the host ProxyFix would install, or None when it does not apply.

    ``headers`` must be keyed by lower-case header names.
    """
    value = headers.get("x-forwarded-host", "")
    if not proxy_mode or not value:
        return None
    values = [part.strip() for part in value.split(",")]
    # ProxyFix(x_host=1) trusts the value appended by the closest proxy only.
    return values[-1]


def request_host(headers: Mapping[str, str], *, proxy_mode: bool) -> str:
    """Given lower-cased request headers, return the HTTP_HOST Odoo filters with."""
    forwarded = forwarded_host(headers, proxy_mode=proxy_mode)
    if forwarded is not None:
        return forwarded
    return headers.get("host", "")


def host_parts(host: str) -> tuple[str, str]:
    """Given a Host value, return (``%h``, ``%d``): port dropped, one ``www.`` dropped."""
    host = host.partition(":")[0]
    if host.startswith("www."):
        host = host[4:]
    return host, host.partition(".")[0]


def compile_filter(dbfilter: str, host: str) -> re.Pattern[str]:
    """Return the regular expression ``dbfilter`` stands for on ``host``.

    Raise re.error if the substituted pattern is invalid (Odoo then fails the request).
    """
    full, domain = host_parts(host)
    return re.compile(dbfilter.replace("%h", re.escape(full)).replace("%d", re.escape(domain)))


def db_filter(dbs: Iterable[str], *, host: str, dbfilter: str, db_name: str) -> list[str]:
    """Return the subset of ``dbs`` the request on ``host`` may use.

    With ``dbfilter`` set, keep the names it matches (anchored at the start
    only).  Otherwise, with ``db_name`` set, keep the names listed in it
    (comma-separated).  Otherwise keep every database.
    """
    if dbfilter:
        pattern = compile_filter(dbfilter, host)
        return [db for db in dbs if pattern.match(db)]
    if db_name:
        exposed = {name.strip() for name in db_name.split(",")}
        return sorted(exposed.intersection(dbs))
    return list(dbs)
