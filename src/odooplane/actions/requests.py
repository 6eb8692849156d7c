"""The write side of the service: a request edits the estate (through the same in-place editor as
``move``: comments and layout kept), checks it, and queues the operation that converges it; a worker
claims and runs the operation (actions/executor.py). Each request is authorized on what it touches
before anything is written, and the edit is undone when the edited estate is invalid or refused."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from odooplane import files
from odooplane.access import Principal
from odooplane.actions.access import authorize, environment_subject
from odooplane.actions.service import Service
from odooplane.errors import EstateInvalid, NotFound, Problem, UsageError
from odooplane.estate import edit, names
from odooplane.estate.load import load as load_files
from odooplane.estate.resolve import EnvRef
from odooplane.estate.validate import ValidEstate, check
from odooplane.operations.context import Context
from odooplane.store import requests


@dataclass(frozen=True)
class Accepted:
    """A queued operation: its id, and what it converges."""

    operation: int
    kind: str
    targets: list[str]


@contextmanager
def _estate_lock(path: Path) -> Iterator[None]:
    """One edit of the estate at a time (across processes of this host)."""
    lock = path.with_name(f".{path.name}.lock")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _declaring_file(root: Path, tenant: str, env: str | None = None) -> Path:
    """The file (the estate or one of its includes) that declares the tenant (or its environment)."""
    loaded = load_files(root)
    key: tuple[str, ...] = ("tenants", tenant, "environments", env) if env else ("tenants", tenant)
    return Path(loaded.origin(key).rsplit(":", 1)[0])


def _edit(svc: Service, file: Path, change: Callable[[str], str],
          accept: Callable[[ValidEstate], None]) -> ValidEstate:
    """Apply ``change`` to ``file`` under the estate lock, validate the estate, let ``accept`` check
    (authorize) the result; undo the edit if any of it fails. Return the valid edited estate."""
    root = svc.path
    with _estate_lock(root):
        original = file.read_bytes().decode("utf-8")
        mode = file.stat().st_mode & 0o777
        try:
            changed = change(original)
        except edit.EditError as exc:
            raise UsageError(f"{file}: cannot edit the estate in place: {exc}") from None
        files.atomic_write(file, changed, mode=mode)
        try:
            valid, problems = check(root)
            if valid is None:
                raise EstateInvalid(problems or [Problem(str(root), "", "invalid estate")])
            accept(valid)
        except BaseException:
            files.atomic_write(file, original, mode=mode)
            raise
    svc.adopt(valid)
    return valid


def _subjects_of(valid: ValidEstate, tenant: str) -> list[Any]:
    return [environment_subject(e) for e in valid.environments if e.ref.tenant == tenant]


def create_tenant(svc: Service, principal: Principal, name: str, body: dict[str, Any]) -> Accepted:
    """Add tenant ``name`` (its labels, profile, environments…) to the estate and queue the
    operation that provisions its environments. Needs ``tenants.create`` on every one of them."""
    try:
        names.check_tenant(name)
    except ValueError as exc:
        raise UsageError(f"tenant name: {exc}") from None
    ctx = svc.context()
    if name in ctx.estate.tenants:
        raise UsageError(f"tenant {name} exists already")
    if not isinstance(body.get("environments"), dict) or not body["environments"]:
        raise UsageError("environments: a tenant needs at least one environment")

    def accept(valid: ValidEstate) -> None:
        for subject in _subjects_of(valid, name):
            authorize(ctx, principal, "tenants.create", subject)

    valid = _edit(svc, svc.path, lambda text: edit.add_tenant(text, name=name, body=body), accept)
    targets = sorted(str(e.ref) for e in valid.environments if e.ref.tenant == name)
    op = requests.enqueue(ctx.store, kind="provision", target=name, actor=principal.actor,
                          request={"do": "converge", "targets": targets})
    return Accepted(op, "provision", targets)


def _existing(ctx: Context, target: str) -> EnvRef:
    try:
        ref = EnvRef.parse(target)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if ctx.valid.environment(ref) is None:
        raise NotFound(f"environment {target} does not exist")
    return ref


def change_placement(svc: Service, principal: Principal, target: str, placement: str) -> Accepted:
    """Move an environment to ``dedicated`` or ``shared:<pool>`` (queued: copy, switch, drop the old
    copy). Needs ``tenants.change`` on the environment where it is and where it goes."""
    from odooplane.actions.move import parse_destination

    ctx = svc.context()
    ref = _existing(ctx, target)
    env = ctx.valid.environment(ref)
    assert env is not None
    authorize(ctx, principal, "tenants.change", environment_subject(env))
    value = parse_destination(placement)
    wanted = "dedicated" if value == "dedicated" else f"shared:{value['shared']}"
    if wanted == env.placement:
        raise UsageError(f"{target} is {env.placement} already")

    def accept(valid: ValidEstate) -> None:
        moved = valid.environment(ref)
        assert moved is not None
        authorize(ctx, principal, "tenants.change", environment_subject(moved))

    _edit(svc, _declaring_file(svc.path, ref.tenant, ref.env),
          lambda text: edit.set_env_keys(text, tenant=ref.tenant, env=ref.env, values={"placement": value}), accept)
    op = requests.enqueue(ctx.store, kind="move", target=target, actor=principal.actor,
                          request={"do": "converge", "targets": [target]})
    return Accepted(op, "move", [target])


def decommission(svc: Service, principal: Principal, target: str, *, purge: bool = False) -> Accepted:
    """Remove an environment from the estate (the tenant with its last one) and queue the operation
    that stops and unroutes it — and, with ``purge``, drops its database, role and files (its backups
    stay in their repositories). Needs ``tenants.decommission`` (and ``data.export`` rights are not
    involved: nothing leaves the platform)."""
    ctx = svc.context()
    ref = _existing(ctx, target)
    env = ctx.valid.environment(ref)
    assert env is not None
    authorize(ctx, principal, "tenants.decommission", environment_subject(env))
    _edit(svc, _declaring_file(svc.path, ref.tenant, ref.env),
          lambda text: edit.remove_environment(text, tenant=ref.tenant, env=ref.env), lambda _valid: None)
    op = requests.enqueue(ctx.store, kind="decommission", target=target, actor=principal.actor,
                          request={"do": "decommission", "targets": [target], "purge": purge,
                                   "database": env.database, "role": env.role if env.pool is None else None})
    return Accepted(op, "decommission", [target])


def backup_now(svc: Service, principal: Principal, target: str) -> Accepted:
    """Queue a backup of an environment. Needs ``backups.run`` on it."""
    ctx = svc.context()
    ref = _existing(ctx, target)
    env = ctx.valid.environment(ref)
    assert env is not None
    authorize(ctx, principal, "backups.run", environment_subject(env))
    if env.backup_policy is None:
        raise UsageError(f"{target} is not backed up (backup: false): there is no repository to back it up to")
    op = requests.enqueue(ctx.store, kind="backup", target=target, actor=principal.actor,
                          request={"do": "backup", "targets": [target]})
    return Accepted(op, "backup", [target])


def _queue(ctx: Context, principal: Principal, kind: str, target: str, *, request: dict[str, Any],
           targets: list[str]) -> Accepted:
    op = requests.enqueue(ctx.store, kind=kind, target=target, actor=principal.actor, request=request)
    return Accepted(op, kind, targets)


def verify_now(svc: Service, principal: Principal, target: str, *, snapshot: str | None = None) -> Accepted:
    """Queue a restore proof of an environment's backup (newest, or ``snapshot``). Needs ``backups.run``."""
    ctx = svc.context()
    env = ctx.valid.environment(_existing(ctx, target))
    assert env is not None
    authorize(ctx, principal, "backups.run", environment_subject(env))
    return _queue(ctx, principal, "verify", target, request={"do": "verify", "targets": [target], "snapshot": snapshot},
                  targets=[target])


def restore_now(svc: Service, principal: Principal, target: str, *, source: str | None = None,
                snapshot: str | None = None, at: str | None = None) -> Accepted:
    """Queue a restore into ``target`` (from its own backups, or ``source``'s). Needs ``restore`` on the
    target (and ``restore.production`` in production) and ``backups.read`` on the source."""
    ctx = svc.context()
    env = ctx.valid.environment(_existing(ctx, target))
    assert env is not None
    if snapshot and at:
        raise UsageError("give snapshot or at, not both")
    authorize(ctx, principal, "restore", environment_subject(env))
    if source is not None and source != target:
        origin = ctx.valid.environment(_existing(ctx, source))
        assert origin is not None
        authorize(ctx, principal, "backups.read", environment_subject(origin))
    return _queue(ctx, principal, "restore", target, request={"do": "restore", "targets": [target], "source": source,
                                                              "snapshot": snapshot, "at": at}, targets=[target])


def clone_now(svc: Service, principal: Principal, source: str, target: str, *, anonymize: bool = False) -> Accepted:
    """Queue a clone of ``source`` into ``target`` (a non-production environment; neutralized). Needs
    ``clones.create`` on the target and ``backups.read`` on the source."""
    ctx = svc.context()
    src = ctx.valid.environment(_existing(ctx, source))
    dst = ctx.valid.environment(_existing(ctx, target))
    assert src is not None and dst is not None
    authorize(ctx, principal, "clones.create", environment_subject(dst))
    authorize(ctx, principal, "backups.read", environment_subject(src))
    from odooplane.operations import clones

    clones.check_pair(src, dst)  # bad input is refused before anything is queued
    return _queue(ctx, principal, "clone", target, request={"do": "clone", "targets": [target], "source": source,
                                                            "anonymize": anonymize}, targets=[target])


def promote_now(svc: Service, principal: Principal, release: str, selector: str) -> Accepted:
    """Queue the promotion of ``release`` to the environments ``selector`` names (through their gates:
    windows, freezes, approvals, previous stage). Needs ``releases.promote`` on every one of them."""
    from odooplane.actions.releases import select_targets

    ctx = svc.context()
    if release not in ctx.estate.releases:
        raise NotFound(f"release {release} does not exist")
    targets = select_targets(list(ctx.valid.environments), selector)
    for env in targets:
        authorize(ctx, principal, "releases.promote", environment_subject(env))
    names_ = sorted(str(e.ref) for e in targets)
    return _queue(ctx, principal, "promote", selector, request={"do": "promote", "targets": names_,
                                                                "release": release, "selector": selector},
                  targets=names_)
