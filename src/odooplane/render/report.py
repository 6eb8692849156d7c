"""The fleet status page: one self-contained HTML file (inline CSS and SVG, no scripts, no requests).

One row per tenant with its worst status now; inside it, each environment with a coloured strip of
the last hours of probe results (one cell per slot, the worst status seen in it), its availability,
a sparkline of ``/web/login`` latency through the edge, and the checks failing now.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

COLOURS = {"ok": "#2e9e5b", "warning": "#e0a100", "critical": "#d64545", "unknown": "#8a9099", None: "#e4e7eb"}
ORDER = {"ok": 0, "unknown": 1, "warning": 2, "critical": 3}


@dataclass(frozen=True)
class Slot:
    """One cell of the history strip: the worst status of the sweeps in it (None: no sweep)."""

    label: str
    status: str | None
    sweeps: int = 0
    latency_ms: float | None = None


@dataclass(frozen=True)
class EnvRow:
    target: str
    environment: str
    placement: str
    status: str
    failing: list[str]
    slots: list[Slot]
    availability: float | None  # share of sweeps in the window whose HTTP check passed


@dataclass(frozen=True)
class TenantRow:
    tenant: str
    tier: str
    business_unit: str
    environments: list[EnvRow]

    @property
    def status(self) -> str:
        return max((e.status for e in self.environments), key=lambda s: ORDER.get(s, 1), default="unknown")


@dataclass(frozen=True)
class HealthReport:
    title: str
    generated_at: str
    window_hours: int
    tenants: list[TenantRow]
    host: list[tuple[str, str, str]] = field(default_factory=list)  # (check, status, detail)


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _strip(slots: list[Slot]) -> str:
    cell, gap, height = 6, 1, 18
    width = len(slots) * (cell + gap)
    rects = []
    for i, slot in enumerate(slots):
        tip = f"{slot.label}: {slot.status} ({slot.sweeps} sweep{'s' if slot.sweeps != 1 else ''})" \
            if slot.status else f"{slot.label}: no data"
        rects.append(f'<rect x="{i * (cell + gap)}" y="0" width="{cell}" height="{height}" rx="1" '
                     f'fill="{COLOURS.get(slot.status, COLOURS["unknown"])}" data-status="{_e(slot.status or "none")}">'
                     f"<title>{_e(tip)}</title></rect>")
    return (f'<svg class="strip" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="status history">{"".join(rects)}</svg>')


def _sparkline(slots: list[Slot]) -> str:
    width, height = 120, 22
    points = [(i, s.latency_ms) for i, s in enumerate(slots) if s.latency_ms is not None]
    if len(points) < 2:
        return '<span class="muted">-</span>'
    top = max(v for _, v in points) or 1.0
    step = width / max(len(slots) - 1, 1)
    coords = " ".join(f"{i * step:.1f},{height - 2 - (v / top) * (height - 4):.1f}" for i, v in points)
    last = points[-1][1]
    return (f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="login latency"><polyline fill="none" stroke="#3b6fd8" stroke-width="1.5" '
            f'points="{coords}"/></svg> <span class="num">{last:.0f} ms</span>'
            f'<span class="muted"> (max {top:.0f})</span>')


def _pill(status: str) -> str:
    return f'<span class="pill {_e(status)}">{_e(status)}</span>'


def _env(row: EnvRow) -> str:
    avail = "-" if row.availability is None else f"{row.availability:.1%}"
    failing = "".join(f"<li>{_e(f)}</li>" for f in row.failing) or '<li class="muted">all checks pass</li>'
    return (f'<div class="env" data-target="{_e(row.target)}" data-status="{_e(row.status)}">'
            f'<div class="env-name"><span class="dot {_e(row.status)}"></span>{_e(row.environment)}'
            f'<span class="muted"> · {_e(row.placement)}</span></div>'
            f'<div class="hist">{_strip(row.slots)}</div>'
            f'<div class="avail" title="share of sweeps whose /web/health answered">{avail}</div>'
            f'<div class="lat">{_sparkline(row.slots)}</div>'
            f'<ul class="failing">{failing}</ul></div>')


_CSS = """
:root { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d2433; }
body { margin: 24px auto; max-width: 1280px; padding: 0 16px; background: #f6f7f9; }
h1 { font-size: 22px; margin: 0 0 4px; }
.sub { color: #5b6472; margin-bottom: 16px; font-size: 13px; }
.summary { display: flex; gap: 12px; margin-bottom: 16px; flex-wrap: wrap; }
.card { background: #fff; border-radius: 8px; padding: 10px 16px; box-shadow: 0 1px 2px rgba(0,0,0,.08); }
.card b { font-size: 20px; display: block; }
table { width: 100%; border-collapse: separate; border-spacing: 0 8px; }
th { text-align: left; font-size: 12px; color: #5b6472; font-weight: 600; padding: 0 12px; }
tr.tenant > td { background: #fff; padding: 10px 12px; vertical-align: top;
                 box-shadow: 0 1px 2px rgba(0,0,0,.08); }
tr.tenant > td:first-child { border-radius: 8px 0 0 8px; border-left: 6px solid var(--c); width: 200px; }
tr.tenant > td:last-child { border-radius: 0 8px 8px 0; }
.tname { font-weight: 600; font-size: 16px; }
.labels { color: #5b6472; font-size: 12px; margin-top: 2px; }
.pill { display: inline-block; border-radius: 10px; padding: 1px 10px; font-size: 12px; font-weight: 600;
        color: #fff; margin-top: 6px; }
.pill.ok, .dot.ok { background: #2e9e5b; } .pill.warning, .dot.warning { background: #e0a100; }
.pill.critical, .dot.critical { background: #d64545; } .pill.unknown, .dot.unknown { background: #8a9099; }
.env { display: grid; grid-template-columns: 170px auto 64px 250px 1fr; gap: 12px; align-items: center;
       padding: 4px 0; border-bottom: 1px solid #eef0f3; font-size: 13px; }
.env:last-child { border-bottom: 0; }
.dot { display: inline-block; width: 10px; height: 10px; border-radius: 50%; margin-right: 6px; }
.muted { color: #8a9099; } .num { font-variant-numeric: tabular-nums; }
.avail { font-variant-numeric: tabular-nums; text-align: right; }
.lat { white-space: nowrap; }
ul.failing { margin: 0; padding-left: 16px; color: #7a2e2e; }
.legend span { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin: 0 4px 0 10px; }
footer { color: #8a9099; font-size: 12px; margin-top: 16px; }
"""


def render_html(report: HealthReport) -> str:
    """The whole page. Every value is escaped; colours come only from the status vocabulary."""
    envs = [e for t in report.tenants for e in t.environments]
    counts = {s: sum(1 for e in envs if e.status == s) for s in ("ok", "warning", "critical", "unknown")}
    cards = "".join(f'<div class="card"><b style="color:{COLOURS[s]}">{n}</b>{s}</div>' for s, n in counts.items())
    rows = []
    for tenant in report.tenants:
        labels = " · ".join(x for x in (tenant.tier, tenant.business_unit) if x)
        rows.append(
            f'<tr class="tenant" data-tenant="{_e(tenant.tenant)}" data-status="{_e(tenant.status)}" '
            f'style="--c:{COLOURS.get(tenant.status, COLOURS["unknown"])}">'
            f'<td><div class="tname">{_e(tenant.tenant)}</div><div class="labels">{_e(labels)}</div>'
            f'{_pill(tenant.status)}</td>'
            f'<td>{"".join(_env(e) for e in tenant.environments)}</td></tr>')
    host = "".join(f"<li>{_e(name)}: {_pill(status)} {_e(detail)}</li>" for name, status, detail in report.host)
    legend = "".join(f'<span style="background:{COLOURS[s]}"></span>{s or "no data"}'
                     for s in ("ok", "warning", "critical", "unknown", None))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(report.title)}</title><style>{_CSS}</style></head>
<body>
<h1>{_e(report.title)}</h1>
<div class="sub">generated {_e(report.generated_at)} · history of the last {report.window_hours} h,
one cell per {60 * report.window_hours // max(len(envs[0].slots) if envs else 1, 1)} min
<span class="legend">{legend}</span></div>
<div class="summary">{cards}<div class="card"><b>{len(report.tenants)}</b>tenants</div></div>
<table><thead><tr><th>tenant</th><th>environments · history · availability · login latency · failing checks</th>
</tr></thead><tbody>
{"".join(rows)}
</tbody></table>
{f'<h2 style="font-size:15px">host</h2><ul>{host}</ul>' if host else ''}
<footer>Odooplane health report · statuses: ok, warning (a ticket), critical (a page), unknown (no probe
answered)</footer>
</body></html>
"""
