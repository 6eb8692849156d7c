"""The ``odooplane_dbrouter`` server-wide module, as the simulator plays it.

Shared pools serve many tenant databases from one set of processes.  The
edge proxy sets the trusted header ``X-Odooplane-Database: <db>`` on every
request of a tenant's hostnames (it overwrites any value a client sent), and
the addon, when listed in ``server_wide_modules`` (odoo.conf or ``--load``):

- wraps ``odoo.http.db_filter`` for requests: the databases a request may
  use are ``[d for d in <dbfilter result> if d == header]``, and none without
  the header (or with an empty one).  Everything built on ``db_filter``
  follows: choosing the request's database, ``ensure_db`` (``?db=``),
  ``/web/session/authenticate``, dropping a session whose database is not
  allowed, ``db_list`` (login page, database selector, ``/web/database/list``);
- wraps ``dispatch_rpc`` (``/xmlrpc``, ``/xmlrpc/2``, ``/jsonrpc``): a call is
  refused with ``AccessDenied`` unless its method takes no database (listed
  in ``NO_DATABASE_METHODS``) or its first parameter equals the header.

The header name is case-insensitive; the database name is compared exactly.
Several values of the header are joined with ``,`` (as werkzeug builds the
WSGI environ), which never names a database.  Outside requests (crons) the
filter is unchanged.

For crons, ``odooplane_cron_partition = I/N`` in odoo.conf makes this
process's cron workers visit only the databases whose CRC-32 of the name
modulo N is I (``cron_partition``), so a pool's processes share its tenants'
crons instead of each visiting them all.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

MODULE = "odooplane_dbrouter"
HEADER = "x-odooplane-database"  # lower-cased, as in httpio.Request.headers
ENVIRON_KEY = "HTTP_X_ODOOPLANE_DATABASE"  # what the addon reads from the WSGI environ

# The RPC methods that take no database: they work without (or whatever) the header.
NO_DATABASE_METHODS: Mapping[str, frozenset[str]] = {
    "common": frozenset({"version", "about"}),
    "db": frozenset({"server_version", "list_lang", "list_countries", "list"}),
    "object": frozenset(),
}

_logger = logging.getLogger("odoo.addons.odooplane_dbrouter")


def cron_partition(dbs: Iterable[str], value: object) -> list[str] | None:
    """The databases of ``dbs`` that ``odooplane_cron_partition = I/N`` (``value``) gives this process,
    or None when ``value`` is unset or not a valid ``I/N`` (the addon then logs and changes nothing)."""
    if not value:
        return None
    try:
        index, count = (int(part) for part in str(value).split("/"))
    except ValueError:
        _logger.warning("odooplane_cron_partition %r is not I/N: crons visit every database", value)
        return None
    if count < 1 or not 0 <= index < count:
        _logger.warning("odooplane_cron_partition %r is out of range: crons visit every database", value)
        return None
    return [db for db in dbs if zlib.crc32(db.encode("utf-8")) % count == index]


def routed_database(headers: Mapping[str, str]) -> str | None:
    """Given lower-cased request headers, return the database the edge routed the request to, or None."""
    return headers.get(HEADER) or None


def route(dbs: Iterable[str], routed: str | None) -> list[str]:
    """Keep, of the databases the dbfilter left, the routed one; none when the request is not routed."""
    return [db for db in dbs if db == routed] if routed else []


def rpc_allowed(service: str, method: str, params: Sequence[Any], routed: str | None) -> bool:
    """Whether the RPC call may proceed: a method without a database, or a first parameter naming the routed
    database.  (The database manager methods take the master password first: they are refused.)"""
    if method in NO_DATABASE_METHODS.get(service, frozenset()):
        return True
    database = params[0] if params else None
    return routed is not None and database == routed


def log_loaded() -> None:
    """What the addon logs when the server loads it."""
    _logger.info("odooplane_dbrouter: requests are routed by the %s header", ENVIRON_KEY)


def log_refused(service: str, method: str, params: Sequence[Any], routed: str | None) -> None:
    _logger.warning("refused %s.%s on %r: this request is routed to %r", service, method,
                    params[0] if params else None, routed)
