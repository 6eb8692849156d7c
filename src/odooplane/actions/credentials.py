"""``credentials``: the admin login of an environment (the one secret a person needs to log in)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from odooplane.actions import estate_file
from odooplane.actions.access import guard
from odooplane.errors import NotFound, UsageError
from odooplane.estate.resolve import EnvRef
from odooplane.operations.desired import base_url, secret_name


@dataclass(frozen=True)
class Credentials:
    target: str
    url: str
    login: str
    password: str


def run(path: Path | None, target: str) -> Credentials:
    try:
        ref = EnvRef.parse(target)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    ctx = estate_file.context(path)
    try:
        env = ctx.valid.environment(ref)
        if env is None:
            raise NotFound(f"{target}: no such environment in {ctx.valid.path}")
        guard(ctx, "secrets.reveal", [env])
        password = ctx.secrets.get(secret_name(env, "admin_user_password"))
        if password is None:
            raise NotFound(f"{target}: not provisioned yet (run apply)")
        return Credentials(target=target, url=f"{base_url(ctx, env)}/web/login", login="admin", password=password)
    finally:
        ctx.close()
