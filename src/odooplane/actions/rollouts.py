"""``rollout status|advance|back|sign|rehearse``: multi-site rollouts in waves (docs/rollouts.md)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from odooplane.access import Principal
from odooplane.actions import estate_file
from odooplane.actions.access import allowed, cli_actor, environment_subject, guard
from odooplane.errors import NotFound, OdooplaneError, PermanentError, UsageError
from odooplane.estate.change import PersonRoles
from odooplane.estate.models import Rollout, Wave
from odooplane.operations import rollouts as checking
from odooplane.operations.context import Context
from odooplane.store import audit, evidence, rollouts


class NoGo(PermanentError):
    """A wave may not leave its phase: an item of its checklist does not hold (exit 1)."""


@dataclass(frozen=True)
class Rehearsal:
    source: str
    target: str
    ok: bool
    seconds: float
    error: str = ""


def _find(ctx: Context, name: str, wave: str | None) -> tuple[Rollout, list[Wave]]:
    rollout = ctx.estate.rollouts.get(name)
    if rollout is None:
        known = ", ".join(sorted(ctx.estate.rollouts)) or "none declared"
        raise NotFound(f"rollout {name!r} is not in the estate (rollouts: {known})")
    if wave is None:
        return rollout, list(rollout.waves)
    found = [w for w in rollout.waves if w.name == wave]
    if not found:
        raise NotFound(f"rollout {name!r} has no wave {wave!r} ({', '.join(w.name for w in rollout.waves)})")
    return rollout, found


def status(path: Path | None, name: str | None = None, wave: str | None = None) -> list[checking.WaveStatus]:
    ctx = estate_file.context(path)
    try:
        guard(ctx, "fleet.read", list(ctx.valid.environments))
        return status_in(ctx, name, wave)
    finally:
        ctx.close()


def status_in(ctx: Context, name: str | None, wave: str | None = None) -> list[checking.WaveStatus]:
    names = [name] if name else sorted(ctx.estate.rollouts)
    out = []
    for n in names:
        rollout, waves = _find(ctx, n, wave)
        out += [checking.status(ctx, n, rollout, w) for w in waves]
    return out


def status_for(ctx: Context, principal: Principal) -> list[checking.WaveStatus]:
    """The service's view: the waves all of whose environments are in ``principal``'s scope (a wave
    names its tenants and what was found of them), from recorded facts only (no request is made)."""
    shown = []
    for name, rollout in sorted(ctx.estate.rollouts.items()):
        for w in rollout.waves:
            envs = checking.wave_envs(ctx, w)
            if envs and all(allowed(principal, "fleet.read", environment_subject(e)) for e in envs):
                shown.append(checking.status(ctx, name, rollout, w, live=False))
    return shown


def advance(path: Path | None, name: str, wave: str) -> checking.WaveStatus:
    """Go: move ``wave`` to its next phase, only if every item of its checklist holds."""
    ctx = estate_file.context(path)
    try:
        guard(ctx, "estate.apply")
        rollout, (w,) = _find(ctx, name, wave)
        now = checking.status(ctx, name, rollout, w)
        at = checking.PHASES.index(now.phase)
        if at == len(checking.PHASES) - 1:
            raise UsageError(f"{name}/{wave} is in steady state: there is no phase after it")
        if not now.go:
            failing = [f"{i.name} ({i.evidence})" for i in now.items if not i.ok]
            audit.record(ctx.store, actor=ctx.actor, action="rollout advance", target=f"rollout {name}/{wave}",
                         outcome="no-go", detail={"phase": now.phase, "failing": failing})
            raise NoGo(f"no-go: {name}/{wave} stays in {now.phase}: " + "; ".join(failing),
                       hint="odooplane rollout status shows each item and what it found")
        new = checking.PHASES[at + 1]
        rollouts.add(ctx.store, rollout=name, wave=wave, kind="phase", phase=new, actor=ctx.actor,
                     detail={"from": now.phase, "items": {i.name: i.evidence for i in now.items}})
        audit.record(ctx.store, actor=ctx.actor, action="rollout advance", target=f"rollout {name}/{wave}",
                     outcome="go", detail={"from": now.phase, "to": new})
        return checking.status(ctx, name, rollout, w)
    finally:
        ctx.close()


def back(path: Path | None, name: str, wave: str, *, reason: str) -> checking.WaveStatus:
    """Roll ``wave`` back to its previous phase (its rollback criteria met, or by decision)."""
    if not reason.strip():
        raise UsageError("--reason: say why the wave goes back")
    ctx = estate_file.context(path)
    try:
        guard(ctx, "estate.apply")
        rollout, (w,) = _find(ctx, name, wave)
        phase, _ = checking.phase_of(rollouts.events(ctx.store, name), wave)
        at = checking.PHASES.index(phase)
        if at == 0:
            raise UsageError(f"{name}/{wave} is in {phase}: there is no phase before it")
        rollouts.add(ctx.store, rollout=name, wave=wave, kind="phase", phase=checking.PHASES[at - 1],
                     actor=ctx.actor, detail={"from": phase, "reason": reason, "rollback": True})
        audit.record(ctx.store, actor=ctx.actor, action="rollout back", target=f"rollout {name}/{wave}",
                     outcome="ok", detail={"from": phase, "to": checking.PHASES[at - 1], "reason": reason})
        return checking.status(ctx, name, rollout, w)
    finally:
        ctx.close()


def sign(path: Path | None, name: str, wave: str, item: str) -> checking.WaveStatus:
    """Sign off ``item`` of the wave's current phase (a role of the rollout's signoff_roles)."""
    ctx = estate_file.context(path)
    try:
        rollout, (w,) = _find(ctx, name, wave)
        guard(ctx, "fleet.read", checking.wave_envs(ctx, w))
        actor = cli_actor(ctx)  # the mapped user, whatever ODOOPLANE_ACTOR says
        phase, _ = checking.phase_of(rollouts.events(ctx.store, name), wave)
        signable = [i for i, kind, _ in checking.CHECKLIST[phase] if kind == "signoff"]
        if item not in signable:
            raise UsageError(f"{name}/{wave} is in {phase}, whose sign-offs are: {', '.join(signable) or 'none'}")
        roles = rollout.signoff_roles.get(item, [])
        held = set(ctx.estate.change_management.people.get(actor, PersonRoles()).roles)
        if roles and not held & set(roles):
            audit.record(ctx.store, actor=actor, action="rollout sign-off", target=f"rollout {name}/{wave}",
                         outcome="refused", detail={"item": item, "reason": "role"})
            raise UsageError(f"{actor} holds none of the roles that sign {item} ({', '.join(roles)}; "
                             "change_management.people)")
        rollouts.add(ctx.store, rollout=name, wave=wave, kind="signoff", phase=phase, item=item, actor=actor)
        audit.record(ctx.store, actor=actor, action="rollout sign-off", target=f"rollout {name}/{wave}",
                     outcome="ok", detail={"item": item, "phase": phase})
        return checking.status(ctx, name, rollout, w)
    finally:
        ctx.close()


def rehearse(path: Path | None, name: str, wave: str) -> list[Rehearsal]:
    """Rehearse the cutover of each production of the wave: a clone of it restored into its tenant's
    rehearsal environment, neutralized and proven, timed; recorded as evidence either way."""
    from odooplane.actions import clone as clone_action

    ctx = estate_file.context(path)
    try:
        rollout, (w,) = _find(ctx, name, wave)
        prods = [e for e in checking.wave_envs(ctx, w) if e.stage == "production"]
        if not prods:
            raise UsageError(f"{name}/{wave} has no production environment to rehearse")
        pairs = []
        for env in prods:
            target = f"{env.ref.tenant}/{rollout.rehearsal_env}"
            found = next((e for e in ctx.valid.environments if str(e.ref) == target), None)
            if found is None or found.stage == "production":
                raise UsageError(f"{target}: the rehearsal of {env.ref} needs this non-production environment "
                                 "(rollouts.<name>.rehearsal_env)")
            pairs.append((str(env.ref), target))
        estate_path = ctx.valid.path
    finally:
        ctx.close()
    out = []
    for source, target in pairs:
        started = time.monotonic()
        try:
            result = clone_action.run(estate_path, source, target)
            done = Rehearsal(source, target, True, round(time.monotonic() - started, 2))
            data: dict[str, object] = {"into": target, "seconds": done.seconds, "rto_s": result.rto_s,
                                       "snapshot": result.snapshot, "rollout": name, "wave": wave}
        except OdooplaneError as exc:
            done = Rehearsal(source, target, False, round(time.monotonic() - started, 2), exc.message)
            data = {"into": target, "seconds": done.seconds, "error": exc.message, "rollout": name, "wave": wave}
        ctx = estate_file.context(estate_path)
        try:
            evidence.add(ctx.store, kind="rehearsal", target=source, ok=done.ok, data=data,
                         summary=f"cutover of {source} rehearsed into {target}: "
                                 + (f"{done.seconds:.1f} s" if done.ok else f"failed ({done.error})"))
        finally:
            ctx.close()
        out.append(done)
    return out
