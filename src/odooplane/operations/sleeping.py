"""Sleeping non-production: a scheduled environment is put to sleep outside its awake hours (its
Odoo stopped, its database, filestore and configuration kept, its route sent to the worker's
waker) and woken for them, or for a request when its schedule allows it."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from odooplane.errors import OdooplaneError, PermanentError
from odooplane.estate import sleep
from odooplane.estate.resolve import DesiredEnvironment
from odooplane.operations.context import Context
from odooplane.operations.desired import WAKER, artifacts
from odooplane.store import sleeping

logger = logging.getLogger(__name__)
WAKE_TIMEOUT_S = 300


@dataclass(frozen=True)
class Change:
    target: str
    action: str  # sleep | wake
    ok: bool
    seconds: float
    error: str = ""


def scheduled(ctx: Context) -> list[DesiredEnvironment]:
    return [e for e in ctx.valid.environments if e.schedule is not None and e.pool is None]


def wanted_awake(ctx: Context, env: DesiredEnvironment, state: sleeping.State | None, at: dt.datetime) -> bool:
    assert env.schedule is not None
    if sleep.awake(ctx.estate.schedules[env.schedule], at):
        return True
    return state is not None and state.awake_until is not None and state.awake_until > at


def put_to_sleep(ctx: Context, env: DesiredEnvironment, *, actor: str) -> None:
    """Stop its Odoo (the configuration stays), record it asleep, then route it to the waker."""
    art = artifacts(ctx, env, create=False)
    if art is None or art.process is None:
        raise PermanentError(f"{env.ref}: not provisioned, nothing to put to sleep")
    ctx.driver.remove_workload(art.process.workload.name)
    sleeping.add(ctx.store, str(env.ref), "asleep", actor=actor)
    ctx.forget_asleep()
    routed = artifacts(ctx, env, create=False)
    assert routed is not None
    ctx.driver.ensure_route(routed.route)


def wake(ctx: Context, env: DesiredEnvironment, *, actor: str) -> None:
    """Start its Odoo and wait until it serves, record it awake, then route it back to Odoo."""
    art = artifacts(ctx, env, create=False)
    if art is None or art.process is None:
        raise PermanentError(f"{env.ref}: not provisioned, nothing to wake")
    ctx.driver.ensure_workload(art.process.workload)
    ctx.driver.wait_ready(art.process.workload.name, timeout=WAKE_TIMEOUT_S)
    sleeping.add(ctx.store, str(env.ref), "awake", actor=actor)
    ctx.forget_asleep()
    routed = artifacts(ctx, env, create=False)
    assert routed is not None
    ctx.driver.ensure_route(routed.route)


def tick(ctx: Context, *, actor: str = "schedule") -> list[Change]:
    """Put to sleep or wake every scheduled environment whose state is not the one its schedule
    (or a wake request) wants now."""
    at = ctx.clock.now()
    envs = scheduled(ctx)
    if not envs:
        return []
    from odooplane.operations.health import operation_running

    if operation_running(ctx):  # an apply, restore, import… is changing what runs: the next tick decides
        return []
    states = sleeping.states(ctx.store, [str(e.ref) for e in envs])
    out = []
    for env in envs:
        state = states.get(str(env.ref))
        asleep = state is not None and state.asleep
        want = wanted_awake(ctx, env, state, at)
        if want == (not asleep):
            continue
        started = ctx.clock.monotonic()
        action = "wake" if want else "sleep"
        try:
            (wake if want else put_to_sleep)(ctx, env, actor=actor)
            out.append(Change(str(env.ref), action, True, round(ctx.clock.monotonic() - started, 2)))
        except OdooplaneError as exc:
            logger.error("%s %s: %s", action, env.ref, exc.message)
            out.append(Change(str(env.ref), action, False, round(ctx.clock.monotonic() - started, 2), exc.message))
    return out


def request_wake(ctx: Context, env: DesiredEnvironment, *, actor: str) -> dt.datetime:
    """Keep ``env`` awake for its schedule's wake_minutes from now (the next tick wakes it)."""
    assert env.schedule is not None
    until = ctx.clock.now() + dt.timedelta(minutes=ctx.estate.schedules[env.schedule].wake_minutes)
    sleeping.add(ctx.store, str(env.ref), "wake-requested", actor=actor, until=until)
    return until


def by_hostname(ctx: Context) -> dict[str, DesiredEnvironment]:
    return {h: e for e in scheduled(ctx) for h in e.hostnames}


def waker_wanted(ctx: Context) -> bool:
    """Whether the worker must serve the waker: a scheduled environment wakes on request (local driver)."""
    return ctx.estate.platform.driver == "local" and any(
        ctx.estate.schedules[e.schedule].wake_on_request for e in scheduled(ctx) if e.schedule)


__all__ = ["WAKER", "Change", "put_to_sleep", "request_wake", "tick", "wake"]
