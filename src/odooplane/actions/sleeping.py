"""``schedule status`` and ``wake``: non-production environments sleeping outside their hours."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from odooplane.access import Principal
from odooplane.actions import estate_file
from odooplane.actions.access import allowed, authorize, cli_actor, environment_subject, guard
from odooplane.actions.backup import select
from odooplane.errors import NotFound, UsageError
from odooplane.estate import sleep
from odooplane.estate.resolve import DesiredEnvironment
from odooplane.operations import sleeping
from odooplane.operations.context import Context
from odooplane.operations.runner import Operation
from odooplane.store import sleeping as sleep_store


@dataclass(frozen=True)
class Row:
    target: str
    schedule: str
    asleep: bool
    since: dt.datetime | None
    awake_wanted: bool  # what its schedule (or a wake request) wants now
    next_change: dt.datetime | None  # when its schedule next changes its mind
    awake_until: dt.datetime | None  # a wake request in force until then
    wake_on_request: bool


def status(path: Path | None) -> list[Row]:
    ctx = estate_file.context(path, kubernetes=False)
    try:
        envs = sleeping.scheduled(ctx)
        guard(ctx, "fleet.read", envs)
        return rows_in(ctx, envs)
    finally:
        ctx.close()


def status_for(ctx: Context, principal: Principal) -> list[Row]:
    """The service's view: the scheduled environments in ``principal``'s scope."""
    return rows_in(ctx, [e for e in sleeping.scheduled(ctx)
                         if allowed(principal, "fleet.read", environment_subject(e))])


def rows_in(ctx: Context, envs: list[DesiredEnvironment]) -> list[Row]:
    at = ctx.clock.now()
    states = sleep_store.states(ctx.store, [str(e.ref) for e in envs])
    out = []
    for env in envs:
        assert env.schedule is not None
        schedule = ctx.estate.schedules[env.schedule]
        state = states.get(str(env.ref))
        until = state.awake_until if state and state.awake_until and state.awake_until > at else None
        out.append(Row(str(env.ref), env.schedule, bool(state and state.asleep), state.since if state else None,
                       sleeping.wanted_awake(ctx, env, state, at), sleep.next_change(schedule, at), until,
                       schedule.wake_on_request))
    return out


def wake(path: Path | None, target: str) -> Row:
    """Wake a sleeping environment now and keep it awake for its schedule's wake_minutes."""
    ctx = estate_file.context(path, kubernetes=False)
    try:
        (env,) = select(ctx, [target]) if "/" in target else (None,)
        if env is None:
            raise UsageError(f"{target}: name one environment (tenant/env)")
        guard(ctx, "tenants.change", [env])
        return wake_in(ctx, env, actor=cli_actor(ctx))
    finally:
        ctx.close()


def wake_for(ctx: Context, principal: Principal, target: str) -> Row:
    """The service's wake: ``tenants.change`` on the environment."""
    env = next((e for e in ctx.valid.environments if str(e.ref) == target), None)
    if env is None:
        raise NotFound(f"environment {target} does not exist")
    authorize(ctx, principal, "tenants.change", environment_subject(env))
    return wake_in(ctx, env, actor=principal.actor)


def wake_in(ctx: Context, env: DesiredEnvironment, *, actor: str) -> Row:
    if env.schedule is None:
        raise UsageError(f"{env.ref} has no sleep schedule: it never sleeps")
    until = sleeping.request_wake(ctx, env, actor=actor)
    if str(env.ref) in ctx.asleep():
        with Operation(ctx.store, kind="wake", target=str(env.ref), actor=actor) as op:
            op.step("wake", str(env.ref), lambda: sleeping.wake(ctx, env, actor=actor))
    schedule = ctx.estate.schedules[env.schedule]
    return Row(str(env.ref), env.schedule, False, ctx.clock.now(), True, sleep.next_change(schedule, ctx.clock.now()),
               until, schedule.wake_on_request)
