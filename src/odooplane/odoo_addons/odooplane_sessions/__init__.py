"""Odooplane sessions in Redis (server-wide module, Odoo 16 to 19).

Load it with ``server_wide_modules = base,web,odooplane_sessions`` and, in odoo.conf:

    odooplane_sessions_redis = redis://USER@HOST:PORT/DB
    odooplane_sessions_password = …           (the ACL user's password)
    odooplane_sessions_prefix = odooplane:ESTATE:sess:TENANT:ENV:

Every process then keeps HTTP sessions in Redis under the prefix (the ACL user may only touch keys
under it), with Odoo's session lifetime as their expiry, instead of ``<data_dir>/sessions``: a
session opened on one web replica is valid on every other, and no replica keeps state on disk but
the filestore (see odooplane_attachments for that). The session store keeps Odoo's own class and
methods (new, rotate, is_valid_key…); only where a session is read, written, listed and deleted
changes. Without the three options the module changes nothing.
"""

import json
import logging
import urllib.parse

from odoo import http
from odoo.tools import config, lazy_property

from . import redis_resp

_logger = logging.getLogger(__name__)
LIFETIME = getattr(http, "SESSION_LIFETIME", 60 * 60 * 24 * 7)


def _settings():
    url = config.get("odooplane_sessions_redis")
    prefix = config.get("odooplane_sessions_prefix")
    if not url or not prefix:
        return None
    parsed = urllib.parse.urlsplit(str(url))
    if parsed.scheme != "redis" or not parsed.hostname:
        _logger.error("odooplane_sessions_redis %r is not redis://USER@HOST:PORT/DB: sessions stay on disk", url)
        return None
    db = (parsed.path or "/0").lstrip("/") or "0"
    client = redis_resp.Redis(parsed.hostname, parsed.port or 6379, username=parsed.username or None,
                              password=config.get("odooplane_sessions_password") or None, db=int(db))
    return client, str(prefix)


class RedisSessionStore(http.FilesystemSessionStore):
    """Odoo's session store with its sessions in Redis."""

    def __init__(self, client, prefix, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.client = client
        self.prefix = prefix

    def _key(self, sid):
        return f"{self.prefix}{sid}"

    def save(self, session):
        data = json.dumps(dict(session)).encode()
        self.client.set(self._key(session.sid), data, ex=LIFETIME)

    def get(self, sid):
        if not self.is_valid_key(sid):
            return self.new()
        raw = self.client.get(self._key(sid))
        if raw is None:
            return self.new()  # renew_missing, as on disk
        try:
            data = json.loads(raw)
        except ValueError:
            data = {}
        return self.session_class(data, sid, False)

    def delete(self, session):
        self.client.delete(self._key(session.sid))

    def list(self):
        """Not listed: the ACL user may not SCAN (key names of other tenants would show)."""
        return []

    def vacuum(self, *args, **kwargs):
        """Redis expires sessions itself."""


_original = getattr(http.Application.__dict__.get("session_store"), "fget", None)


def session_store(self):  # the name lazy_property caches the value under
    found = _settings()
    if found is None:
        return _original(self)
    client, prefix = found
    _logger.info("HTTP sessions are kept in Redis at %s:%s under %s", *client.address, prefix)
    return RedisSessionStore(client, prefix, config.session_dir, session_class=http.Session, renew_missing=True)


if _original is not None:
    http.Application.session_store = lazy_property(session_store)
    http.root.__dict__.pop("session_store", None)
else:  # pragma: no cover - an Odoo whose session store this module does not know
    _logger.error("odooplane_sessions: this Odoo's session store is not a lazy property: sessions stay on disk")
