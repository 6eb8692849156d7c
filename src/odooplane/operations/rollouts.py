"""Rollout waves: which phase each wave is in, and its checklist — each item verified from a fact
the control plane holds (the estate, evidence, the health sweeps' history, guardrails, an HTTP
request through the edge) or signed off by a person holding a named role."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

import httpx

from odooplane.estate.models import Phase, Rollout, Wave
from odooplane.estate.resolve import DesiredEnvironment
from odooplane.operations import guardrails as checking
from odooplane.operations.context import Context
from odooplane.store import evidence, probes, rollouts

PHASES: tuple[Phase, ...] = ("assessment", "foundation", "pilot", "regional-rollout", "steady-state")
Kind = Literal["fact", "signoff"]

# What must hold to leave each phase (go); the last has none.
CHECKLIST: dict[str, tuple[tuple[str, Kind, str], ...]] = {
    "assessment": (
        ("environments-declared", "fact", "every tenant of the wave has a production environment in the estate"),
        ("inventory", "signoff", "scope, data and integrations of the sites agreed"),
    ),
    "foundation": (
        ("backup-policy", "fact", "every production of the wave is backed up by a policy"),
        ("restore-proven", "fact", "every production of the wave has a successful restore proof"),
        ("hostnames-answer", "fact", "every hostname of the wave's productions answers through the edge"),
        ("guardrails-pass", "fact", "no unwaived guardrail violation of high severity or worse on the wave"),
    ),
    "pilot": (
        ("cutover-rehearsed", "fact", "a cutover was rehearsed for every production of the wave: a clone "
                                      "restored and timed (rollout rehearse)"),
        ("monitoring-green", "fact", "no health sweep of the wave's productions was critical in the rollout's "
                                     "monitoring_hours, and one found each ok"),
        ("pilot-acceptance", "signoff", "key users accepted the pilot"),
    ),
    "regional-rollout": (
        ("monitoring-green", "fact", "no health sweep of the wave's productions was critical in the rollout's "
                                     "monitoring_hours, and one found each ok"),
        ("guardrails-pass", "fact", "no unwaived guardrail violation of high severity or worse on the wave"),
        ("go-live", "signoff", "the business confirmed the go-live of the region"),
    ),
    "steady-state": (),
}
ROLLBACK = "a production of the wave is critical in the newest sweep, or its newest restore proof failed"


@dataclass(frozen=True)
class Item:
    name: str
    kind: Kind
    asks: str
    ok: bool
    evidence: str  # what was found (or who signed, when)


@dataclass
class WaveStatus:
    rollout: str
    wave: str
    phase: Phase
    since: dt.datetime | None
    tenants: list[str]
    productions: list[str]
    items: list[Item] = field(default_factory=list)
    rollback_advised: list[str] = field(default_factory=list)

    @property
    def go(self) -> bool:
        return all(i.ok for i in self.items) and bool(self.items)


def wave_envs(ctx: Context, wave: Wave) -> list[DesiredEnvironment]:
    sites, tenants = set(wave.sites), set(wave.tenants)
    return [e for e in ctx.valid.environments if e.ref.tenant in tenants or (e.labels.site or "") in sites]


def phase_of(events: list[rollouts.Event], wave: str) -> tuple[Phase, dt.datetime | None]:
    found = [e for e in events if e.wave == wave and e.kind == "phase"]
    if not found:
        return "assessment", None
    return found[-1].phase, found[-1].ts  # type: ignore[return-value]


def status(ctx: Context, name: str, rollout: Rollout, wave: Wave, *, live: bool = True) -> WaveStatus:
    """The wave's phase and checklist; ``live``: hostnames are asked through the edge now (else the
    last health sweep's answer through the edge is read — what the service's pages show)."""
    events = rollouts.events(ctx.store, name)
    phase, since = phase_of(events, wave.name)
    envs = wave_envs(ctx, wave)
    prods = [e for e in envs if e.stage == "production"]
    out = WaveStatus(name, wave.name, phase, since, sorted({e.ref.tenant for e in envs}), [str(e.ref) for e in prods])
    facts = _Facts(ctx, rollout, envs, prods, live=live)
    for item, kind, asks in CHECKLIST[phase]:
        if kind == "signoff":
            # Only a sign-off given since the wave (last) entered this phase: one given before it went
            # back a phase signed what was, not what is.
            signed = [e for e in events if e.wave == wave.name and e.kind == "signoff" and e.item == item
                      and e.phase == phase and (since is None or e.ts >= since)]
            out.items.append(Item(item, kind, asks, bool(signed), f"signed by {signed[-1].actor} on "
                                  f"{signed[-1].ts:%Y-%m-%d %H:%M} UTC" if signed else "not signed"))
        else:
            ok, found = getattr(facts, item.replace("-", "_"))()
            out.items.append(Item(item, kind, asks, ok, found))
    if phase in ("pilot", "regional-rollout"):
        out.rollback_advised = facts.rollback()
    return out


class _Facts:
    def __init__(self, ctx: Context, rollout: Rollout, envs: list[DesiredEnvironment],
                 prods: list[DesiredEnvironment], *, live: bool) -> None:
        self.ctx, self.rollout, self.envs, self.prods, self.live = ctx, rollout, envs, prods, live
        self.now = ctx.clock.now()

    def _missing(self, bad: list[str], what: str) -> tuple[bool, str]:
        if not self.prods:
            return False, "the wave has no production environment"
        return (not bad, f"{len(self.prods) - len(bad)} of {len(self.prods)} {what}"
                + (f"; not: {', '.join(bad[:10])}" if bad else ""))

    def environments_declared(self) -> tuple[bool, str]:
        tenants = sorted({e.ref.tenant for e in self.envs})
        if not tenants:
            return False, "no tenant of the estate matches the wave's sites or tenants"
        bare = [t for t in tenants if not any(e.ref.tenant == t for e in self.prods)]
        return not bare, f"{len(tenants) - len(bare)} of {len(tenants)} tenants have a production" + (
            f"; not: {', '.join(bare)}" if bare else "")

    def backup_policy(self) -> tuple[bool, str]:
        return self._missing([str(e.ref) for e in self.prods if not e.backup_policy], "backed up by a policy")

    def restore_proven(self) -> tuple[bool, str]:
        newest = evidence.newest(self.ctx.store, ("restore-verification",))
        return self._missing([str(e.ref) for e in self.prods if (str(e.ref), "restore-verification", True)
                              not in newest], "proven to restore")

    def hostnames_answer(self) -> tuple[bool, str]:
        if not self.live:
            latest = probes.latest(self.ctx.store, targets=[str(e.ref) for e in self.prods])
            bad = [str(e.ref) for e in self.prods if not any(
                c.get("name") == "http" and c.get("status") == "ok" for c in (
                    latest[str(e.ref)].checks if str(e.ref) in latest else []))]
            return self._missing(bad, "answering through the edge in the last health sweep")
        edge = self.ctx.estate.platform.edge
        bad = []
        for env in self.prods:
            for host in env.hostnames:
                try:
                    answer = httpx.get(f"http://127.0.0.1:{edge.http_port}/web/login", headers={"Host": host},
                                       timeout=15, follow_redirects=False)
                    if answer.status_code not in (200, 301, 302, 303, 307, 308):
                        bad.append(f"{host} ({answer.status_code})")
                except httpx.HTTPError as exc:
                    bad.append(f"{host} ({type(exc).__name__})")
        hosts = sum(len(e.hostnames) for e in self.prods)
        if not self.prods:
            return False, "the wave has no production environment"
        return not bad, f"{hosts - len(bad)} of {hosts} hostnames answer" + (f"; not: {', '.join(bad[:10])}"
                                                                             if bad else "")

    def guardrails_pass(self) -> tuple[bool, str]:
        report = checking.check(self.ctx, observed=True, targets=self.envs)
        bad = [f for f in report.findings if f.violated and f.severity in ("critical", "high")]
        return not bad, ("no violation of high severity or worse" if not bad else
                         "; ".join(f"{f.target}: {f.rule}" for f in bad[:10]))

    def cutover_rehearsed(self) -> tuple[bool, str]:
        newest = evidence.newest(self.ctx.store, ("rehearsal",))
        return self._missing([str(e.ref) for e in self.prods if (str(e.ref), "rehearsal", True) not in newest],
                             "rehearsed")

    def monitoring_green(self) -> tuple[bool, str]:
        hours = self.rollout.monitoring_hours
        since = self.now - dt.timedelta(hours=hours)
        targets = {str(e.ref) for e in self.prods}
        by_target: dict[str, list[probes.ProbeRow]] = {}
        for row in probes.history(self.ctx.store, since=since):
            if row.target in targets:
                by_target.setdefault(row.target, []).append(row)
        bad = []
        for env in self.prods:
            mine = by_target.get(str(env.ref), [])
            red = sum(1 for p in mine if p.status == "critical")
            covered = min((p.ts for p in mine), default=self.now)
            if not any(p.status == "ok" for p in mine):
                bad.append(f"{env.ref} (no sweep found it ok)")
            elif red:
                bad.append(f"{env.ref} ({red} of {len(mine)} sweeps critical)")
            elif covered > since + dt.timedelta(hours=hours) * 0.1:  # watched for less than 90 % of the window
                bad.append(f"{env.ref} (watched only since {covered:%Y-%m-%d %H:%M} UTC)")
        return self._missing(bad, f"green for {hours} h (no critical sweep, watched throughout)")

    def rollback(self) -> list[str]:
        latest = probes.latest(self.ctx.store, targets=[str(e.ref) for e in self.prods])
        out = [f"{t} is critical (sweep of {p.ts:%Y-%m-%d %H:%M} UTC)" for t, p in latest.items()
               if p.status == "critical"]
        newest = evidence.newest(self.ctx.store, ("restore-verification",))  # one grouped query
        for env in self.prods:
            failed = newest.get((str(env.ref), "restore-verification", False))
            passed = newest.get((str(env.ref), "restore-verification", True))
            if failed is not None and (passed is None or failed > passed):
                out.append(f"{env.ref}: its newest restore proof failed")
        return out
