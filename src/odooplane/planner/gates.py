"""Change gates (pure): may this release be applied to this environment now?

Every promotion passes five gates — previous stage, approvals, maintenance window, freeze,
emergency override — and :func:`evaluate` reports each of them with a reason a person can act on
("outside the maintenance window 'weekend' (…); next opens 2026-11-28 22:00 CET"). The clock is
passed in as an aware datetime; nothing here reads the time or the state database.

Windows and freezes are wall-clock periods in a time zone. Each occurrence is turned into a span
of UTC instants ``[open, close)`` by combining a local date and time with the zone, so daylight
saving changes move the instants, not the wall-clock times. A local time that does not exist (the
hour skipped in spring) is read with the offset before the change, i.e. an hour later on the
clock; one that happens twice (autumn) is its first occurrence.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal
from zoneinfo import ZoneInfo

from odooplane.estate import cron
from odooplane.estate.change import (
    DAYS,
    ApprovalRule,
    ChangePolicy,
    Freeze,
    MaintenanceWindow,
    PersonRoles,
    minutes,
)

SEARCH = dt.timedelta(days=14)  # how far ahead the next opening is looked for
_CHAIN_LIMIT = 64  # freezes followed end to end before giving up (a loop of abutting periods)

Span = tuple[dt.datetime, dt.datetime]  # [open, close) in UTC
GateName = Literal["previous-stage", "approvals", "window", "freeze", "emergency"]


@dataclass(frozen=True)
class Target:
    """The environment a release is promoted to, and the labels freezes are matched against."""

    name: str  # "acme/prod"
    stage: str
    tier: str | None = None
    business_unit: str | None = None


@dataclass(frozen=True)
class Approval:
    person: str
    at: dt.datetime


@dataclass(frozen=True)
class Emergency:
    person: str
    reason: str


@dataclass(frozen=True)
class GateRequest:
    """Everything the gates judge. ``windows``/``freezes``/``people`` are the estate's whole
    tables; the policy picks from them (``ChangeManagement.policy_for`` resolves the policy)."""

    target: Target
    release: str
    requester: str
    now: dt.datetime
    policy: ChangePolicy
    windows: Mapping[str, MaintenanceWindow] = field(default_factory=dict)
    freezes: Mapping[str, Freeze] = field(default_factory=dict)
    people: Mapping[str, PersonRoles] = field(default_factory=dict)
    succeeded_stages: frozenset[str] = frozenset()  # stages where this release succeeded for this tenant
    approvals: list[Approval] = field(default_factory=list)
    emergency: Emergency | None = None
    policy_name: str | None = None


@dataclass(frozen=True)
class GateResult:
    name: GateName
    passed: bool
    reason: str


@dataclass(frozen=True)
class Decision:
    allowed: bool
    gates: list[GateResult]
    next_window: dt.datetime | None  # when the window or freeze gate blocks: the next time both pass
    emergency_used: bool  # an emergency override lifted the window or freeze gate

    @property
    def blocking(self) -> list[GateResult]:
        return [g for g in self.gates if not g.passed]

    def summary(self) -> str:
        """One line: ``allowed`` or ``blocked: <gate>: <reason>; …``."""
        if self.allowed:
            return "allowed (emergency override)" if self.emergency_used else "allowed"
        return "blocked: " + "; ".join(f"{g.name}: {g.reason}" for g in self.blocking)


# --- time spans ------------------------------------------------------------------------------


def _aware(now: dt.datetime) -> dt.datetime:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"{now.isoformat()} has no time zone; the gates need an aware datetime")
    return now.astimezone(dt.UTC)


def _instant(day: dt.date, clock: str, zone: ZoneInfo) -> dt.datetime:
    total = minutes(clock)
    local = dt.datetime.combine(day + dt.timedelta(days=total // 1440), dt.time(total % 1440 // 60, total % 60),
                                tzinfo=zone)
    return local.astimezone(dt.UTC)


def _days(zone: ZoneInfo, start: dt.datetime, end: dt.datetime, *, before: int) -> Iterable[dt.date]:
    day = start.astimezone(zone).date() - dt.timedelta(days=before)
    last = end.astimezone(zone).date()
    while day <= last:
        yield day
        day += dt.timedelta(days=1)


def window_spans(window: MaintenanceWindow, start: dt.datetime, end: dt.datetime) -> list[Span]:
    """Given a window and a range of instants, return the window's openings that overlap
    ``[start, end]``, as UTC spans in time order."""
    zone = cron.zone(window.timezone)
    spans: list[Span] = []
    for day in _days(zone, start, end, before=1):  # yesterday's opening may run past midnight
        if DAYS[day.weekday()] not in window.days:
            continue
        opens = _instant(day, window.start, zone)
        closes = _instant(day + dt.timedelta(days=1) if window.crosses_midnight else day, window.end, zone)
        if opens < closes and closes > start and opens <= end:
            spans.append((opens, closes))
    return spans


def _freeze_days(freeze: Freeze, first: dt.date, last: dt.date) -> list[tuple[dt.date, dt.date]]:
    """Occurrences as (first day, day after the last) that may touch local dates first..last."""
    if freeze.start is not None and freeze.end is not None:
        return [(freeze.start, freeze.end + dt.timedelta(days=1))]
    out: list[tuple[dt.date, dt.date]] = []
    if freeze.yearly is not None:
        (fm, fd), (tm, td) = (map(int, md.split("-")) for md in (freeze.yearly.from_, freeze.yearly.to))
        for year in range(first.year - 1, last.year + 1):
            to_year = year + 1 if freeze.yearly.crosses_new_year else year
            out.append((dt.date(year, fm, fd), dt.date(to_year, tm, td) + dt.timedelta(days=1)))
        return out
    # Monthly: one period around each change of month (its last N days, then the first M days).
    # N + M < 28, so the months from just before ``first`` to just after ``last`` are enough.
    year, month = (first.year, first.month - 1) if first.month > 1 else (first.year - 1, 12)
    stop = (last.year, last.month + 1) if last.month < 12 else (last.year + 1, 1)
    while (year, month) <= stop:
        change = dt.date(year, month, 1)
        out.append((change - dt.timedelta(days=freeze.month_end_days or 0),
                    change + dt.timedelta(days=freeze.month_start_days or 0)))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def freeze_spans(freeze: Freeze, start: dt.datetime, end: dt.datetime) -> list[Span]:
    """Given a freeze and a range of instants, return its periods that overlap ``[start, end]``
    as UTC spans in time order (days run 00:00 to 24:00 in the freeze's time zone)."""
    zone = cron.zone(freeze.timezone)
    first = start.astimezone(zone).date() - dt.timedelta(days=1)
    last = end.astimezone(zone).date() + dt.timedelta(days=1)
    spans = [(_instant(a, "00:00", zone), _instant(b, "00:00", zone)) for a, b in _freeze_days(freeze, first, last)]
    return sorted(s for s in spans if s[0] < s[1] and s[1] > start and s[0] <= end)


def _applies(freeze: Freeze, target: Target | None) -> bool:
    if target is None:
        return True
    return freeze.applies_to.matches(tier=target.tier, business_unit=target.business_unit, stage=target.stage)


def _span_at(spans: Iterable[Span], now: dt.datetime) -> Span | None:
    return next((s for s in spans if s[0] <= now < s[1]), None)


# --- windows and freezes ---------------------------------------------------------------------


def in_window(windows: Iterable[MaintenanceWindow], now: dt.datetime) -> bool:
    """Return whether ``now`` (aware) falls in one of ``windows`` (False when there are none)."""
    now = _aware(now)
    return any(_span_at(window_spans(w, now, now), now) for w in windows)


def next_window_start(windows: Iterable[MaintenanceWindow], now: dt.datetime, *,
                      horizon: dt.timedelta = SEARCH) -> dt.datetime | None:
    """Return the first opening of one of ``windows`` at or after ``now`` within ``horizon``
    (UTC), or None. Freezes are not considered: see :func:`next_opening`."""
    now = _aware(now)
    opens = [o for w in windows for o, _ in window_spans(w, now, now + horizon) if o >= now]
    return min(opens, default=None)


def freeze_span(freeze: Freeze, now: dt.datetime) -> Span | None:
    """Return the period of ``freeze`` that contains ``now``, or None if it is not in effect."""
    now = _aware(now)
    return _span_at(freeze_spans(freeze, now, now), now)


def active_freezes(freezes: Iterable[Freeze], now: dt.datetime, target: Target | None = None) -> list[Freeze]:
    """Return the freezes in effect at ``now`` that apply to ``target`` (all of them when
    ``target`` is None)."""
    now = _aware(now)
    return [f for f in freezes if _applies(f, target) and freeze_span(f, now) is not None]


def freeze_end(freezes: Iterable[Freeze], now: dt.datetime, target: Target | None = None) -> dt.datetime | None:
    """Return when no freeze applying to ``target`` is in effect any more — following freezes that
    overlap or follow each other without a gap — or None if none is in effect at ``now``."""
    relevant = [f for f in freezes if _applies(f, target)]
    start = when = _aware(now)
    for _ in range(_CHAIN_LIMIT):
        ends = [span[1] for f in relevant if (span := freeze_span(f, when)) is not None]
        if not ends:
            return None if when == start else when
        when = max(ends)
    return when


def next_opening(windows: Sequence[MaintenanceWindow] | None, freezes: Iterable[Freeze], now: dt.datetime,
                 target: Target | None = None, *, horizon: dt.timedelta = SEARCH) -> dt.datetime | None:
    """Return the first instant at or after ``now`` that is inside one of ``windows`` (any time
    when ``windows`` is None) and outside every freeze applying to ``target``; None if there is
    none within ``horizon`` after the freezes in effect now have ended."""
    now = _aware(now)
    relevant = [f for f in freezes if _applies(f, target)]
    until = (freeze_end(relevant, now) or now) + horizon
    # The allowed time is a union of spans; each one starts at now, at a window opening or at
    # the end of a freeze, so only those instants need testing.
    candidates = {now}
    for window in windows or []:
        candidates.update(o for o, _ in window_spans(window, now, until) if now <= o <= until)
    for freeze in relevant:
        candidates.update(c for _, c in freeze_spans(freeze, now, until) if now <= c <= until)
    for when in sorted(candidates):
        if (windows is None or in_window(windows, when)) and not active_freezes(relevant, when):
            return when
    return None


# --- approvals -------------------------------------------------------------------------------


def _tally(rule: ApprovalRule, requester: str, approvals: Sequence[Approval],
           people: Mapping[str, PersonRoles]) -> tuple[list[str], list[str]]:
    """Return (people whose approval counts, why each other approval does not)."""
    counted: list[str] = []
    ignored: list[str] = []
    twice: set[str] = set()
    for approval in approvals:
        person = approval.person
        held = people.get(person)
        if person in counted:
            if person not in twice:
                twice.add(person)
                ignored.append(f"{person} approved more than once; counted once (approvers must be distinct people)")
        elif rule.separation_of_duties and person == requester:
            ignored.append(f"{person} requested the change and may not approve it (separation of duties)")
        elif held is None:
            ignored.append(f"{person} is not listed under change_management.people; approval not counted")
        elif rule.roles and not set(held.roles) & set(rule.roles):
            ignored.append(f"{person} holds none of the roles {', '.join(rule.roles)}; approval not counted")
        else:
            counted.append(person)
    return counted, list(dict.fromkeys(ignored))


def check_approvals(rule: ApprovalRule, requester: str, approvals: Sequence[Approval],
                    people: Mapping[str, PersonRoles]) -> list[str]:
    """Return why ``approvals`` do not satisfy ``rule`` (empty when they do): too few, then for
    each approval not counted, why — unknown person, missing role, the requester approving their
    own change under separation of duties, the same person twice."""
    counted, ignored = _tally(rule, requester, approvals, people)
    if len(counted) >= rule.approvers:
        return []
    source = f" from people holding {' or '.join(rule.roles)}" if rule.roles else ""
    have = f"has {len(counted)}" + (f" ({', '.join(counted)})" if counted else "")
    plural = "approval" if rule.approvers == 1 else "approvals"
    return [f"needs {rule.approvers} {plural}{source}, {have}", *ignored]


# --- evaluate --------------------------------------------------------------------------------


def _local(when: dt.datetime, timezone: str) -> str:
    return when.astimezone(cron.zone(timezone)).strftime("%Y-%m-%d %H:%M %Z")


def _previous_stage_gate(request: GateRequest) -> GateResult:
    wanted = request.policy.previous_stage
    if wanted is None:
        return GateResult("previous-stage", True, "no previous stage required")
    if wanted == request.target.stage:
        return GateResult("previous-stage", False,
                          f"the policy requires success on {wanted!r} before {wanted!r} itself: fix previous_stage")
    if wanted in request.succeeded_stages:
        return GateResult("previous-stage", True, f"release {request.release} succeeded on {wanted} first")
    return GateResult("previous-stage", False,
                      f"release {request.release} has not succeeded on {wanted} for this tenant yet "
                      f"({request.target.stage} requires {wanted} first)")


def _approvals_gate(request: GateRequest) -> GateResult:
    rule = request.policy.approvals
    if rule is None:
        return GateResult("approvals", True, "no approvals required")
    problems = check_approvals(rule, request.requester, request.approvals, request.people)
    if problems:
        return GateResult("approvals", False, "; ".join(problems))
    counted, _ = _tally(rule, request.requester, request.approvals, request.people)
    return GateResult("approvals", True, f"approved by {', '.join(counted)} ({rule.approvers} required)")


def _emergency_gate(request: GateRequest) -> GateResult:
    emergency = request.emergency
    if emergency is None:
        return GateResult("emergency", True, "no emergency override requested")
    allowed = request.policy.emergency_roles
    if not allowed:
        return GateResult("emergency", False, "emergency override refused: this policy allows none "
                                              "(emergency_roles is empty)")
    held = request.people.get(emergency.person)
    roles = sorted(set(held.roles) & set(allowed)) if held else []
    if not roles:
        return GateResult("emergency", False, f"emergency override refused: {emergency.person} holds none of the "
                                              f"emergency roles {', '.join(allowed)}")
    if not emergency.reason.strip():
        return GateResult("emergency", False, "emergency override refused: a reason is required")
    return GateResult("emergency", True, f"emergency override by {emergency.person} ({roles[0]}): "
                                         f"{emergency.reason.strip()!r}")


def _unknown(names: Sequence[str], table: Mapping[str, object], kind: str) -> list[str]:
    return [f"the policy names unknown {kind} {n!r}" for n in names if n not in table]


def evaluate(request: GateRequest) -> Decision:
    """Given a promotion request, return the decision with every gate's result. An emergency
    override (a person holding one of the policy's emergency roles, with a reason) lifts the
    window and freeze gates only; approvals and the previous stage always apply. Raise
    ValueError if ``request.now`` is not timezone-aware."""
    now = _aware(request.now)
    policy, target = request.policy, request.target
    windows = [request.windows[n] for n in policy.windows if n in request.windows]
    freeze_names = list(request.freezes) if policy.freezes is None else policy.freezes
    freezes = [request.freezes[n] for n in freeze_names if n in request.freezes]
    # A policy naming windows or freezes that do not exist is a configuration error (cross_check
    # reports it at validation): it blocks, and no override lifts it.
    window_config = _unknown(policy.windows, request.windows, "maintenance window")
    freeze_config = _unknown(freeze_names, request.freezes, "freeze")

    window_blocks = bool(policy.windows) and not in_window(windows, now)
    active = active_freezes(freezes, now, target)
    emergency = _emergency_gate(request)
    override = request.emergency is not None and emergency.passed
    used = override and not (window_config or freeze_config) and (window_blocks or bool(active))
    next_window = None
    if (window_blocks or active) and not used:
        next_window = next_opening(windows if policy.windows else None, freezes, now, target)
    lift = f"; lifted by the emergency override of {request.emergency.person}" if used and request.emergency else ""

    if window_config:
        window = GateResult("window", False, "; ".join(window_config))
    elif not policy.windows:
        window = GateResult("window", True, "no maintenance window required")
    elif not window_blocks:
        inside = next(w for w in windows if in_window([w], now))
        window = GateResult("window", True, f"inside the maintenance window {inside.name!r} ({inside.describe()})")
    else:
        window = GateResult("window", used, _outside(windows, now, next_window, freezes, target) + lift)

    if freeze_config:
        freeze = GateResult("freeze", False, "; ".join(freeze_config))
    elif not active:
        freeze = GateResult("freeze", True, "not in a freeze" if freezes else "no freeze applies")
    else:
        chain_end = freeze_end(freezes, now, target)
        opening = _opening(windows, next_window) if policy.windows and next_window != chain_end else None
        text = _frozen(active, now, opening, chain_end=chain_end)
        freeze = GateResult("freeze", used, text + lift)

    if used:
        emergency = GateResult("emergency", True, f"{emergency.reason}; it lifts the window and freeze gates only")
    elif override:
        emergency = GateResult("emergency", True, f"{emergency.reason}; not needed: the window and freeze gates pass")
    gates = [_previous_stage_gate(request), _approvals_gate(request), window, freeze, emergency]
    return Decision(allowed=all(g.passed for g in gates), gates=gates, next_window=next_window, emergency_used=used)


def _outside(windows: list[MaintenanceWindow], now: dt.datetime, opening: dt.datetime | None,
             freezes: list[Freeze], target: Target) -> str:
    listed = " and ".join(f"{w.name!r} ({w.describe()})" for w in windows)
    noun = "window" if len(windows) == 1 else "windows"
    text = f"outside the maintenance {noun} {listed}"
    if opening is None:
        return f"{text}; no opening outside freezes found within {SEARCH.days} days"
    text += f"; next opens {_opening(windows, opening)}"
    first = next_window_start(windows, now)
    if first is not None and first < opening:
        skipped = active_freezes(freezes, first, target)
        if skipped:
            text += f" (the opening of {_opening(windows, first)} is in freeze {skipped[0].title!r})"
    return text


def _opening(windows: list[MaintenanceWindow], when: dt.datetime | None) -> str | None:
    """``when`` in the time zone of the window open then (the first window's otherwise)."""
    if when is None or not windows:
        return None
    home = next((w for w in windows if in_window([w], when)), windows[0])
    return _local(when, home.timezone)


def _frozen(active: list[Freeze], now: dt.datetime, opening: str | None, *, chain_end: dt.datetime | None) -> str:
    reasons = []
    for f in active:
        span = freeze_span(f, now)
        until = f" until {_local(span[1], f.timezone)}" if span else ""
        reasons.append(f"in freeze {f.title!r}{until} ({f.describe()})")
    text = "; ".join(reasons)
    last = max(s[1] for f in active if (s := freeze_span(f, now)) is not None)
    if chain_end is not None and chain_end > last:
        text += f"; further freezes follow until {_local(chain_end, active[0].timezone)}"
    if opening is not None:
        text += f"; next opening in a maintenance window: {opening}"
    return text
