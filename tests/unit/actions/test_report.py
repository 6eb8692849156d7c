"""The status page's model: history bucketed into 30-minute cells (worst status wins), availability
from the HTTP check, latency medians, current failures; and the page escapes what it shows."""

from __future__ import annotations

import datetime as dt

from odooplane.actions.report import build
from odooplane.render.report import render_html
from odooplane.store.probes import ProbeRow

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


def row(minutes_ago: float, target: str, status: str, *, latency: float | None = None,
        detail: str = "") -> ProbeRow:
    http: dict[str, object] = {"name": "http", "status": status if status != "warning" else "ok", "value": 200}
    if latency is not None:
        http["latency_ms"] = latency
    checks = [http]
    if status == "warning":
        checks.append({"name": "cron", "status": "warning", "value": 4000, "detail": detail})
    return ProbeRow(NOW - dt.timedelta(minutes=minutes_ago), target, status, checks)


ORDER = [("acme/prod", "acme", "production", "retail"), ("acme/staging", "acme", "production", "retail"),
         ("globex/prod", "globex", "standard", "")]


def test_cells_take_the_worst_status_and_empty_hours_stay_empty() -> None:
    history = [row(5, "acme/prod", "ok", latency=30), row(10, "acme/prod", "critical"),
               row(65, "acme/prod", "ok", latency=50), row(70, "acme/prod", "ok", latency=70),
               row(60 * 25, "acme/prod", "critical"),  # outside the window
               row(5, "globex/prod", "warning", detail="<script>alert(1)</script>")]
    report = build("Acme", fleet=None, history=history, order=ORDER, now=NOW, hours=24)
    assert [t.tenant for t in report.tenants] == ["acme", "globex"]
    prod = report.tenants[0].environments[0]
    assert len(prod.slots) == 48
    assert prod.slots[-1].status == "critical" and prod.slots[-1].sweeps == 2
    assert prod.slots[-3].status == "ok" and prod.slots[-3].latency_ms == 70  # median of 50 and 70: upper
    assert sum(1 for s in prod.slots if s.status is None) == 46
    assert prod.availability == 3 / 4
    assert report.tenants[0].environments[1].slots[-1].status is None  # staging never swept
    assert report.tenants[0].environments[1].status == "unknown"
    globex = report.tenants[1]
    assert globex.status == "warning" and globex.environments[0].failing == ["cron: <script>alert(1)</script>"]

    page = render_html(report)
    assert page.count('<tr class="tenant"') == 2
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    # Without a sweep now, an environment's status is its newest probe: acme/prod recovered (ok), staging
    # was never probed (unknown), so the tenant row shows unknown.
    assert prod.status == "ok"
    assert 'data-tenant="acme" data-status="unknown"' in page
    assert page.count('data-status="none"') == 46 + 48 + 47


def test_window_is_bounded() -> None:
    report = build("x", fleet=None, history=[], order=ORDER[:1], now=NOW, hours=1)
    assert len(report.tenants[0].environments[0].slots) == 2
    assert report.tenants[0].environments[0].availability is None
