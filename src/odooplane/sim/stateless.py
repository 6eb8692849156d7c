"""The ``odooplane_sessions`` and ``odooplane_attachments`` server-wide modules, as the simulator
plays them — with the addons' own Redis and S3 clients (loaded from their files: the simulator
imports nothing else of Odooplane).

- ``odooplane_sessions`` with ``odooplane_sessions_redis = redis://USER@HOST:PORT/DB``,
  ``odooplane_sessions_password`` and ``odooplane_sessions_prefix``: HTTP sessions are JSON values
  at ``<prefix><sid>`` in Redis (expiring with the session lifetime) instead of files under
  ``<data_dir>/sessions``.
- ``odooplane_attachments`` with ``odooplane_s3_endpoint``, ``_bucket``, ``_prefix``, ``_region``,
  ``_access_key``, ``_secret_key``: attachment contents are objects
  ``<prefix><database>/<xx>/<sha1>`` in the bucket instead of files of the filestore; reading falls
  back to the filestore for files written before.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import logging
import urllib.parse
from pathlib import Path
from types import ModuleType
from typing import Any

from odooplane.sim import filestore
from odooplane.sim.config import Config
from odooplane.sim.database import Connection, execute
from odooplane.sim.sessions import SESSION_LIFETIME, Session, SessionStore, default_data

SESSIONS = "odooplane_sessions"
ATTACHMENTS = "odooplane_attachments"
ADDONS = Path(__file__).resolve().parents[1] / "odoo_addons"
_logger = logging.getLogger("odoo.addons.odooplane_sessions")


def _client_module(addon: str, name: str) -> ModuleType:
    path = ADDONS / addon / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_odooplane_{addon}_{name}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class RedisSessionStore(SessionStore):
    """The simulator's session store with its sessions in Redis."""

    def __init__(self, path: str, client: Any, prefix: str) -> None:
        super().__init__(path)
        self.client, self.prefix = client, prefix

    def get(self, sid: str | None) -> Session:
        if not sid or not self.is_valid_key(sid):
            return self.new()
        raw = self.client.get(f"{self.prefix}{sid}")
        if raw is None:  # as the simulator's files: the id is kept, the session is new
            return Session(sid=sid, is_new=True)
        try:
            data = json.loads(raw)
        except ValueError:
            data = {}
        merged = default_data()
        merged.update(data if isinstance(data, dict) else {})
        return Session(sid=sid, data=merged)

    def save(self, session: Session) -> None:
        self.client.set(f"{self.prefix}{session.sid}", json.dumps(session.data).encode(), ex=SESSION_LIFETIME)
        session.is_new = False
        session.is_dirty = False

    def delete(self, session: Session) -> None:
        self.client.delete(f"{self.prefix}{session.sid}")


def session_store(config: Config) -> SessionStore:
    """Where this process keeps sessions: Redis when odooplane_sessions is loaded and configured."""
    url, prefix = config.get("odooplane_sessions_redis"), config.get("odooplane_sessions_prefix")
    if SESSIONS not in config.server_wide_modules or not url or not prefix:
        return SessionStore(config.session_dir)
    parsed = urllib.parse.urlsplit(str(url))
    if parsed.scheme != "redis" or not parsed.hostname:
        _logger.error("odooplane_sessions_redis %r is not redis://USER@HOST:PORT/DB: sessions stay on disk", url)
        return SessionStore(config.session_dir)
    client = _client_module(SESSIONS, "redis_resp").Redis(
        parsed.hostname, parsed.port or 6379, username=parsed.username or None,
        password=config.get("odooplane_sessions_password") or None, db=int((parsed.path or "/0").lstrip("/") or 0))
    _logger.info("HTTP sessions are kept in Redis at %s:%s under %s", parsed.hostname, parsed.port or 6379, prefix)
    return RedisSessionStore(config.session_dir, client, str(prefix))


class Attachments:
    """Where attachment contents go: the bucket when odooplane_attachments is configured, else the
    database's filestore."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.client: Any = None
        endpoint, bucket = config.get("odooplane_s3_endpoint"), config.get("odooplane_s3_bucket")
        if ATTACHMENTS in config.server_wide_modules and endpoint and bucket:
            self.client = _client_module(ATTACHMENTS, "s3").S3(
                str(endpoint), str(bucket), access_key=str(config.get("odooplane_s3_access_key")),
                secret_key=str(config.get("odooplane_s3_secret_key")),
                region=str(config.get("odooplane_s3_region") or "us-east-1"))

    def _key(self, db: str, fname: str) -> str:
        return f"{self.config.get('odooplane_s3_prefix') or ''}{db}/{fname}"

    def write(self, db: str, content: bytes) -> filestore.Stored:
        if self.client is None:
            return filestore.write(self.config.filestore(db), content)
        digest = filestore.checksum(content)
        fname = filestore.store_fname(digest)
        if not self.client.exists(self._key(db, fname)):
            self.client.put(self._key(db, fname), content)
        return filestore.Stored(checksum=digest, store_fname=fname, file_size=len(content))

    def read(self, db: str, fname: str) -> bytes:
        if self.client is not None:
            data = self.client.get(self._key(db, fname))
            if data is not None:
                return bytes(data)
        return filestore.read(self.config.filestore(db), fname)


def create(conn: Connection, config: Config, db: str, uid: int, values: dict[str, Any]) -> int:
    """``ir.attachment.create`` of a binary attachment (``datas``: base64)."""
    content = base64.b64decode(values.get("datas") or b"")
    stored = Attachments(config).write(db, content)
    row = execute(conn, "INSERT INTO ir_attachment (name, res_model, res_id, type, store_fname, file_size, checksum, "
                        "mimetype, create_uid, write_uid, create_date, write_date) VALUES "
                        "(%s, %s, %s, 'binary', %s, %s, %s, %s, %s, %s, now() at time zone 'UTC', "
                        "now() at time zone 'UTC') RETURNING id",
                  [str(values.get("name") or "attachment"), values.get("res_model"), values.get("res_id"),
                   stored.store_fname, stored.file_size, stored.checksum,
                   values.get("mimetype") or "application/octet-stream", uid, uid]).fetchone()
    assert row is not None
    return int(row[0])


FIELDS = ("name", "store_fname", "checksum", "file_size", "mimetype", "res_model", "res_id")


def read(conn: Connection, config: Config, db: str, ids: list[int], fields: list[str] | None) -> list[dict[str, Any]]:
    """``ir.attachment.read``, ``datas`` (base64 of the stored content) included when asked."""
    wanted = list(fields or (*FIELDS, "datas"))
    rows = execute(conn, "SELECT id, name, store_fname, checksum, file_size, mimetype, res_model, res_id "
                         "FROM ir_attachment WHERE id = ANY(%s) ORDER BY id", [list(ids)]).fetchall()
    storage = Attachments(config)
    out = []
    for row in rows:
        record = dict(zip(("id", *FIELDS), row, strict=True))
        if "datas" in wanted:
            record["datas"] = base64.b64encode(storage.read(db, str(record["store_fname"]))).decode() \
                if record["store_fname"] else False
        out.append({k: (False if v is None else v) for k, v in record.items() if k == "id" or k in wanted})
    return out
