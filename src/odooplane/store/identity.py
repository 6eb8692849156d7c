"""Users and API tokens in the state store.

A token's secret (``odp_`` + 43 URL-safe characters, 256 bits) is shown once, at creation; the
store keeps its SHA-256 and its first characters (to recognise it in a list). A password is kept as
an scrypt hash. ``last_used_at`` is written at most once a minute per token, so a busy client does
not turn every request into a write.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets as random
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from odooplane.store import tables
from odooplane.store.db import Store, aware, now

TOKEN_PREFIX = "odp_"  # noqa: S105 (the prefix of every token, not a secret)
_USED_EVERY = dt.timedelta(seconds=60)
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


@dataclass(frozen=True)
class UserRow:
    name: str
    role: str
    scopes: list[str]
    os_user: str | None
    has_password: bool
    created_by: str
    created_at: dt.datetime
    last_login_at: dt.datetime | None


@dataclass(frozen=True)
class TokenRow:
    id: int
    name: str
    prefix: str
    role: str
    scopes: list[str]
    created_by: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None

    def state(self, at: dt.datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= at:
            return "expired"
        return "active"


def _user(row: Any) -> UserRow:
    created = aware(row.created_at)
    assert created is not None
    return UserRow(row.name, row.role, list(row.scopes or []), row.os_user, row.password_hash is not None,
                   row.created_by, created, aware(row.last_login_at))


def _token(row: Any) -> TokenRow:
    created = aware(row.created_at)
    assert created is not None
    return TokenRow(row.id, row.name, row.prefix, row.role, list(row.scopes or []), row.created_by, created,
                    aware(row.expires_at), aware(row.revoked_at), aware(row.last_used_at))


# -- passwords ---------------------------------------------------------------------------------
def hash_password(password: str) -> str:
    salt = random.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    b64 = base64.urlsafe_b64encode
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${b64(salt).decode()}${b64(digest).decode()}"


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.urlsafe_b64decode(digest)
        got = hashlib.scrypt(password.encode(), salt=base64.urlsafe_b64decode(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


# -- users -------------------------------------------------------------------------------------
def add_user(store: Store, *, name: str, role: str, scopes: list[str], os_user: str | None,
             password: str | None, created_by: str) -> bool:
    """Insert the user; False if one of that name (or that OS user) exists already."""
    try:
        with store.begin() as conn:
            conn.execute(tables.users.insert().values(
                name=name, role=role, scopes=scopes, os_user=os_user,
                password_hash=hash_password(password) if password is not None else None,
                created_by=created_by, created_at=now()))
    except sa.exc.IntegrityError:
        return False
    return True


def set_role(store: Store, name: str, *, role: str, scopes: list[str]) -> bool:
    with store.begin() as conn:
        done = conn.execute(tables.users.update().where(tables.users.c.name == name).values(role=role, scopes=scopes))
    return bool(done.rowcount)


def touch_login(store: Store, name: str) -> None:
    with store.begin() as conn:
        conn.execute(tables.users.update().where(tables.users.c.name == name).values(last_login_at=now()))


def set_password(store: Store, name: str, password: str) -> bool:
    with store.begin() as conn:
        done = conn.execute(tables.users.update().where(tables.users.c.name == name)
                            .values(password_hash=hash_password(password)))
    return bool(done.rowcount)


def remove_user(store: Store, name: str) -> bool:
    with store.begin() as conn:
        return bool(conn.execute(tables.users.delete().where(tables.users.c.name == name)).rowcount)


def user(store: Store, name: str) -> UserRow | None:
    with store.connect() as conn:
        row = conn.execute(sa.select(tables.users).where(tables.users.c.name == name)).first()
    return None if row is None else _user(row)


def user_by_os_user(store: Store, os_user: str) -> UserRow | None:
    with store.connect() as conn:
        row = conn.execute(sa.select(tables.users).where(tables.users.c.os_user == os_user)).first()
    return None if row is None else _user(row)


def users(store: Store) -> list[UserRow]:
    with store.connect() as conn:
        return [_user(r) for r in conn.execute(sa.select(tables.users).order_by(tables.users.c.name)).all()]


def login(store: Store, name: str, password: str) -> UserRow | None:
    """The user if ``password`` is theirs (and record the login); None otherwise. The hash is
    computed even for an unknown user, so the answer takes as long either way."""
    with store.connect() as conn:
        row = conn.execute(sa.select(tables.users).where(tables.users.c.name == name)).first()
    stored = row.password_hash if row is not None and row.password_hash else _DUMMY
    ok = check_password(password, stored)
    if row is None or not row.password_hash or not ok:
        return None
    with store.begin() as conn:
        conn.execute(tables.users.update().where(tables.users.c.name == name).values(last_login_at=now()))
    return _user(row)


_DUMMY = hash_password(random.token_urlsafe(16))


# -- tokens ------------------------------------------------------------------------------------
def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(store: Store, *, name: str, role: str, scopes: list[str], expires_at: dt.datetime | None,
                 created_by: str) -> tuple[TokenRow, str] | None:
    """Create a token; return it with its secret (shown once), or None if the name is taken."""
    secret = TOKEN_PREFIX + random.token_urlsafe(32)
    try:
        with store.begin() as conn:
            conn.execute(tables.api_tokens.insert().values(
                name=name, digest=digest(secret), prefix=secret[:12], role=role, scopes=scopes,
                created_by=created_by, created_at=now(), expires_at=expires_at))
    except sa.exc.IntegrityError:
        return None
    found = token(store, name)
    assert found is not None
    return found, secret


def token(store: Store, name: str) -> TokenRow | None:
    with store.connect() as conn:
        row = conn.execute(sa.select(tables.api_tokens).where(tables.api_tokens.c.name == name)).first()
    return None if row is None else _token(row)


def tokens(store: Store) -> list[TokenRow]:
    with store.connect() as conn:
        return [_token(r) for r in conn.execute(sa.select(tables.api_tokens).order_by(tables.api_tokens.c.name))]


def revoke_token(store: Store, name: str) -> bool:
    """Revoke a token (kept, for the record); False if there is no active token of that name."""
    with store.begin() as conn:
        done = conn.execute(tables.api_tokens.update()
                            .where(tables.api_tokens.c.name == name, tables.api_tokens.c.revoked_at.is_(None))
                            .values(revoked_at=now()))
    return bool(done.rowcount)


def authenticate(store: Store, secret: str) -> TokenRow | None:
    """The active token whose secret this is (its use recorded), or None: unknown, expired or revoked."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 128:
        return None
    with store.connect() as conn:
        row = conn.execute(sa.select(tables.api_tokens).where(tables.api_tokens.c.digest == digest(secret))).first()
    if row is None:
        return None
    found = _token(row)
    at = now()
    if found.state(at) != "active":
        return None
    if found.last_used_at is None or at - found.last_used_at >= _USED_EVERY:
        with store.begin() as conn:
            conn.execute(tables.api_tokens.update().where(tables.api_tokens.c.id == found.id)
                         .values(last_used_at=at))
    return found


# -- sessions ----------------------------------------------------------------------------------
SESSION_IDLE = dt.timedelta(hours=2)
SESSION_MAX = dt.timedelta(hours=12)


@dataclass(frozen=True)
class SessionRow:
    user_name: str
    csrf: str
    via: str
    expires_at: dt.datetime


def start_session(store: Store, user_name: str, *, via: str) -> tuple[str, SessionRow]:
    """A new session of ``user_name``: its cookie value (shown once) and the row."""
    secret = random.token_urlsafe(32)
    at = now()
    row = SessionRow(user_name, random.token_urlsafe(32), via, at + SESSION_MAX)
    with store.begin() as conn:
        conn.execute(tables.sessions.insert().values(digest=digest(secret), user_name=user_name, csrf=row.csrf,
                                                     via=via, created_at=at, expires_at=row.expires_at,
                                                     last_seen_at=at))
        conn.execute(tables.sessions.delete().where(tables.sessions.c.expires_at < at))  # the ended ones
    return secret, row


def session(store: Store, secret: str) -> SessionRow | None:
    """The live session of a cookie (its use recorded at most once a minute); None when unknown,
    idle longer than SESSION_IDLE or past SESSION_MAX."""
    if not secret or len(secret) > 128:
        return None
    with store.connect() as conn:
        row = conn.execute(sa.select(tables.sessions).where(tables.sessions.c.digest == digest(secret))).first()
    if row is None:
        return None
    at = now()
    expires, seen = aware(row.expires_at), aware(row.last_seen_at)
    assert expires is not None and seen is not None
    if expires <= at or at - seen > SESSION_IDLE:
        end_session(store, secret)
        return None
    if at - seen >= _USED_EVERY:
        with store.begin() as conn:
            conn.execute(tables.sessions.update().where(tables.sessions.c.digest == row.digest)
                         .values(last_seen_at=at))
    return SessionRow(row.user_name, row.csrf, row.via, expires)


def end_session(store: Store, secret: str) -> None:
    with store.begin() as conn:
        conn.execute(tables.sessions.delete().where(tables.sessions.c.digest == digest(secret)))


def end_sessions_of(store: Store, user_name: str) -> int:
    with store.begin() as conn:
        return int(conn.execute(tables.sessions.delete().where(tables.sessions.c.user_name == user_name)).rowcount)
