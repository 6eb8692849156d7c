"""Cost allocation from hourly usage: a dedicated environment pays for what it used; a pool's
hour is split among its tenants by their requests and database time (evenly, and said so, when
nobody did anything); storage averages over the month; backups count from the month or their first."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from odooplane.estate.models import PriceBook
from odooplane.operations import cost
from odooplane.store.evidence import Evidence
from odooplane.store.usage import Hour
from tests.unit.estate.support import HEADER, check

GIB = 1024**3


def envs(tmp_path: Path) -> list:  # type: ignore[type-arg]
    valid, problems = check(tmp_path, HEADER + """
pools: {std: {}}
tenants:
  big: {labels: {business_unit: retail}, environments: {prod: {}}}
  a: {labels: {business_unit: retail}, environments: {prod: {placement: {shared: std}}}}
  b: {labels: {business_unit: wholesale}, environments: {prod: {placement: {shared: std}}}}
""")
    assert valid is not None, problems
    return list(valid.environments)


def hour(h: int, target: str, *, samples: int = 0, cores: float = 0.0, memory: float = 0.0, storage: int = 0,
         requests: float = 0.0, db_ms: float = 0.0, egress: float = 0.0) -> Hour:
    at = dt.datetime(2026, 11, 1, tzinfo=dt.UTC) + dt.timedelta(hours=h)
    return Hour(at, target, samples, cores * samples, memory * samples, storage, requests, db_ms, egress)


def test_dedicated_pooled_and_priced(tmp_path: Path) -> None:
    start, end = cost.month_span("2026-11")
    assert (end - start) == dt.timedelta(days=30)
    hours = [
        hour(0, "big/prod", samples=4, cores=0.5, memory=2 * GIB, storage=10**9, egress=5 * 10**8),
        hour(1, "big/prod", samples=2, cores=1.5, memory=2 * GIB, storage=10**9),
        # the pool: 2 cores for two hours; hour 0 only a worked, hour 1 nobody did anything
        hour(0, "pool:std", samples=3, cores=2.0, memory=4 * GIB),
        hour(1, "pool:std", samples=3, cores=2.0, memory=4 * GIB),
        hour(0, "a/prod", requests=90, db_ms=3000, storage=10**9),
        hour(0, "b/prod", requests=10, db_ms=0, storage=10**9),
    ]
    backups = [Evidence(1, dt.datetime(2026, 11, 16, tzinfo=dt.UTC), "backup", "big/prod", True, None,
                        {"repository": "local", "bytes": 2 * 10**9}, "")]
    prices = PriceBook(vcpu_hour=0.04, gib_hour=0.005, storage_gb_month=0.1, backup_gb_month=0.02, egress_gb=0.09)
    got = {c.target: c for c in cost.allocate(envs(tmp_path), hours, backups, start=start, end=end, prices=prices)}
    big, a, b = got["big/prod"], got["a/prod"], got["b/prod"]
    assert big.vcpu_hours == pytest.approx(0.5 + 1.5) and big.gib_hours == pytest.approx(4.0)
    assert big.measured_hours == 2 and big.basis == "measured"
    assert big.storage_gb_month == pytest.approx(2 / 720)  # 1 GB for 2 of 720 hours
    assert big.backup_gb_month == pytest.approx(2 * 0.5)  # 2 GB kept for half the month
    assert big.egress_gb == pytest.approx(0.5)
    assert big.compute == pytest.approx(2.0 * 0.04 + 4.0 * 0.005)
    assert big.total == pytest.approx(big.compute + big.storage + big.backup + big.egress)
    # hour 0: requests 90/10 and db time 3000/0 → a gets (0.9 + 1.0) / 2 = 0.95; hour 1: evenly
    assert a.vcpu_hours == pytest.approx(2.0 * 0.95 + 2.0 * 0.5)
    assert b.vcpu_hours == pytest.approx(2.0 * 0.05 + 2.0 * 0.5)
    assert a.vcpu_hours + b.vcpu_hours == pytest.approx(4.0)  # the pool's compute, all of it, once
    assert a.basis == "pool share by activity" and a.even_hours == 1
    lines = {line.key: line for line in cost.group(list(got.values()), "business_unit")}
    assert lines["retail"].environments == 2
    assert lines["retail"].total == pytest.approx(big.total + a.total)
    assert cost.group(list(got.values()), "tenant")[0].key == "big"  # the most expensive first


def test_a_pool_nobody_used_is_split_evenly_and_says_so(tmp_path: Path) -> None:
    start, end = cost.month_span("2026-11")
    hours = [hour(0, "pool:std", samples=1, cores=1.0, memory=GIB)]
    got = {c.target: c for c in cost.allocate(envs(tmp_path), hours, [], start=start, end=end, prices=PriceBook())}
    assert got["a/prod"].vcpu_hours == pytest.approx(0.5) and got["a/prod"].basis == "pool split evenly"
    assert got["big/prod"].basis == "not measured" and got["big/prod"].total == 0


@pytest.mark.parametrize("text", ["2026-13", "26-11", "2026/11", "x"])
def test_months_are_checked(text: str) -> None:
    with pytest.raises(ValueError, match="is not a month"):
        cost.month_span(text)


def test_hours_asleep_and_what_they_saved(tmp_path: Path) -> None:
    start, end = cost.month_span("2026-11")
    at = dt.datetime(2026, 11, 2, tzinfo=dt.UTC)
    events = [("big/prod", at, True), ("big/prod", at + dt.timedelta(hours=10), False),
              ("big/prod", at + dt.timedelta(hours=20), True),  # still asleep at the end
              ("a/prod", start - dt.timedelta(hours=5), True), ("a/prod", start + dt.timedelta(hours=1), False)]
    slept = cost.asleep_hours(events, start=start, end=at + dt.timedelta(hours=30))
    assert slept == {"big/prod": pytest.approx(20.0), "a/prod": pytest.approx(1.0)}  # clipped to the window
    hours = [hour(0, "big/prod", samples=1, cores=2.0), hour(1, "big/prod", samples=1, cores=2.0)]
    got = {c.target: c for c in cost.allocate(envs(tmp_path), hours, [], start=start, end=end,
                                              prices=PriceBook(vcpu_hour=0.5), asleep=slept)}
    assert got["big/prod"].asleep_hours == pytest.approx(20.0)
    assert got["big/prod"].savings == pytest.approx(1.0 * 20)  # 1.0 per awake hour (2 cores at 0.5)
