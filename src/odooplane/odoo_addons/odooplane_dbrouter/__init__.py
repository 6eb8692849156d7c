"""Odooplane database router (server-wide module, Odoo 16 to 19).

Load it with ``server_wide_modules = base,web,odooplane_dbrouter``. Every request of a shared pool
comes through the edge proxy, which sets ``X-Odooplane-Database: <db>`` for the tenant's hostnames
and overwrites any value a client sent. Then:

* web routes (database selection, ``?db=``, sessions, ``/web/session/authenticate``) only ever see
  that one database — dbfilter still applies first; no header, no database;
* RPC (``/xmlrpc``, ``/xmlrpc/2``, ``/jsonrpc``) methods that take a database are refused unless the
  database is the routed one, because RPC ignores dbfilter.
"""

import logging

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
_logger.info("odooplane_dbrouter: requests are routed by the %s header", HEADER)
