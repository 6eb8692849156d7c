"""Redis ACL users for session stores: one user per environment (or pool), allowed only the
commands a session store sends and only the keys under its prefix. ``SCAN``/``KEYS`` are not
among them: they list every key's name whatever the key patterns, and a session id is a bearer
credential of another tenant."""

from __future__ import annotations

import redis

RedisError = redis.RedisError  # what a server that does not answer (or refuses) raises

SESSION_COMMANDS = ("+get", "+set", "+del", "+exists", "+expire", "+ping", "+select")


def _client(host: str, port: int, admin_password: str | None) -> redis.Redis:
    return redis.Redis(host=host, port=port, password=admin_password, socket_timeout=5, socket_connect_timeout=5)


def ensure_user(host: str, port: int, admin_password: str | None, *, user: str, password: str, prefix: str) -> None:
    """Make ``user`` exist with exactly these rights and ``password`` (idempotent: ``reset`` first)."""
    client = _client(host, port, admin_password)
    try:
        client.acl_setuser(user, enabled=True, reset=True, passwords=[f"+{password}"], keys=[f"{prefix}*"],
                           reset_channels=True, categories=["-@all"], commands=list(SESSION_COMMANDS))
    finally:
        client.close()


def users(host: str, port: int, admin_password: str | None) -> set[str]:
    """The ACL users the server has now (one ``ACL USERS``): after a restart without an ACL file,
    only ``default`` — the session stores' users must be made again."""
    client = _client(host, port, admin_password)
    try:
        return {u.decode() if isinstance(u, bytes) else str(u) for u in client.acl_users()}
    finally:
        client.close()


def remove_user(host: str, port: int, admin_password: str | None, *, user: str, prefix: str) -> int:
    """Delete ``user`` and every key under ``prefix``; return how many keys were deleted."""
    client = _client(host, port, admin_password)
    try:
        client.acl_deluser(user)
        deleted = 0
        batch: list[bytes] = []
        for key in client.scan_iter(match=f"{prefix}*", count=500):
            batch.append(key)
            if len(batch) >= 500:
                deleted += int(client.delete(*batch))
                batch = []
        if batch:
            deleted += int(client.delete(*batch))
        return deleted
    finally:
        client.close()
