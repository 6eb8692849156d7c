"""HTTP sessions stored as files, like Odoo's ``FilesystemSessionStore``.

One JSON file per session at ``<data_dir>/sessions/<sid[:2]>/<sid>``, shared
by every process using that data_dir (so prefork workers and the evented
process see each other's logins).  Session ids are 84 url-safe base64
characters.  A logged-in session stores a ``session_token``: an HMAC of the
session id keyed with the user's ``(active, id, login, password)`` and the
database's ``database.secret``, so changing the password or the secret logs
the session out.  CSRF tokens are ``<hmac-sha1>o<expiry>``, keyed with
``database.secret`` over the session id, as ``Request.csrf_token``.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import re
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

SESSION_LIFETIME = 60 * 60 * 24 * 7
CSRF_TOKEN_SALT = 60 * 60 * 24 * 365
_KEY_RE = re.compile(r"^[A-Za-z0-9_-]{84}$")


def default_data() -> dict[str, Any]:
    """``get_default_session()``."""
    return {"context": {"lang": "en_US"}, "db": None, "debug": "", "login": None, "uid": None,
            "session_token": None, "_trace": []}


@dataclass
class Session:
    """One session: its id and data, with dirty tracking."""

    sid: str
    data: dict[str, Any] = field(default_factory=default_data)
    is_new: bool = False
    is_dirty: bool = False
    should_rotate: bool = False

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def __setitem__(self, key: str, value: Any) -> None:
        if self.data.get(key) != value:
            self.data[key] = value
            self.is_dirty = True

    @property
    def db(self) -> str | None:
        return self.data.get("db")

    @property
    def uid(self) -> int | None:
        uid = self.data.get("uid")
        return int(uid) if uid is not None else None

    def logout(self, *, keep_db: bool = False) -> None:
        """Forget the user (and the database unless ``keep_db``); the id is rotated on save."""
        db = self.db if keep_db else None
        debug = self.data.get("debug", "")
        self.data = default_data()
        self.data.update(db=db, debug=debug)
        self.is_dirty = True
        self.should_rotate = True


class SessionStore:
    """Loads and saves sessions under one directory."""

    def __init__(self, path: str) -> None:
        self.path = path

    @staticmethod
    def generate_key() -> str:
        """An 84-character url-safe key (sha512 of time + 64 random bytes, minus a byte to avoid padding)."""
        key = str(time.time()).encode() + os.urandom(64)
        return base64.urlsafe_b64encode(hashlib.sha512(key).digest()[:-1]).decode("ascii")

    @staticmethod
    def is_valid_key(key: str) -> bool:
        return _KEY_RE.match(key) is not None

    def filename(self, sid: str) -> str:
        if not self.is_valid_key(sid):
            raise ValueError(f"Invalid session id {sid!r}")
        return os.path.join(self.path, sid[:2], sid)

    def new(self) -> Session:
        return Session(sid=self.generate_key(), is_new=True)

    def get(self, sid: str | None) -> Session:
        """Return the stored session ``sid``, or a new one if the id is invalid, unknown or unreadable."""
        if not sid or not self.is_valid_key(sid):
            return self.new()
        try:
            with open(self.filename(sid), encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, ValueError):
            return Session(sid=sid, is_new=True)
        merged = default_data()
        merged.update(data if isinstance(data, dict) else {})
        return Session(sid=sid, data=merged)

    def save(self, session: Session) -> None:
        """Write the session atomically (temp file in the store root, then rename)."""
        target = self.filename(session.sid)
        os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=".__wz_sess", dir=self.path)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(session.data, handle)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        session.is_new = False
        session.is_dirty = False

    def delete(self, session: Session) -> None:
        with contextlib.suppress(OSError, ValueError):
            os.unlink(self.filename(session.sid))

    def rotate(self, session: Session) -> None:
        """Give the session a new id (after login/logout) and save it."""
        self.delete(session)
        session.sid = self.generate_key()
        session.should_rotate = False
        self.save(session)


def session_token(sid: str, *, user_row: tuple[Any, ...], secret: str) -> str:
    """HMAC-SHA256 of ``sid`` keyed with the user's (active, id, login, password) row and the database secret."""
    key = f"{(secret, *user_row)}".encode()
    return hmac.new(key, sid.encode(), hashlib.sha256).hexdigest()


def csrf_token(sid: str, secret: str, *, time_limit: int | None = None) -> str:
    """``Request.csrf_token``: ``<hmac-sha1 hex>o<max_ts>``."""
    max_ts = int(time.time() + (time_limit or CSRF_TOKEN_SALT))
    digest = hmac.new(secret.encode("ascii"), f"{sid}{max_ts}".encode(), hashlib.sha1).hexdigest()
    return f"{digest}o{max_ts}"


def validate_csrf(token: str | None, sid: str, secret: str) -> bool:
    """``Request.validate_csrf``: whether ``token`` was issued for ``sid`` and has not expired."""
    if not token:
        return False
    digest, _, max_ts = token.rpartition("o")
    if max_ts:
        try:
            if int(max_ts) < int(time.time()):
                return False
        except ValueError:
            return False
    expected = hmac.new(secret.encode("ascii"), f"{sid}{max_ts}".encode(), hashlib.sha1).hexdigest()
    return hmac.compare_digest(digest, expected)
