"""``schedule status`` and ``wake``: non-production environments sleeping outside their hours."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from odooplane.actions import estate_file
from odooplane.actions.access import cli_actor, guard
from odooplane.actions.backup import select
from odooplane.errors import UsageError
from odooplane.estate import sleep
from odooplane.operations import sleeping
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
    finally:
        ctx.close()


def wake(path: Path | None, target: str) -> Row:
    """Wake a sleeping environment now and keep it awake for its schedule's wake_minutes."""
    ctx = estate_file.context(path, kubernetes=False)
    try:
        (env,) = select(ctx, [target]) if "/" in target else (None,)
        if env is None:
            raise UsageError(f"{target}: name one environment (tenant/env)")
        guard(ctx, "tenants.change", [env])
        if env.schedule is None:
            raise UsageError(f"{target} has no sleep schedule: it never sleeps")
        actor = cli_actor(ctx)
        until = sleeping.request_wake(ctx, env, actor=actor)
        if str(env.ref) in ctx.asleep():
            with Operation(ctx.store, kind="wake", target=str(env.ref), actor=actor) as op:
                op.step("wake", str(env.ref), lambda: sleeping.wake(ctx, env, actor=actor))
        schedule = ctx.estate.schedules[env.schedule]
        return Row(str(env.ref), env.schedule, False, ctx.clock.now(), True,
                   sleep.next_change(schedule, ctx.clock.now()), until, schedule.wake_on_request)
    finally:
        ctx.close()
