"""Users and credentials, as ``res.users`` checks them.

``authenticate`` finds the active user by login, verifies the password hash
(a plaintext password set through SQL is accepted once and re-hashed), falls
back to an API key for non-interactive (RPC) logins, applies the login
cooldown (``base.login_cooldown_after`` failures -> ``base.login_cooldown_duration``
seconds, counted per process), and logs ``Login successful/failed for db:..``.
An interactive login of an administrator records the request's URL root as
``web.base.url`` unless ``web.base.url.freeze`` is set, as real Odoo does.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from odooplane.sim import passwords
from odooplane.sim.database import Connection, execute
from odooplane.sim.exceptions import AccessDenied
from odooplane.sim.sessions import session_token

_logger = logging.getLogger("odoo.addons.base.models.res_users")
API_KEY_ROUNDS_HINT = 6000  # res.users.apikeys hash with 6000 rounds (any count verifies)
INDEX_SIZE = 8

_failures: dict[tuple[str, str], tuple[int, float]] = {}
_failures_lock = threading.Lock()


def get_param(conn: Connection, key: str, default: str | None = None) -> str | None:
    """``ir.config_parameter.get_param``."""
    row = execute(conn, "SELECT value FROM ir_config_parameter WHERE key = %s", (key,)).fetchone()
    return str(row[0]) if row else default


def set_param(conn: Connection, key: str, value: str) -> None:
    """``ir.config_parameter.set_param``."""
    execute(conn, "INSERT INTO ir_config_parameter (key, value, create_date, write_date)"
                  " VALUES (%s, %s, now() at time zone 'UTC', now() at time zone 'UTC')"
                  " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, write_date = EXCLUDED.write_date",
            (key, value))


def is_system(conn: Connection, uid: int) -> bool:
    """Whether ``uid`` is the superuser or the admin created with the database (group_system holders)."""
    if uid == 1:
        return True
    row = execute(conn, "SELECT 1 FROM ir_model_data WHERE module = 'base' AND name = 'user_admin'"
                        " AND model = 'res.users' AND res_id = %s", (uid,)).fetchone()
    return row is not None


def _cooldown(conn: Connection, db: str, login: str) -> None:
    after = int(get_param(conn, "base.login_cooldown_after", "10") or 0)
    duration = int(get_param(conn, "base.login_cooldown_duration", "60") or 0)
    with _failures_lock:
        count, last = _failures.get((db, login), (0, 0.0))
    if after and duration and count >= after and time.time() - last < duration:
        _logger.warning("Login attempt ignored for %s on %s: %d failures since last success, last failure at %s.",
                        login, db, count, time.ctime(last))
        raise AccessDenied("Too many login failures, please wait a bit before trying again.")


def _record(db: str, login: str, *, success: bool) -> None:
    with _failures_lock:
        if success:
            _failures.pop((db, login), None)
        else:
            count, _ = _failures.get((db, login), (0, 0.0))
            _failures[(db, login)] = (count + 1, time.time())


def check_password(conn: Connection, uid: int, password: str, *, interactive: bool, rounds: int) -> None:
    """``_check_credentials``: raise AccessDenied unless ``password`` is the user's password
    (or, for non-interactive calls, one of the user's global or ``rpc`` API keys)."""
    if not password:
        raise AccessDenied()
    row = execute(conn, "SELECT COALESCE(password, '') FROM res_users WHERE id = %s", (uid,)).fetchone()
    stored = str(row[0]) if row else ""
    valid, replacement = passwords.verify_and_update(password, stored, rounds=rounds)
    if replacement is not None:
        execute(conn, "UPDATE res_users SET password = %s WHERE id = %s", (replacement, uid))
    if valid:
        return
    if not interactive:
        keys = execute(conn, "SELECT k.key FROM res_users_apikeys k JOIN res_users u ON u.id = k.user_id"
                             " WHERE u.active AND k.user_id = %s AND k.index = %s AND (k.scope IS NULL OR"
                             " k.scope = 'rpc') AND (k.expiration_date IS NULL OR"
                             " k.expiration_date >= now() at time zone 'utc')", (uid, password[:INDEX_SIZE]))
        if any(passwords.verify(password, str(key)) for (key,) in keys):
            return
    raise AccessDenied()


def authenticate(conn: Connection, *, db: str, login: str, password: str, interactive: bool, rounds: int,
                 remote_addr: str = "n/a", base_location: str | None = None) -> int:
    """Return the uid of the active user ``login`` if ``password`` is right. Raise AccessDenied otherwise."""
    _cooldown(conn, db, login)
    try:
        row = execute(conn, "SELECT id FROM res_users WHERE login = %s AND active ORDER BY id LIMIT 1",
                      (login,)).fetchone()
        if row is None:
            raise AccessDenied()
        uid = int(row[0])
        check_password(conn, uid, password, interactive=interactive, rounds=rounds)
        execute(conn, "UPDATE res_users SET login_date = now() at time zone 'UTC' WHERE id = %s", (uid,))
    except AccessDenied:
        _record(db, login, success=False)
        _logger.info("Login failed for db:%s login:%s from %s", db, login, remote_addr)
        raise
    _record(db, login, success=True)
    _logger.info("Login successful for db:%s login:%s from %s", db, login, remote_addr)
    if base_location and is_system(conn, uid) and not get_param(conn, "web.base.url.freeze"):
        set_param(conn, "web.base.url", base_location)
    return uid


def check(conn: Connection, uid: int, password: str, *, rounds: int) -> None:
    """``res.users.check`` for RPC: raise AccessDenied unless uid is active and the password/API key fits."""
    if not password:
        raise AccessDenied()
    row = execute(conn, "SELECT active FROM res_users WHERE id = %s", (uid,)).fetchone()
    if row is None or not row[0]:
        raise AccessDenied()
    check_password(conn, uid, password, interactive=False, rounds=rounds)


def compute_session_token(conn: Connection, uid: int, sid: str) -> str | None:
    """``_compute_session_token``: None when the user no longer exists."""
    row = execute(conn, "SELECT active, id, login, password FROM res_users WHERE id = %s", (uid,)).fetchone()
    if row is None:
        return None
    secret = get_param(conn, "database.secret", "") or ""
    return session_token(sid, user_row=tuple(row), secret=secret)


def user_info(conn: Connection, uid: int) -> dict[str, Any]:
    """Return the fields session_info needs about ``uid``."""
    row = execute(conn, "SELECT u.login, p.name, u.partner_id, u.company_id, u.share FROM res_users u"
                        " LEFT JOIN res_partner p ON p.id = u.partner_id WHERE u.id = %s", (uid,)).fetchone()
    if row is None:
        return {}
    login, name, partner_id, company_id, share = row
    return {"login": login, "name": name, "partner_id": partner_id, "company_id": company_id, "share": bool(share)}
