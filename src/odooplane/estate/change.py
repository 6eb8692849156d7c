"""Change management in the estate: maintenance windows, freezes, approval rules and the change
policies that tie them to stages and tiers. The gates that judge a promotion against them live in
:mod:`odooplane.planner.gates`; this module only holds the schema and its cross-checks.

Times are wall-clock times in a named time zone, so a window "22:00-06:00 Europe/Paris" follows
daylight saving time (see docs/gates.md).
"""

from __future__ import annotations

import calendar
import datetime as dt
import difflib
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from odooplane.estate import cron, names

# The same vocabularies as odooplane.estate.models.Stage/Tier (a test keeps them equal). They are
# repeated here because models.py imports this module to hook the section into the Estate.
StageName = Literal["production", "staging", "development", "training", "dr"]
TierName = Literal["pilot", "standard", "production", "mission-critical"]

DAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index == date.weekday()
PathKey = tuple[str | int, ...]

_CLOCK_RE = re.compile(r"^(\d{1,2}):(\d{2})$")
_DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_MONTH_DAY_RE = re.compile(r"^(\d{2})-(\d{2})$")
_ROLE_RE = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
_PERSON_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}$")


# --- field types -----------------------------------------------------------------------------


def _day(value: str) -> str:
    if value in DAYS:
        return value
    close = [d for d in DAYS if value.lower().startswith(d)] or difflib.get_close_matches(value.lower(), DAYS, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise ValueError(f"unknown day {value!r}; {hint}(days are {', '.join(DAYS)})")


def _clock(value: Any, *, allow_24: bool) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads an unquoted 22:00 as the base-60 number 1320.
        raise ValueError(
            f"write the time in quotes, like \"{value // 60:02d}:{value % 60:02d}\" "
            f"(YAML reads an unquoted HH:MM as the number {value})"
        )
    if not isinstance(value, str):
        raise ValueError(f"a time must be written \"HH:MM\" (got {value!r})")
    match = _CLOCK_RE.fullmatch(value.strip())
    if not match:
        raise ValueError(f"{value!r} is not a time written \"HH:MM\" (24-hour clock, like \"22:00\")")
    hour, minute = int(match[1]), int(match[2])
    if allow_24 and (hour, minute) == (24, 0):
        return "24:00"
    if hour > 23 or minute > 59:
        upper = "23:59, or 24:00 for midnight" if allow_24 else "23:59"
        raise ValueError(f"{value!r} is not a time of day (00:00 to {upper})")
    return f"{hour:02d}:{minute:02d}"


def _start_time(value: Any) -> str:
    return _clock(value, allow_24=False)


def _end_time(value: Any) -> str:
    return _clock(value, allow_24=True)


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        raise ValueError(f"{value.isoformat()} is a date and time; freezes take whole days (YYYY-MM-DD)")
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str) or not _DATE_RE.fullmatch(value.strip()):
        raise ValueError(f"{value!r} is not a date written YYYY-MM-DD")
    year, month, day = (int(p) for p in value.strip().split("-"))
    if not 1 <= month <= 12:
        raise ValueError(f"{value!r} is not a date: there is no month {month}")
    last = calendar.monthrange(year, month)[1]
    if not 1 <= day <= last:
        raise ValueError(f"{value!r} is not a date: {calendar.month_name[month]} {year} has {last} days")
    return dt.date(year, month, day)


def _month_day(value: Any) -> str:
    if not isinstance(value, str) or not _MONTH_DAY_RE.fullmatch(value.strip()):
        raise ValueError(f"{value!r} is not a day of the year written \"MM-DD\" (like \"12-20\")")
    month, day = (int(p) for p in value.strip().split("-"))
    if not 1 <= month <= 12:
        raise ValueError(f"{value!r} is not a day of the year: there is no month {month}")
    if (month, day) == (2, 29):
        raise ValueError("\"02-29\" does not exist every year; use \"02-28\" or \"03-01\"")
    last = calendar.monthrange(2025, month)[1]  # a common year: 02-29 is refused above
    if not 1 <= day <= last:
        raise ValueError(f"{value!r} is not a day of the year: {calendar.month_name[month]} has {last} days")
    return f"{month:02d}-{day:02d}"


def _time_zone(value: str) -> str:
    cron.zone(value)
    return value


def _key(value: str) -> str:
    return names.check_label(value, max_len=names.NAME_MAX, what="name")


def _role(value: str) -> str:
    if not _ROLE_RE.fullmatch(value):
        raise ValueError(f"role {value!r} is not a role name (lowercase letters, digits, '-', '_'; a letter first)")
    return value


def _person(value: str) -> str:
    if not _PERSON_RE.fullmatch(value):
        raise ValueError(f"{value!r} is not a user name (letters, digits and . _ @ + -)")
    return value


DayName = Annotated[str, AfterValidator(_day), Field(json_schema_extra={"enum": list(DAYS)})]
StartTime = Annotated[
    str, BeforeValidator(_start_time), Field(json_schema_extra={"pattern": r"^([01]?[0-9]|2[0-3]):[0-5][0-9]$"})
]
EndTime = Annotated[
    str, BeforeValidator(_end_time),
    Field(json_schema_extra={"pattern": r"^(([01]?[0-9]|2[0-3]):[0-5][0-9]|24:00)$"}),
]
FreezeDate = Annotated[dt.date, BeforeValidator(_date)]
MonthDay = Annotated[str, BeforeValidator(_month_day), Field(json_schema_extra={"pattern": r"^[01][0-9]-[0-3][0-9]$"})]
TimeZone = Annotated[str, AfterValidator(_time_zone)]
Key = Annotated[str, AfterValidator(_key)]
Role = Annotated[str, AfterValidator(_role)]
Person = Annotated[str, AfterValidator(_person)]


def minutes(clock: str) -> int:
    """Minutes since midnight of ``"HH:MM"`` (``"24:00"`` is 1440)."""
    hour, minute = clock.split(":")
    return int(hour) * 60 + int(minute)


def _distinct_days(days: list[str]) -> list[str]:
    repeated = sorted({d for d in days if days.count(d) > 1}, key=DAYS.index)
    if repeated:
        raise ValueError(f"{', '.join(repeated)} listed more than once")
    return days


def describe_days(days: list[str]) -> str:
    """``[sat, sun]`` → ``Sat-Sun``; ``[mon, wed, fri]`` → ``Mon, Wed, Fri``; runs wrap past Sunday."""
    chosen = sorted({DAYS.index(d) for d in days})
    if len(chosen) == 7:
        return "Mon-Sun"
    runs: list[list[int]] = []
    for index in chosen:
        if runs and runs[-1][-1] == index - 1:
            runs[-1].append(index)
        else:
            runs.append([index])
    if len(runs) > 1 and runs[0][0] == 0 and runs[-1][-1] == 6:  # sat, sun, mon is one run: Sat-Mon
        runs[0] = runs.pop() + runs[0]
        runs.append(runs.pop(0))
    labels = [DAYS[r[0]].title() if len(r) == 1 else f"{DAYS[r[0]].title()}-{DAYS[r[-1]].title()}" for r in runs]
    return ", ".join(labels)


# --- models ----------------------------------------------------------------------------------


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MaintenanceWindow(Model):
    """A weekly period in which changes may be applied, in wall-clock time of a time zone."""

    name: str | None = Field(
        None, description="Name shown in messages (default: its key under windows).", examples=["weekend"]
    )
    days: Annotated[list[DayName], AfterValidator(_distinct_days)] = Field(
        min_length=1,
        description=(
            "Days on which the window opens (mon … sun). A window that crosses midnight belongs to the "
            "day it opens: sat 22:00-06:00 runs into Sunday morning."
        ),
        examples=[["sat", "sun"], ["mon", "tue", "wed", "thu"]],
    )
    start: StartTime = Field(description="Opening time, \"HH:MM\" (quote it in YAML).", examples=["22:00"])
    end: EndTime = Field(
        description=(
            "Closing time, \"HH:MM\" (exclusive). Earlier than start: the window crosses midnight; "
            "\"24:00\": until midnight."
        ),
        examples=["06:00", "24:00"],
    )
    timezone: TimeZone = Field(description="IANA time zone of the times.", examples=["Europe/Paris", "UTC"])

    @model_validator(mode="after")
    def _shape(self) -> MaintenanceWindow:
        if minutes(self.start) == minutes(self.end):
            raise ValueError(
                f"end {self.end!r} equals start {self.start!r}: a window needs a length (\"00:00\" to \"24:00\" "
                "is a whole day)"
            )
        return self

    @property
    def crosses_midnight(self) -> bool:
        return minutes(self.end) <= minutes(self.start)

    def describe(self) -> str:
        """``Sat-Sun 22:00-06:00 Europe/Paris``."""
        return f"{describe_days(self.days)} {self.start}-{self.end} {self.timezone}"


class YearlyRange(Model):
    """Days of every year, inclusive; ``from`` after ``to`` crosses the new year."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    from_: MonthDay = Field(alias="from", description="First day, \"MM-DD\".", examples=["12-20"])
    to: MonthDay = Field(description="Last day, \"MM-DD\" (inclusive).", examples=["01-05"])

    @property
    def crosses_new_year(self) -> bool:
        return self.to < self.from_


class FreezeScope(Model):
    """Which environments a freeze applies to; every non-empty list must match, empty lists match all."""

    tier: list[TierName] = Field(default_factory=list, description="Tenant tiers.", examples=[["mission-critical"]])
    business_unit: list[str] = Field(
        default_factory=list, description="Tenant business units.", examples=[["finance", "retail"]]
    )
    stage: list[StageName] = Field(default_factory=list, description="Environment stages.", examples=[["production"]])

    def matches(self, *, tier: str | None, business_unit: str | None, stage: str | None) -> bool:
        checks: list[tuple[list[Any], str | None]] = [
            (list(self.tier), tier), (self.business_unit, business_unit), (list(self.stage), stage),
        ]
        return all(not allowed or value in allowed for allowed, value in checks)

    def describe(self) -> str:
        parts = [f"{key}: {', '.join(values)}" for key, values in self.model_dump().items() if values]
        return "; ".join(parts) or "all environments"


class Freeze(Model):
    """A period in which no change may be applied (unless an emergency override lifts it).

    Exactly one form: fixed dates (``start``/``end``), a monthly rule (``month_end_days`` and/or
    ``month_start_days``) or a yearly rule (``yearly``). Days run from 00:00 to 24:00 in ``timezone``.
    """

    name: str | None = Field(
        None, description="Name shown in messages (default: its key under freezes).", examples=["month-end close"]
    )
    start: FreezeDate | None = Field(None, description="First day, YYYY-MM-DD (with end).", examples=["2026-11-10"])
    end: FreezeDate | None = Field(
        None, description="Last day, YYYY-MM-DD, inclusive (with start).", examples=["2026-11-12"]
    )
    month_end_days: int | None = Field(
        None, ge=1, le=27, description="The last N days of every month.", examples=[3]
    )
    month_start_days: int | None = Field(
        None, ge=1, le=27,
        description="The first N days of every month (with month_end_days: one period across the month change).",
        examples=[1],
    )
    yearly: YearlyRange | None = Field(
        None, description="The same days every year.", examples=[{"from": "12-20", "to": "01-05"}]
    )
    timezone: TimeZone = Field(description="IANA time zone in which days start and end.", examples=["Europe/Paris"])
    applies_to: FreezeScope = Field(
        default_factory=FreezeScope,
        description="Environments it applies to (default: all).",
        examples=[{"business_unit": ["finance"], "stage": ["production"]}],
    )

    @model_validator(mode="after")
    def _one_form(self) -> Freeze:
        fixed = self.start is not None or self.end is not None
        monthly = self.month_end_days is not None or self.month_start_days is not None
        forms = [n for n, used in (("start/end", fixed), ("month_end_days/month_start_days", monthly),
                                   ("yearly", self.yearly is not None)) if used]
        if not forms:
            raise ValueError("a freeze needs start and end dates, month_end_days/month_start_days, or yearly")
        if len(forms) > 1:
            raise ValueError(f"a freeze takes one form, got {' and '.join(forms)}")
        if fixed:
            if self.start is None or self.end is None:
                raise ValueError("a freeze with fixed dates needs both start and end")
            if self.end < self.start:
                raise ValueError(f"end {self.end} is before start {self.start}")
        if monthly and (self.month_end_days or 0) + (self.month_start_days or 0) > 27:
            raise ValueError("month_end_days + month_start_days must leave part of every month open (at most 27)")
        return self

    @property
    def title(self) -> str:
        return self.name or "unnamed freeze"

    def describe(self) -> str:
        """``last 3 days and first day of every month, Europe/Paris``."""
        if self.start is not None and self.end is not None:
            when = str(self.start) if self.start == self.end else f"{self.start} to {self.end}"
        elif self.yearly is not None:
            when = f"every year {self.yearly.from_} to {self.yearly.to}"
        else:
            parts = []
            if self.month_end_days:
                parts.append("last day" if self.month_end_days == 1 else f"last {self.month_end_days} days")
            if self.month_start_days:
                parts.append("first day" if self.month_start_days == 1 else f"first {self.month_start_days} days")
            when = f"{' and '.join(parts)} of every month"
        scope = "" if self.applies_to.describe() == "all environments" else f"; {self.applies_to.describe()}"
        return f"{when}, {self.timezone}{scope}"


class ApprovalRule(Model):
    """Who must approve a change before it is applied."""

    approvers: int = Field(1, ge=1, le=10, description="Approvals needed, from distinct people.", examples=[2])
    roles: list[Role] = Field(
        default_factory=list,
        description="An approver must hold one of these roles (empty: anyone listed under people).",
        examples=[["release-manager", "cab"]],
    )
    separation_of_duties: bool = Field(
        True,
        description="The requester may not approve their own change (their approval is not counted).",
        examples=[True],
    )


class ChangePolicy(Model):
    """The gates a release passes before it is applied to an environment of a stage or tier."""

    windows: list[Key] = Field(
        default_factory=list,
        description="Maintenance windows (names under windows) changes must fall in; empty: any time.",
        examples=[["weekend"]],
    )
    freezes: list[Key] | None = Field(
        None,
        description="Freezes (names under freezes) that block changes; null: every freeze; []: none.",
        examples=[["month-end", "year-end"]],
    )
    approvals: ApprovalRule | None = Field(
        None, description="Approvals required (null: none).", examples=[{"approvers": 2, "roles": ["cab"]}]
    )
    emergency_roles: list[Role] = Field(
        default_factory=list,
        description=(
            "Roles allowed to override the window and freeze gates with --emergency and a reason "
            "(never the approvals)."
        ),
        examples=[["incident-manager"]],
    )
    previous_stage: StageName | None = Field(
        None,
        description="Stage on which the release must have succeeded first, for the same tenant.",
        examples=["staging"],
    )
    stages: list[StageName] = Field(
        default_factory=list,
        description=(
            "When chosen through tier_policies: the stages it applies to (empty: every stage); other "
            "stages of the tier's tenants use stage_policies."
        ),
        examples=[["production"]],
    )


class PersonRoles(Model):
    """A person who may request, approve or override changes."""

    roles: list[Role] = Field(default_factory=list, description="Roles held.", examples=[["release-manager"]])


class ChangeManagement(Model):
    """Maintenance windows, freezes, approvals and the policies that apply them to promotions."""

    windows: dict[Key, MaintenanceWindow] = Field(
        default_factory=dict,
        description="Maintenance windows by name.",
        examples=[{"weekend": {"days": ["sat", "sun"], "start": "22:00", "end": "06:00",
                               "timezone": "Europe/Paris"}}],
    )
    freezes: dict[Key, Freeze] = Field(
        default_factory=dict,
        description="Change freezes by name.",
        examples=[{"month-end": {"name": "month-end close", "month_end_days": 3, "month_start_days": 1,
                                 "timezone": "Europe/Paris"}}],
    )
    policies: dict[Key, ChangePolicy] = Field(
        default_factory=dict,
        description="Change policies by name.",
        examples=[{"production": {"windows": ["weekend"], "approvals": {"approvers": 1, "roles": ["cab"]},
                                  "previous_stage": "staging"}}],
    )
    stage_policies: dict[StageName, Key] = Field(
        default_factory=dict,
        description="Policy of each stage's environments.",
        examples=[{"production": "production", "staging": "staging"}],
    )
    tier_policies: dict[TierName, Key] = Field(
        default_factory=dict,
        description=(
            "Policy of the environments of a tier's tenants; takes precedence over stage_policies for "
            "the stages it applies to (its 'stages')."
        ),
        examples=[{"mission-critical": "critical"}],
    )
    people: dict[Person, PersonRoles] = Field(
        default_factory=dict,
        description="Who holds which role (user names as the CLI and API know them).",
        examples=[{"alice": {"roles": ["release-manager"]}, "bob": {"roles": ["cab", "incident-manager"]}}],
    )

    @model_validator(mode="before")
    @classmethod
    def _names_from_keys(cls, data: Any) -> Any:
        # Messages quote a window's or freeze's name; when none is given it is its key.
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for section, model in (("windows", MaintenanceWindow), ("freezes", Freeze)):
            items = data.get(section)
            if not isinstance(items, dict):
                continue
            named: dict[Any, Any] = {}
            for key, value in items.items():
                if isinstance(value, dict) and value.get("name") is None:
                    named[key] = {**value, "name": key}
                elif isinstance(value, model) and value.name is None:
                    named[key] = value.model_copy(update={"name": key})
                else:
                    named[key] = value
            data[section] = named
        return data

    def policy_for(self, *, stage: str, tier: str | None) -> tuple[str, ChangePolicy] | None:
        """Given an environment's stage and its tenant's tier, return (name, policy) that governs
        it: the tier's policy if it applies to that stage, else the stage's, else None."""
        tier_policy = _lookup(self.tier_policies, tier)
        if tier_policy is not None and tier_policy in self.policies:
            policy = self.policies[tier_policy]
            if not policy.stages or stage in policy.stages:
                return tier_policy, policy
        stage_policy = _lookup(self.stage_policies, stage)
        if stage_policy is not None and stage_policy in self.policies:
            return stage_policy, self.policies[stage_policy]
        return None


def _lookup(table: Mapping[Any, str], key: str | None) -> str | None:
    # The tables are keyed by Literal stage/tier names; callers hold plain strings.
    return table.get(key) if key is not None else None


# --- cross-checks ----------------------------------------------------------------------------


def _unknown(kind: str, name: str, known: Mapping[str, Any]) -> str:
    if not known:
        return f"unknown {kind} {name!r} (none defined)"
    close = difflib.get_close_matches(name, list(known), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown {kind} {name!r}{hint} (known: {', '.join(sorted(known))})"


def cross_check(cm: ChangeManagement, *, prefix: PathKey = ("change_management",)) -> list[tuple[PathKey, str]]:
    """Given a schema-valid section, return (path, message) for what one field cannot know alone:
    names that refer to nothing, roles nobody holds, approvals that can never be given, and
    previous-stage chains that loop. Paths start with ``prefix`` (the section's key in the estate)."""
    problems: list[tuple[PathKey, str]] = []
    holders: dict[str, set[str]] = {}
    for person, held in cm.people.items():
        for role in held.roles:
            holders.setdefault(role, set()).add(person)

    for pname, policy in cm.policies.items():
        base: PathKey = (*prefix, "policies", pname)
        for index, window in enumerate(policy.windows):
            if window not in cm.windows:
                problems.append(((*base, "windows", index), _unknown("maintenance window", window, cm.windows)))
        for index, freeze in enumerate(policy.freezes or []):
            if freeze not in cm.freezes:
                problems.append(((*base, "freezes", index), _unknown("freeze", freeze, cm.freezes)))
        rule = policy.approvals
        if rule is not None:
            for index, role in enumerate(rule.roles):
                if role not in holders:
                    problems.append(((*base, "approvals", "roles", index),
                                     f"nobody under people holds role {role!r}"))
            eligible = ({p for r in rule.roles for p in holders.get(r, set())} if rule.roles else set(cm.people))
            if len(eligible) < rule.approvers:
                who = f"with role {' or '.join(rule.roles)}" if rule.roles else "under people"
                problems.append(((*base, "approvals", "approvers"),
                                 f"needs {rule.approvers} approvers but only {len(eligible)} "
                                 f"{'person is' if len(eligible) == 1 else 'people are'} listed {who}"))
        for index, role in enumerate(policy.emergency_roles):
            if role not in holders:
                problems.append(((*base, "emergency_roles", index), f"nobody under people holds role {role!r}"))

    for section, table in (("stage_policies", cm.stage_policies), ("tier_policies", cm.tier_policies)):
        for key, pname in table.items():
            if pname not in cm.policies:
                problems.append(((*prefix, section, key), _unknown("change policy", pname, cm.policies)))

    problems.extend(_previous_stage_loops(cm, prefix))
    return problems


def _previous_stage_loops(cm: ChangeManagement, prefix: PathKey) -> list[tuple[PathKey, str]]:
    """A stage whose policy requires success on a stage that (through its own policy) requires the
    first one could never be promoted to: report it once per loop."""
    def previous(stage: str) -> str | None:
        pname = _lookup(cm.stage_policies, stage)
        policy = cm.policies.get(pname) if pname else None
        return policy.previous_stage if policy else None

    problems: list[tuple[PathKey, str]] = []
    reported: set[frozenset[str]] = set()
    for stage in cm.stage_policies:
        chain: list[str] = [stage]
        step = previous(stage)
        while step is not None and step not in chain:
            chain.append(step)
            step = previous(step)
        if step is None or step != stage:
            continue
        loop = frozenset(chain)
        if loop in reported:
            continue
        reported.add(loop)
        pname = cm.stage_policies[stage]
        shown = " ← ".join([*chain, stage])
        problems.append(((*prefix, "policies", pname, "previous_stage"),
                         f"previous stages loop ({shown}): no release could ever reach {stage!r}"))
    return problems
