"""Backup repositories of the estate: where they are and how to open them (secrets resolved)."""

from __future__ import annotations

from pathlib import Path

from odooplane.errors import NotFound
from odooplane.estate.resolve import DesiredEnvironment
from odooplane.operations.context import Context
from odooplane.services import restic, secret_refs


def repository(ctx: Context, name: str, *, tenant: str | None = None) -> restic.Repository:
    """Open repository ``name`` (for ``tenant`` when it is kept per tenant)."""
    try:
        spec = ctx.estate.backups.repositories[name]
    except KeyError:
        raise NotFound(f"no backup repository {name!r} (known: {', '.join(sorted(ctx.estate.backups.repositories))})"
                       ) from None
    where = f"backups.repositories.{name}"
    if spec.url is None:
        url = str(ctx.layout.backup_repository(name))
    elif spec.url.startswith("s3:"):
        url = spec.url
    else:
        path = Path(spec.url.removeprefix("local:")).expanduser()
        url = str(path if path.is_absolute() else (ctx.base_dir / path).resolve())
    if spec.per_tenant and tenant:
        url = f"{url.rstrip('/')}/{tenant}"
    password = (secret_refs.resolve(spec.password, base_dir=ctx.base_dir, where=f"{where}.password")
                if spec.password else ctx.secrets.get_or_create(f"backup/{name}/password"))
    env: dict[str, str] = {}
    if spec.s3_access_key_id:
        env["AWS_ACCESS_KEY_ID"] = secret_refs.resolve(spec.s3_access_key_id, base_dir=ctx.base_dir,
                                                       where=f"{where}.s3_access_key_id")
    if spec.s3_secret_access_key:
        env["AWS_SECRET_ACCESS_KEY"] = secret_refs.resolve(spec.s3_secret_access_key, base_dir=ctx.base_dir,
                                                           where=f"{where}.s3_secret_access_key")
    return restic.Repository(name=name, url=url, password=password, env=env)


def targets(ctx: Context, env: DesiredEnvironment) -> list[str]:
    """The repositories ``env``'s policy backs up to (empty: not backed up)."""
    if env.backup_policy is None:
        return []
    return list(ctx.estate.backups.policies[env.backup_policy].targets)


def tags(ctx: Context, env: DesiredEnvironment, *, kind: str) -> list[str]:
    """Every snapshot is tagged so that retention only ever touches what it can identify as ours."""
    return ["odooplane", f"estate={ctx.estate_id}", f"tenant={env.ref.tenant}", f"env={env.ref.env}", f"kind={kind}"]


def env_tags(ctx: Context, env: DesiredEnvironment) -> list[str]:
    return ["odooplane", f"estate={ctx.estate_id}", f"tenant={env.ref.tenant}", f"env={env.ref.env}"]
