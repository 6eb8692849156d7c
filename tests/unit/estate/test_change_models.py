"""The change_management schema: windows, freezes, approvals, policies — every mistake reported
with its path and a message a person can act on; cross-checks for names that refer to nothing."""

from __future__ import annotations

import datetime as dt
import re
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from odooplane.estate import change, models
from odooplane.estate.change import ChangeManagement, Freeze, MaintenanceWindow

DOCS = Path(__file__).resolve().parents[3] / "docs" / "gates.md"


def errors(model: type[Any], data: Any) -> list[tuple[tuple[str | int, ...], str]]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return [(tuple(e["loc"]), e["msg"].removeprefix("Value error, ")) for e in caught.value.errors()]


def window(**overrides: Any) -> dict[str, Any]:
    return {"days": ["sat", "sun"], "start": "22:00", "end": "06:00", "timezone": "Europe/Paris", **overrides}


def docs_example() -> dict[str, Any]:
    blocks = re.findall(r"```yaml\n(.*?)```", DOCS.read_text(encoding="utf-8"), flags=re.S)
    section = next(b for b in blocks if b.startswith("change_management:"))
    data: dict[str, Any] = yaml.safe_load(section)["change_management"]
    return data


# --- the documented example -------------------------------------------------------------------


def test_documented_example_is_valid_and_cross_checks_clean() -> None:
    cm = ChangeManagement.model_validate(docs_example())
    assert change.cross_check(cm) == []
    assert cm.windows["weekend"].describe() == "Sat-Sun 22:00-06:00 Europe/Paris"
    assert cm.freezes["month-end"].title == "month-end close"
    assert cm.freezes["year-end"].title == "year-end"  # named after its key
    assert cm.freezes["go-live"].start == dt.date(2026, 11, 10)


def test_stage_and_tier_vocabularies_match_the_estate_models() -> None:
    assert typing.get_args(change.StageName) == typing.get_args(models.Stage)
    assert typing.get_args(change.TierName) == typing.get_args(models.Tier)


def test_every_field_has_a_description_and_every_leaf_an_example() -> None:
    schema = ChangeManagement.model_json_schema()
    missing = []
    for name, definition in [("ChangeManagement", schema), *schema["$defs"].items()]:
        for field, spec in definition.get("properties", {}).items():
            if "description" not in spec:
                missing.append(f"{name}.{field}: description")
            if "examples" not in spec and "$ref" not in spec and "default" not in spec:
                missing.append(f"{name}.{field}: example")
    assert missing == []
    assert schema["$defs"]["YearlyRange"]["required"] == ["from", "to"]


# --- windows --------------------------------------------------------------------------------


def test_unquoted_time_read_by_yaml_as_a_number_asks_for_quotes() -> None:
    data = yaml.safe_load("days: [sat]\nstart: 22:00\nend: '06:00'\ntimezone: UTC\n")
    assert errors(MaintenanceWindow, data) == [
        (("start",), 'write the time in quotes, like "22:00" (YAML reads an unquoted HH:MM as the number 1320)')
    ]


@pytest.mark.parametrize(("value", "message"), [
    ("25:00", "'25:00' is not a time of day (00:00 to 23:59)"),
    ("7pm", "'7pm' is not a time written \"HH:MM\" (24-hour clock, like \"22:00\")"),
    ("12:60", "'12:60' is not a time of day (00:00 to 23:59)"),
    ("24:00", "'24:00' is not a time of day (00:00 to 23:59)"),
])
def test_bad_start_time_is_refused_with_the_rule(value: str, message: str) -> None:
    assert errors(MaintenanceWindow, window(start=value)) == [(("start",), message)]


def test_end_may_be_midnight_and_one_digit_hours_are_normalised() -> None:
    whole_day = MaintenanceWindow.model_validate(window(start="0:00", end="24:00"))
    assert (whole_day.start, whole_day.end, whole_day.crosses_midnight) == ("00:00", "24:00", False)
    assert MaintenanceWindow.model_validate(window()).crosses_midnight


def test_end_equal_to_start_is_refused() -> None:
    assert errors(MaintenanceWindow, window(start="22:00", end="22:00")) == [
        ((), "end '22:00' equals start '22:00': a window needs a length (\"00:00\" to \"24:00\" is a whole day)")
    ]
    assert errors(MaintenanceWindow, window(start="00:00", end="00:00"))


def test_unknown_day_names_suggest_the_right_one() -> None:
    found = errors(MaintenanceWindow, window(days=["sat", "Sunday", "wensday"]))
    assert found == [
        (("days", 1), "unknown day 'Sunday'; did you mean 'sun'? (days are mon, tue, wed, thu, fri, sat, sun)"),
        (("days", 2), "unknown day 'wensday'; did you mean 'wed'? (days are mon, tue, wed, thu, fri, sat, sun)"),
    ]


def test_repeated_and_missing_days_are_refused() -> None:
    assert errors(MaintenanceWindow, window(days=["sat", "sat"])) == [(("days",), "sat listed more than once")]
    assert errors(MaintenanceWindow, window(days=[]))[0][0] == ("days",)


def test_bad_time_zone_is_refused() -> None:
    assert errors(MaintenanceWindow, window(timezone="Europe/Pariss")) == [
        (("timezone",), "'Europe/Pariss' is not a time zone (e.g. Europe/Paris, UTC)")
    ]


def test_window_time_zone_is_required() -> None:
    data = window()
    del data["timezone"]
    assert errors(MaintenanceWindow, data) == [(("timezone",), "Field required")]


def test_days_are_described_as_runs() -> None:
    assert change.describe_days(["mon", "tue", "wed", "thu", "fri"]) == "Mon-Fri"
    assert change.describe_days(["fri", "mon", "wed"]) == "Mon, Wed, Fri"
    assert change.describe_days(["sat", "sun", "mon"]) == "Sat-Mon"
    assert change.describe_days(list(change.DAYS)) == "Mon-Sun"


# --- freezes --------------------------------------------------------------------------------


def test_date_that_does_not_exist_is_refused() -> None:
    found = errors(Freeze, {"start": "2026-02-30", "end": "2026-03-02", "timezone": "UTC"})
    assert found == [(("start",), "'2026-02-30' is not a date: February 2026 has 28 days")]
    found = errors(Freeze, {"start": "2026-13-01", "end": "2026-03-02", "timezone": "UTC"})
    assert found == [(("start",), "'2026-13-01' is not a date: there is no month 13")]


def test_date_with_a_time_is_refused() -> None:
    found = errors(Freeze, {"start": dt.datetime(2026, 3, 1, 10, 0), "end": "2026-03-02", "timezone": "UTC"})
    assert found == [(("start",), "2026-03-01T10:00:00 is a date and time; freezes take whole days (YYYY-MM-DD)")]


def test_fixed_freeze_needs_both_dates_in_order() -> None:
    assert errors(Freeze, {"start": "2026-03-01", "timezone": "UTC"}) == [
        ((), "a freeze with fixed dates needs both start and end")
    ]
    assert errors(Freeze, {"start": "2026-03-02", "end": "2026-03-01", "timezone": "UTC"}) == [
        ((), "end 2026-03-01 is before start 2026-03-02")
    ]


def test_freeze_takes_exactly_one_form() -> None:
    assert errors(Freeze, {"timezone": "UTC"}) == [
        ((), "a freeze needs start and end dates, month_end_days/month_start_days, or yearly")
    ]
    both = {"month_end_days": 3, "yearly": {"from": "12-20", "to": "01-05"}, "timezone": "UTC"}
    assert errors(Freeze, both) == [((), "a freeze takes one form, got month_end_days/month_start_days and yearly")]


def test_monthly_freeze_must_leave_part_of_the_month_open() -> None:
    assert errors(Freeze, {"month_end_days": 20, "month_start_days": 10, "timezone": "UTC"}) == [
        ((), "month_end_days + month_start_days must leave part of every month open (at most 27)")
    ]
    assert errors(Freeze, {"month_end_days": 0, "timezone": "UTC"})[0][0] == ("month_end_days",)


@pytest.mark.parametrize(("rule", "where", "message"), [
    ({"from": "13-01", "to": "01-05"}, "from", "'13-01' is not a day of the year: there is no month 13"),
    ({"from": "12-20", "to": "02-30"}, "to", "'02-30' is not a day of the year: February has 28 days"),
    ({"from": "02-29", "to": "03-01"}, "from", '"02-29" does not exist every year; use "02-28" or "03-01"'),
    ({"from": "12/20", "to": "01-05"}, "from", "'12/20' is not a day of the year written \"MM-DD\" (like \"12-20\")"),
    ({"from": "12-20"}, "to", "Field required"),
])
def test_yearly_rule_days_are_checked(rule: dict[str, str], where: str, message: str) -> None:
    assert errors(Freeze, {"yearly": rule, "timezone": "UTC"}) == [(("yearly", where), message)]


def test_yearly_rule_crossing_the_new_year_is_recognised() -> None:
    freeze = Freeze.model_validate({"yearly": {"from": "12-20", "to": "01-05"}, "timezone": "UTC"})
    assert freeze.yearly is not None and freeze.yearly.crosses_new_year
    assert freeze.model_dump(by_alias=True)["yearly"] == {"from": "12-20", "to": "01-05"}


def test_freeze_scope_rejects_unknown_stage_and_unknown_keys() -> None:
    found = errors(Freeze, {"month_end_days": 2, "timezone": "UTC", "applies_to": {"stage": ["prod"], "site": ["x"]}})
    assert [loc for loc, _ in found] == [("applies_to", "stage", 0), ("applies_to", "site")]


def test_freeze_is_described_for_messages() -> None:
    monthly = Freeze.model_validate({"month_end_days": 3, "month_start_days": 1, "timezone": "Europe/Paris",
                                     "applies_to": {"business_unit": ["finance"]}})
    assert monthly.describe() == "last 3 days and first day of every month, Europe/Paris; business_unit: finance"
    fixed = Freeze.model_validate({"start": "2026-11-10", "end": "2026-11-12", "timezone": "UTC"})
    assert fixed.describe() == "2026-11-10 to 2026-11-12, UTC"


# --- policies, people and the section --------------------------------------------------------


def test_approval_rule_needs_at_least_one_approver() -> None:
    found = errors(ChangeManagement, {"policies": {"p": {"approvals": {"approvers": 0}}}})
    assert found[0][0] == ("policies", "p", "approvals", "approvers")


def test_bad_role_person_and_key_names_are_refused_with_their_path() -> None:
    found = errors(ChangeManagement, {
        "people": {"alice": {"roles": ["Release Manager"]}},
        "windows": {"Week End": window()},
        "stage_policies": {"prod": "x"},
    })
    locs = [loc for loc, _ in found]
    assert ("people", "alice", "roles", 0) in locs
    assert ("windows", "Week End", "[key]") in locs
    assert ("stage_policies", "prod", "[key]") in locs


def test_names_default_to_keys_but_explicit_names_win() -> None:
    cm = ChangeManagement.model_validate({
        "windows": {"weekend": window()},
        "freezes": {"close": {"name": "month-end close", "month_end_days": 2, "timezone": "UTC"}},
    })
    assert cm.windows["weekend"].name == "weekend"
    assert cm.freezes["close"].name == "month-end close"
    built = ChangeManagement(windows={"nightly": MaintenanceWindow.model_validate(window())})
    assert built.windows["nightly"].name == "nightly"


def test_cross_check_reports_unknown_names_with_paths() -> None:
    cm = ChangeManagement.model_validate({
        "windows": {"weekend": window()},
        "freezes": {"month-end": {"month_end_days": 3, "timezone": "UTC"}},
        "policies": {"prod": {"windows": ["weekends"], "freezes": ["year-end"]}},
        "stage_policies": {"production": "production"},
        "tier_policies": {"mission-critical": "critical"},
    })
    assert change.cross_check(cm) == [
        (("change_management", "policies", "prod", "windows", 0),
         "unknown maintenance window 'weekends'; did you mean 'weekend'? (known: weekend)"),
        (("change_management", "policies", "prod", "freezes", 0),
         "unknown freeze 'year-end' (known: month-end)"),
        (("change_management", "stage_policies", "production"),
         "unknown change policy 'production' (known: prod)"),
        (("change_management", "tier_policies", "mission-critical"),
         "unknown change policy 'critical' (known: prod)"),
    ]


def test_cross_check_reports_roles_nobody_holds_and_approvals_nobody_can_give() -> None:
    cm = ChangeManagement.model_validate({
        "policies": {"prod": {"approvals": {"approvers": 2, "roles": ["cab"]}, "emergency_roles": ["sre"]}},
        "people": {"alice": {"roles": ["cab"]}},
    })
    assert change.cross_check(cm, prefix=()) == [
        (("policies", "prod", "approvals", "approvers"),
         "needs 2 approvers but only 1 person is listed with role cab"),
        (("policies", "prod", "emergency_roles", 0), "nobody under people holds role 'sre'"),
    ]


def test_cross_check_reports_previous_stage_loops_once() -> None:
    cm = ChangeManagement.model_validate({
        "policies": {"prod": {"previous_stage": "staging"}, "stage": {"previous_stage": "production"},
                     "dev": {"previous_stage": "development"}},
        "stage_policies": {"production": "prod", "staging": "stage", "development": "dev"},
    })
    assert change.cross_check(cm) == [
        (("change_management", "policies", "prod", "previous_stage"),
         "previous stages loop (production ← staging ← production): no release could ever reach 'production'"),
        (("change_management", "policies", "dev", "previous_stage"),
         "previous stages loop (development ← development): no release could ever reach 'development'"),
    ]


def test_policy_for_prefers_a_tier_policy_that_applies_to_the_stage() -> None:
    cm = ChangeManagement.model_validate({
        "policies": {"prod": {"previous_stage": "staging"}, "critical": {"stages": ["production"]},
                     "dev": {}},
        "stage_policies": {"production": "prod", "development": "dev"},
        "tier_policies": {"mission-critical": "critical"},
    })
    assert cm.policy_for(stage="production", tier="mission-critical") == ("critical", cm.policies["critical"])
    assert cm.policy_for(stage="development", tier="mission-critical") == ("dev", cm.policies["dev"])
    assert cm.policy_for(stage="production", tier="standard") == ("prod", cm.policies["prod"])
    assert cm.policy_for(stage="training", tier="standard") is None
