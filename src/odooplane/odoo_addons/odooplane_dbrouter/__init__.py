"""Odooplane database router (server-wide module, Odoo 16 to 19).

Load it with ``server_wide_modules = base,web,odooplane_dbrouter``. Every request of a shared pool
comes through the edge proxy, which sets ``X-Odooplane-Database: <db>`` for the tenant's hostnames
and overwrites any value a client sent. Then:

* web routes (database selection, ``?db=``, sessions, ``/web/session/authenticate``) only ever see
  that one database — dbfilter still applies first; no header, no database;
* RPC (``/xmlrpc``, ``/xmlrpc/2``, ``/jsonrpc``) methods that take a database are refused unless the
  database is the routed one, because RPC ignores dbfilter.

Crons: a pool's processes each run ``max_cron_threads`` cron workers, and each cron worker
round-robins over every database the pool's role owns. With ``odooplane_cron_partition = I/N`` in
odoo.conf (process I of N), a process's cron workers visit only the databases whose CRC-32 of the
name modulo N is I, so the pool's cron capacity adds up instead of every worker visiting every
tenant. A database created after the process started is picked up at the next round, as before.
"""

import logging
import zlib

from odoo import http
from odoo.exceptions import AccessDenied

_logger = logging.getLogger(__name__)

HEADER = "HTTP_X_ODOOPLANE_DATABASE"
NO_DATABASE_METHODS = {
    "common": {"version", "about"},
    "db": {"server_version", "list_lang", "list_countries", "list"},
    "object": set(),
}


def _routed_database():
    """The database named by the edge for the current request, or None (also outside requests)."""
    try:
        environ = http.request.httprequest.environ
    except (RuntimeError, AttributeError):
        return None
    return environ.get(HEADER) or None


def _in_request():
    try:
        http.request.httprequest  # noqa: B018 - raises outside a request
    except (RuntimeError, AttributeError):
        return False
    return True


_original_db_filter = http.db_filter


def db_filter(dbs, host=None):
    dbs = _original_db_filter(dbs, host)
    if not _in_request():
        return dbs  # cron workers, command line
    routed = _routed_database()
    return [db for db in dbs if db == routed] if routed else []


def _guard(dispatch_rpc):
    def guarded_dispatch_rpc(service_name, method, params):
        if method not in NO_DATABASE_METHODS.get(service_name, set()):
            routed = _routed_database()
            database = params[0] if params else None
            if not routed or database != routed:
                _logger.warning("refused %s.%s on %r: this request is routed to %r", service_name, method,
                                database, routed)
                raise AccessDenied()
        return dispatch_rpc(service_name, method, params)

    guarded_dispatch_rpc.odooplane_guarded = True
    return guarded_dispatch_rpc


http.db_filter = db_filter
if not getattr(http.dispatch_rpc, "odooplane_guarded", False):
    http.dispatch_rpc = _guard(http.dispatch_rpc)
try:
    from odoo.addons.base.controllers import rpc as _rpc_controllers
except ImportError:  # pragma: no cover - very old layouts
    _rpc_controllers = None
if _rpc_controllers is not None and not getattr(_rpc_controllers.dispatch_rpc, "odooplane_guarded", False):
    # The controllers bound dispatch_rpc by name when they were imported (before this module).
    _rpc_controllers.dispatch_rpc = _guard(_rpc_controllers.dispatch_rpc)


def _cron_partition():
    """``(index, count)`` from ``odooplane_cron_partition = I/N`` in odoo.conf, or None."""
    from odoo.tools import config

    value = config.get("odooplane_cron_partition")
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
    return index, count


def _partitioned(db_list):
    def partitioned_db_list(self):
        dbs = db_list(self)
        partition = _cron_partition()
        if partition is None:
            return dbs
        index, count = partition
        return [db for db in dbs if zlib.crc32(db.encode("utf-8")) % count == index]

    partitioned_db_list.odooplane_partitioned = True
    return partitioned_db_list


try:
    from odoo.service.server import WorkerCron as _WorkerCron
except ImportError:  # pragma: no cover - a layout without prefork cron workers
    _WorkerCron = None
_db_list = getattr(_WorkerCron, "_db_list", None)
if _db_list is not None and not getattr(_db_list, "odooplane_partitioned", False):
    _WorkerCron._db_list = _partitioned(_db_list)
_logger.info("odooplane_dbrouter: requests are routed by the %s header", HEADER)
