"""Change gates judged at fixed instants: windows (across midnight and daylight-saving changes),
freezes (fixed, monthly, yearly, by label), the next opening outside freezes, approvals,
emergency overrides and the promotion order."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from odooplane.clock import FakeClock
from odooplane.estate.change import ApprovalRule, ChangeManagement, ChangePolicy, Freeze, MaintenanceWindow
from odooplane.planner import gates
from odooplane.planner.gates import Approval, Emergency, GateRequest, Target

PARIS = ZoneInfo("Europe/Paris")
UTC = dt.UTC
PROD = Target("acme/prod", stage="production", tier="standard", business_unit="finance")


def paris(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=PARIS)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=UTC)


def win(days: list[str], start: str, end: str, tz: str = "Europe/Paris", name: str = "w") -> MaintenanceWindow:
    return MaintenanceWindow(name=name, days=days, start=start, end=end, timezone=tz)


def freeze(**data: Any) -> Freeze:
    return Freeze.model_validate({"timezone": "Europe/Paris", **data})


WEEKEND = win(["sat", "sun"], "22:00", "06:00", name="weekend")
MONTH_END = freeze(name="month-end close", month_end_days=3, month_start_days=1)
YEAR_END = freeze(name="year-end", yearly={"from": "12-20", "to": "01-05"})

CM = ChangeManagement.model_validate({
    "windows": {"weekend": {"days": ["sat", "sun"], "start": "22:00", "end": "06:00", "timezone": "Europe/Paris"}},
    "freezes": {"month-end": {"name": "month-end close", "month_end_days": 3, "month_start_days": 1,
                              "timezone": "Europe/Paris"}},
    "policies": {"production": {"windows": ["weekend"], "approvals": {"approvers": 2, "roles": ["cab"]},
                                "emergency_roles": ["incident-manager"], "previous_stage": "staging"}},
    "stage_policies": {"production": "production"},
    "people": {"alice": {"roles": ["cab"]}, "bob": {"roles": ["cab", "incident-manager"]},
               "carol": {"roles": ["developer"]}, "dave": {"roles": ["developer", "incident-manager"]}},
})


def request(now: dt.datetime, **overrides: Any) -> GateRequest:
    fields: dict[str, Any] = {
        "target": PROD, "release": "r42", "requester": "carol", "now": now,
        "policy": CM.policies["production"], "windows": CM.windows, "freezes": CM.freezes, "people": CM.people,
        "succeeded_stages": frozenset({"staging"}),
        "approvals": [Approval("alice", now), Approval("bob", now)],
    }
    fields.update(overrides)
    return GateRequest(**fields)


def gate(decision: gates.Decision, name: str) -> gates.GateResult:
    return next(g for g in decision.gates if g.name == name)


# --- windows --------------------------------------------------------------------------------


def test_window_open_only_on_its_days_and_hours() -> None:
    office = win(["mon", "tue", "wed", "thu", "fri"], "09:00", "17:00", tz="UTC")
    assert gates.in_window([office], utc(2026, 11, 24, 9, 0))  # Tuesday, opening instant included
    assert gates.in_window([office], utc(2026, 11, 24, 16, 59))
    assert not gates.in_window([office], utc(2026, 11, 24, 17, 0))  # closing instant excluded
    assert not gates.in_window([office], utc(2026, 11, 28, 12, 0))  # Saturday
    assert not gates.in_window([], utc(2026, 11, 24, 12, 0))


def test_window_crossing_midnight_belongs_to_the_day_it_opens() -> None:
    assert gates.in_window([WEEKEND], paris(2026, 11, 28, 22, 0))  # Sat opening
    assert gates.in_window([WEEKEND], paris(2026, 11, 29, 3, 0))  # Sun morning: Saturday's night
    assert gates.in_window([WEEKEND], paris(2026, 11, 30, 5, 59))  # Mon morning: Sunday's night
    assert not gates.in_window([WEEKEND], paris(2026, 11, 30, 6, 0))
    assert not gates.in_window([WEEKEND], paris(2026, 11, 28, 3, 0))  # Sat morning: Friday is not a day
    assert not gates.in_window([WEEKEND], paris(2026, 11, 29, 12, 0))


def test_window_follows_the_wall_clock_when_summer_time_ends() -> None:
    # 2026-10-25 03:00 CEST becomes 02:00 CET: Saturday's night lasts an hour longer in UTC terms.
    assert gates.in_window([WEEKEND], utc(2026, 10, 24, 20, 0))  # Sat 22:00 CEST
    assert not gates.in_window([WEEKEND], utc(2026, 10, 24, 19, 59))
    assert gates.in_window([WEEKEND], utc(2026, 10, 25, 4, 59))  # Sun 05:59 CET
    assert not gates.in_window([WEEKEND], utc(2026, 10, 25, 5, 0))  # Sun 06:00 CET


def test_window_follows_the_wall_clock_when_summer_time_starts() -> None:
    # 2026-03-29 02:00 CET becomes 03:00 CEST: 01:00-04:00 lasts two hours that night.
    night = win(["sun"], "01:00", "04:00")
    assert gates.window_spans(night, utc(2026, 3, 29, 0, 0), utc(2026, 3, 29, 0, 0)) == [
        (utc(2026, 3, 29, 0, 0), utc(2026, 3, 29, 2, 0))
    ]
    assert gates.in_window([night], paris(2026, 3, 29, 3, 30))
    assert not gates.in_window([night], utc(2026, 3, 29, 2, 0))  # 04:00 CEST
    # An opening in the skipped hour happens an hour later on the clock (02:30 → 03:30 CEST).
    skipped = win(["sun"], "02:30", "05:00")
    assert gates.next_window_start([skipped], utc(2026, 3, 28, 12, 0)) == utc(2026, 3, 29, 1, 30)


def test_next_window_start_searches_ahead_and_stops_at_the_horizon() -> None:
    tuesday = paris(2026, 11, 24, 10, 0)
    assert gates.next_window_start([WEEKEND], tuesday) == paris(2026, 11, 28, 22, 0)
    assert gates.next_window_start([WEEKEND], tuesday, horizon=dt.timedelta(days=2)) is None
    assert gates.next_window_start([WEEKEND], paris(2026, 11, 28, 22, 0)) == paris(2026, 11, 28, 22, 0)
    assert gates.next_window_start([], tuesday) is None


def test_fake_clock_walks_through_a_window() -> None:
    clock = FakeClock(paris(2026, 11, 28, 21, 30).astimezone(UTC))
    seen = []
    for _ in range(4):
        seen.append(gates.in_window([WEEKEND], clock.now()))
        clock.advance(30 * 60)
    assert seen == [False, True, True, True]


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="has no time zone"):
        gates.in_window([WEEKEND], dt.datetime(2026, 11, 28, 23, 0))


# --- freezes --------------------------------------------------------------------------------


def test_fixed_freeze_covers_whole_days_inclusive() -> None:
    go_live = freeze(name="go-live", start="2026-11-10", end="2026-11-12")
    assert gates.active_freezes([go_live], paris(2026, 11, 10, 0, 0)) == [go_live]
    assert gates.active_freezes([go_live], paris(2026, 11, 12, 23, 59)) == [go_live]
    assert gates.active_freezes([go_live], paris(2026, 11, 13, 0, 0)) == []
    assert gates.active_freezes([go_live], paris(2026, 11, 9, 23, 59)) == []
    assert gates.freeze_end([go_live], paris(2026, 11, 11, 8, 0)) == paris(2026, 11, 13, 0, 0)


def test_month_end_freeze_spans_the_change_of_month() -> None:
    assert gates.active_freezes([MONTH_END], paris(2026, 11, 27, 23, 59)) == []
    assert gates.active_freezes([MONTH_END], paris(2026, 11, 28, 0, 0)) == [MONTH_END]  # November has 30 days
    assert gates.active_freezes([MONTH_END], paris(2026, 12, 1, 12, 0)) == [MONTH_END]
    assert gates.freeze_end([MONTH_END], paris(2026, 11, 29, 12, 0)) == paris(2026, 12, 2, 0, 0)
    assert gates.active_freezes([MONTH_END], paris(2026, 12, 2, 0, 0)) == []
    assert gates.freeze_span(MONTH_END, paris(2027, 2, 26, 1, 0)) == (paris(2027, 2, 26, 0, 0), paris(2027, 3, 2, 0, 0))
    assert gates.active_freezes([MONTH_END], paris(2027, 2, 25, 23, 0)) == []


def test_month_start_only_freeze() -> None:
    first_days = freeze(month_start_days=2)
    assert gates.freeze_span(first_days, paris(2027, 1, 1, 0, 30)) == (paris(2027, 1, 1, 0, 0), paris(2027, 1, 3, 0, 0))
    assert gates.active_freezes([first_days], paris(2026, 12, 31, 23, 0)) == []


def test_yearly_freeze_crosses_the_new_year() -> None:
    assert gates.active_freezes([YEAR_END], paris(2026, 12, 19, 23, 59)) == []
    assert gates.active_freezes([YEAR_END], paris(2026, 12, 20, 0, 0)) == [YEAR_END]
    assert gates.active_freezes([YEAR_END], paris(2026, 12, 31, 12, 0)) == [YEAR_END]
    assert gates.active_freezes([YEAR_END], paris(2027, 1, 2, 12, 0)) == [YEAR_END]  # last year's occurrence
    assert gates.active_freezes([YEAR_END], paris(2027, 1, 6, 0, 0)) == []
    assert gates.freeze_end([YEAR_END], paris(2026, 12, 25, 9, 0)) == paris(2027, 1, 6, 0, 0)


def test_freeze_days_are_in_the_freeze_time_zone() -> None:
    tokyo = Freeze.model_validate({"start": "2026-11-10", "end": "2026-11-10", "timezone": "Asia/Tokyo"})
    assert gates.active_freezes([tokyo], utc(2026, 11, 9, 15, 0)) == [tokyo]  # 00:00 in Tokyo
    assert gates.active_freezes([tokyo], utc(2026, 11, 10, 15, 0)) == []


def test_freeze_applies_only_to_matching_labels() -> None:
    finance = freeze(month_end_days=3, applies_to={"business_unit": ["finance"], "stage": ["production"]})
    at = paris(2026, 11, 29, 12, 0)
    assert gates.active_freezes([finance], at, PROD) == [finance]
    assert gates.active_freezes([finance], at, Target("acme/staging", "staging", "standard", "finance")) == []
    assert gates.active_freezes([finance], at, Target("beta/prod", "production", "standard", "retail")) == []
    assert gates.active_freezes([finance], at, Target("gamma/prod", "production", "standard", None)) == []
    critical = freeze(month_end_days=3, applies_to={"tier": ["mission-critical"]})
    assert gates.active_freezes([critical], at, PROD) == []
    assert gates.active_freezes([critical], at) == [critical]  # no target: every freeze


def test_freeze_end_follows_freezes_that_follow_each_other() -> None:
    first = freeze(name="a", start="2026-11-10", end="2026-11-12")
    second = freeze(name="b", start="2026-11-13", end="2026-11-14")
    assert gates.freeze_end([first, second], paris(2026, 11, 11, 9, 0)) == paris(2026, 11, 15, 0, 0)
    assert gates.freeze_end([first, second], paris(2026, 11, 20, 9, 0)) is None


def test_next_opening_skips_a_window_that_falls_in_a_freeze() -> None:
    tuesday = paris(2026, 11, 24, 10, 0)
    assert gates.next_opening([WEEKEND], [MONTH_END], tuesday) == paris(2026, 12, 5, 22, 0)
    assert gates.next_opening([WEEKEND], [], tuesday) == paris(2026, 11, 28, 22, 0)


def test_next_opening_may_be_the_end_of_a_freeze_inside_a_window() -> None:
    saturday_freeze = freeze(start="2026-11-21", end="2026-11-21")
    assert gates.next_opening([WEEKEND], [saturday_freeze], paris(2026, 11, 20, 10, 0)) == paris(2026, 11, 22, 0, 0)


def test_next_opening_without_windows_is_the_end_of_the_freezes() -> None:
    assert gates.next_opening(None, [YEAR_END], paris(2026, 12, 24, 10, 0)) == paris(2027, 1, 6, 0, 0)
    assert gates.next_opening(None, [YEAR_END], paris(2026, 11, 24, 10, 0)) == paris(2026, 11, 24, 10, 0)


# --- approvals ------------------------------------------------------------------------------

AT = utc(2026, 11, 20, 9, 0)
CAB2 = ApprovalRule(approvers=2, roles=["cab"])


def test_enough_approvals_from_role_holders_pass() -> None:
    assert gates.check_approvals(CAB2, "carol", [Approval("alice", AT), Approval("bob", AT)], CM.people) == []


def test_too_few_approvals_are_counted_and_explained() -> None:
    assert gates.check_approvals(CAB2, "carol", [Approval("alice", AT)], CM.people) == [
        "needs 2 approvals from people holding cab, has 1 (alice)"
    ]
    assert gates.check_approvals(CAB2, "carol", [], CM.people) == ["needs 2 approvals from people holding cab, has 0"]


def test_approver_without_the_role_is_not_counted() -> None:
    problems = gates.check_approvals(CAB2, "alice", [Approval("bob", AT), Approval("dave", AT)], CM.people)
    assert problems == ["needs 2 approvals from people holding cab, has 1 (bob)",
                        "dave holds none of the roles cab; approval not counted"]


def test_unknown_approver_is_not_counted() -> None:
    problems = gates.check_approvals(ApprovalRule(approvers=1), "carol", [Approval("mallory", AT)], CM.people)
    assert problems == ["needs 1 approval, has 0",
                        "mallory is not listed under change_management.people; approval not counted"]


def test_requester_may_not_approve_their_own_change() -> None:
    problems = gates.check_approvals(CAB2, "alice", [Approval("alice", AT), Approval("bob", AT)], CM.people)
    assert problems == ["needs 2 approvals from people holding cab, has 1 (bob)",
                        "alice requested the change and may not approve it (separation of duties)"]


def test_same_person_twice_counts_once() -> None:
    approvals = [Approval("alice", AT), Approval("alice", AT), Approval("alice", AT)]
    assert gates.check_approvals(CAB2, "carol", approvals, CM.people) == [
        "needs 2 approvals from people holding cab, has 1 (alice)",
        "alice approved more than once; counted once (approvers must be distinct people)",
    ]


def test_without_separation_of_duties_the_requester_may_approve() -> None:
    rule = ApprovalRule(approvers=1, roles=["cab"], separation_of_duties=False)
    assert gates.check_approvals(rule, "alice", [Approval("alice", AT)], CM.people) == []


# --- evaluate -------------------------------------------------------------------------------


def test_everything_in_order_is_allowed_and_every_gate_reported() -> None:
    decision = gates.evaluate(request(paris(2026, 11, 21, 23, 0)))
    assert decision.allowed and not decision.emergency_used and decision.next_window is None
    assert [g.name for g in decision.gates] == ["previous-stage", "approvals", "window", "freeze", "emergency"]
    assert all(g.passed for g in decision.gates)
    assert gate(decision, "approvals").reason == "approved by alice, bob (2 required)"
    assert decision.summary() == "allowed"


def test_outside_the_window_says_which_window_and_when_it_opens() -> None:
    decision = gates.evaluate(request(paris(2026, 11, 18, 10, 0)))
    assert not decision.allowed
    assert gate(decision, "window") == gates.GateResult(
        "window", False,
        "outside the maintenance window 'weekend' (Sat-Sun 22:00-06:00 Europe/Paris); next opens 2026-11-21 22:00 CET",
    )
    assert decision.next_window == paris(2026, 11, 21, 22, 0)
    assert decision.summary().startswith("blocked: window: outside the maintenance window 'weekend'")


def test_next_window_skips_the_month_end_freeze() -> None:
    decision = gates.evaluate(request(paris(2026, 11, 24, 10, 0)))
    assert decision.next_window == paris(2026, 12, 5, 22, 0)
    assert gate(decision, "window").reason == (
        "outside the maintenance window 'weekend' (Sat-Sun 22:00-06:00 Europe/Paris); next opens 2026-12-05 22:00 "
        "CET (the opening of 2026-11-28 22:00 CET is in freeze 'month-end close')"
    )


def test_in_a_freeze_inside_the_window_says_until_when() -> None:
    decision = gates.evaluate(request(paris(2026, 11, 29, 23, 0)))
    assert not decision.allowed
    assert gate(decision, "window").passed
    assert gate(decision, "freeze") == gates.GateResult(
        "freeze", False,
        "in freeze 'month-end close' until 2026-12-02 00:00 CET (last 3 days and first day of every month, "
        "Europe/Paris); next opening in a maintenance window: 2026-12-05 22:00 CET",
    )
    assert decision.next_window == paris(2026, 12, 5, 22, 0)


def test_a_policy_can_exclude_freezes() -> None:
    policy = CM.policies["production"].model_copy(update={"freezes": []})
    decision = gates.evaluate(request(paris(2026, 11, 29, 23, 0), policy=policy))
    assert decision.allowed
    assert gate(decision, "freeze").reason == "no freeze applies"


def test_policy_without_windows_allows_any_time_outside_freezes() -> None:
    decision = gates.evaluate(request(paris(2026, 11, 18, 10, 0), policy=ChangePolicy()))
    assert decision.allowed
    assert gate(decision, "window").reason == "no maintenance window required"
    assert gate(decision, "approvals").reason == "no approvals required"
    frozen = gates.evaluate(request(paris(2026, 11, 30, 10, 0), policy=ChangePolicy()))
    assert not frozen.allowed and frozen.next_window == paris(2026, 12, 2, 0, 0)


def test_previous_stage_missing_blocks() -> None:
    decision = gates.evaluate(request(paris(2026, 11, 21, 23, 0), succeeded_stages=frozenset({"development"})))
    assert not decision.allowed
    assert gate(decision, "previous-stage") == gates.GateResult(
        "previous-stage", False,
        "release r42 has not succeeded on staging for this tenant yet (production requires staging first)",
    )
    assert decision.next_window is None  # time is not what blocks


def test_previous_stage_equal_to_the_target_stage_is_reported_as_misconfigured() -> None:
    policy = ChangePolicy(previous_stage="production")
    decision = gates.evaluate(request(paris(2026, 11, 21, 23, 0), policy=policy,
                                      succeeded_stages=frozenset({"production"})))
    assert "fix previous_stage" in gate(decision, "previous-stage").reason and not decision.allowed


def test_missing_approvals_block_with_the_reason() -> None:
    decision = gates.evaluate(request(paris(2026, 11, 21, 23, 0), approvals=[Approval("carol", AT)]))
    assert gate(decision, "approvals") == gates.GateResult(
        "approvals", False,
        "needs 2 approvals from people holding cab, has 0; "
        "carol requested the change and may not approve it (separation of duties)",
    )


def test_emergency_override_lifts_window_and_freeze_and_is_reported() -> None:
    decision = gates.evaluate(request(paris(2026, 11, 30, 10, 0), emergency=Emergency("bob", "INC-42 payments down")))
    assert decision.allowed and decision.emergency_used
    assert decision.next_window is None
    assert gate(decision, "window").passed and gate(decision, "freeze").passed
    assert gate(decision, "window").reason.endswith("; lifted by the emergency override of bob")
    assert gate(decision, "freeze").reason.startswith("in freeze 'month-end close' until 2026-12-02 00:00 CET")
    assert gate(decision, "emergency").reason == (
        "emergency override by bob (incident-manager): 'INC-42 payments down'; "
        "it lifts the window and freeze gates only"
    )
    assert decision.summary() == "allowed (emergency override)"


def test_emergency_override_never_lifts_approvals_or_separation_of_duties() -> None:
    decision = gates.evaluate(request(paris(2026, 11, 30, 10, 0), requester="bob",
                                      approvals=[Approval("bob", AT), Approval("alice", AT)],
                                      emergency=Emergency("bob", "INC-42")))
    assert not decision.allowed and decision.emergency_used
    assert [g.name for g in decision.blocking] == ["approvals"]
    assert "bob requested the change and may not approve it" in gate(decision, "approvals").reason


def test_emergency_override_never_lifts_the_previous_stage() -> None:
    decision = gates.evaluate(request(paris(2026, 11, 30, 10, 0), succeeded_stages=frozenset(),
                                      emergency=Emergency("bob", "INC-42")))
    assert [g.name for g in decision.blocking] == ["previous-stage"]


def test_emergency_override_by_a_role_not_allowed_is_refused() -> None:
    decision = gates.evaluate(request(paris(2026, 11, 30, 10, 0), emergency=Emergency("alice", "urgent")))
    assert not decision.allowed and not decision.emergency_used
    assert gate(decision, "emergency") == gates.GateResult(
        "emergency", False, "emergency override refused: alice holds none of the emergency roles incident-manager"
    )
    assert not gate(decision, "window").passed and not gate(decision, "freeze").passed
    assert decision.next_window == paris(2026, 12, 5, 22, 0)


def test_emergency_override_without_a_reason_is_refused() -> None:
    decision = gates.evaluate(request(paris(2026, 11, 30, 10, 0), emergency=Emergency("bob", "   ")))
    assert not decision.allowed and not decision.emergency_used
    assert gate(decision, "emergency").reason == "emergency override refused: a reason is required"


def test_emergency_override_when_the_policy_allows_none_is_refused() -> None:
    policy = CM.policies["production"].model_copy(update={"emergency_roles": []})
    decision = gates.evaluate(request(paris(2026, 11, 30, 10, 0), policy=policy, emergency=Emergency("bob", "x")))
    assert gate(decision, "emergency").reason.startswith("emergency override refused: this policy allows none")


def test_emergency_override_not_needed_is_not_counted_as_used() -> None:
    decision = gates.evaluate(request(paris(2026, 11, 21, 23, 0), emergency=Emergency("dave", "INC-7")))
    assert decision.allowed and not decision.emergency_used
    assert gate(decision, "emergency").reason.endswith("not needed: the window and freeze gates pass")


def test_policy_naming_an_unknown_window_fails_closed() -> None:
    policy = ChangePolicy(windows=["weekends"])
    decision = gates.evaluate(request(paris(2026, 11, 21, 23, 0), policy=policy, emergency=Emergency("bob", "x")))
    assert not decision.allowed
    assert gate(decision, "window").reason == "the policy names unknown maintenance window 'weekends'"


def test_window_and_freeze_messages_use_each_rule_s_time_zone_in_summer() -> None:
    decision = gates.evaluate(request(paris(2026, 7, 1, 10, 0)))  # a Wednesday in summer
    assert gate(decision, "window").reason.endswith("next opens 2026-07-04 22:00 CEST")
    assert decision.next_window == utc(2026, 7, 4, 20, 0)


def test_overlapping_freezes_report_each_end_and_the_last() -> None:
    cm = ChangeManagement.model_validate({
        "freezes": {"close": {"month_end_days": 3, "timezone": "Europe/Paris"},
                    "audit": {"start": "2026-12-01", "end": "2026-12-03", "timezone": "Europe/Paris"}},
    })
    decision = gates.evaluate(request(paris(2026, 11, 30, 10, 0), policy=ChangePolicy(), freezes=cm.freezes))
    assert gate(decision, "freeze").reason == (
        "in freeze 'close' until 2026-12-01 00:00 CET (last 3 days of every month, Europe/Paris); "
        "further freezes follow until 2026-12-04 00:00 CET"
    )
    assert decision.next_window == paris(2026, 12, 4, 0, 0)


def test_freeze_ending_inside_the_window_opens_at_its_end() -> None:
    cm = ChangeManagement.model_validate({
        "freezes": {"sat": {"start": "2026-11-21", "end": "2026-11-21", "timezone": "Europe/Paris"}},
    })
    decision = gates.evaluate(request(paris(2026, 11, 21, 23, 0), freezes=cm.freezes))
    assert gate(decision, "freeze").reason == "in freeze 'sat' until 2026-11-22 00:00 CET (2026-11-21, Europe/Paris)"
    assert decision.next_window == paris(2026, 11, 22, 0, 0)


def test_emergency_override_does_not_lift_a_misconfigured_policy() -> None:
    decision = gates.evaluate(request(paris(2026, 11, 30, 10, 0), policy=ChangePolicy(windows=["weekends"],
                                      emergency_roles=["incident-manager"]), emergency=Emergency("bob", "INC-1")))
    assert not decision.emergency_used
    assert [g.name for g in decision.blocking] == ["window", "freeze"]
