"""Odooplane request ids (server-wide module, Odoo 16 to 19).

Load it with ``server_wide_modules = base,web,odooplane_requestid``. The edge proxy (Traefik with
tracing) sends every request with a W3C ``traceparent`` header whose trace id is also written in
its access log (``TraceId``). This module remembers that id (or an ``X-Request-Id``) for the
thread serving the request, and appends ``request_id=<id>`` to the request's log line — so
``odooplane logs acme/prod --request-id <id>`` finds the request at the edge and in Odoo.
"""

import logging
import re
import threading

from odoo import http

_ID = re.compile(r"^[0-9A-Za-z._-]{4,128}$")
_ATTRIBUTE = "odooplane_request_id"


def request_id(environ):
    """The trace id of ``traceparent`` (version-traceid-spanid-flags), else X-Request-Id, else None."""
    parts = (environ.get("HTTP_TRACEPARENT") or "").split("-")
    candidate = parts[1] if len(parts) == 4 else environ.get("HTTP_X_REQUEST_ID")
    return candidate if candidate and _ID.match(candidate) else None


class RequestIdFilter(logging.Filter):
    """On werkzeug's request line: append the id of the request this thread served."""

    def filter(self, record):
        thread = threading.current_thread()
        rid = getattr(thread, _ATTRIBUTE, None)
        if rid:
            record.msg = f"{record.msg} request_id={rid}"  # rid is [0-9A-Za-z._-]: no % to escape
            setattr(thread, _ATTRIBUTE, None)
        return True


def _wrap(call):
    def __call__(self, environ, start_response):
        setattr(threading.current_thread(), _ATTRIBUTE, request_id(environ))
        return call(self, environ, start_response)

    __call__.odooplane_requestid = True
    return __call__


if not getattr(http.Application.__call__, "odooplane_requestid", False):
    http.Application.__call__ = _wrap(http.Application.__call__)
    logging.getLogger("werkzeug").addFilter(RequestIdFilter())
