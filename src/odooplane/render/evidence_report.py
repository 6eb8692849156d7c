"""The evidence report for auditors: one tenant over a period — backups and restore proofs against
its objectives, drills with their measured RPO and RTO, changes with their approvals and gate
decisions, access (who holds which role, token use, secrets revealed), guardrails and waivers, and
the audit chain's verification with its head hash. One self-contained HTML file (inline CSS, no
script, no request), and the same page as a PDF (WeasyPrint, the system's fonts)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

import jinja2

from odooplane.errors import PermanentError


@dataclass(frozen=True)
class EnvBackups:
    target: str
    stage: str
    policy: str  # "" when not backed up
    rpo: str  # the objective as declared, "" when none
    backups: int  # confirmed in the period
    failed_backups: int
    newest_backup: dt.datetime | None
    widest_gap_h: float | None  # the longest time without a confirmed backup within the period
    rpo_met: bool | None  # None: no objective
    proofs: int  # successful restore verifications in the period
    failed_proofs: int
    newest_proof: dt.datetime | None
    proof_rto_s: float | None  # of the newest successful proof


@dataclass(frozen=True)
class Drill:
    ts: dt.datetime
    target: str
    ok: bool
    rpo_s: float | None
    rto_s: float | None
    objectives: str
    missed: list[str]


@dataclass(frozen=True)
class Change:
    ts: dt.datetime
    target: str
    kind: str  # request, approval, gate, promotion, attempt, …
    release: str
    status: str
    actor: str
    detail: str


@dataclass(frozen=True)
class Holder:
    name: str
    kind: str  # user | token
    role: str
    scope: str
    state: str  # active, revoked, expired
    last_used: dt.datetime | None


@dataclass(frozen=True)
class AccessEvent:
    ts: dt.datetime
    actor: str
    action: str
    target: str
    outcome: str


@dataclass(frozen=True)
class PolicyRow:
    rule: str
    severity: str
    target: str
    status: str
    message: str
    waiver: int | None


@dataclass(frozen=True)
class WaiverRow:
    id: int
    rule: str
    target: str
    state: str
    requested_by: str
    approved_by: str
    expires_at: dt.datetime
    reason: str


@dataclass
class EvidenceReport:
    estate: str
    tenant: str
    labels: dict[str, str]
    start: dt.datetime
    end: dt.datetime
    generated_at: dt.datetime
    generated_by: str
    backups: list[EnvBackups] = field(default_factory=list)
    drills: list[Drill] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    holders: list[Holder] = field(default_factory=list)
    access: list[AccessEvent] = field(default_factory=list)
    policy: list[PolicyRow] = field(default_factory=list)
    waivers: list[WaiverRow] = field(default_factory=list)
    chain_intact: bool = False
    chain_entries: int = 0
    chain_head: str | None = None
    chain_bad: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


def _when(value: dt.datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC" if value else "never"


def _env() -> jinja2.Environment:
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters["when"] = _when
    env.filters["day"] = lambda value: f"{value:%Y-%m-%d}"
    return env


CSS = """
@page { size: A4; margin: 16mm 14mm 18mm 14mm;
  @bottom-left { content: "Odooplane evidence report — {{ r.tenant }}"; font: 8pt "DejaVu Sans", sans-serif;
    color: #555; }
  @bottom-right { content: "page " counter(page) " of " counter(pages); font: 8pt "DejaVu Sans", sans-serif;
    color: #555; } }
body { font-family: "DejaVu Sans", sans-serif; font-size: 9pt; color: #1b1f24; line-height: 1.35; }
h1 { font-size: 18pt; margin: 0 0 4mm 0; }
h2 { font-size: 12.5pt; margin: 7mm 0 2mm 0; border-bottom: 1px solid #c9ced6; padding-bottom: 1mm; }
section.break { break-before: page; }
table { border-collapse: collapse; width: 100%; margin: 1mm 0 3mm 0; }
th, td { border: 1px solid #c9ced6; padding: 1.2mm 1.6mm; text-align: left; vertical-align: top; }
th { background: #eef1f5; }
.ok { color: #1d6b3d; font-weight: bold; } .bad { color: #a12a2a; font-weight: bold; } .na { color: #555; }
.mono { font-family: "DejaVu Sans Mono", monospace; word-break: break-all; }
.cover td { border: none; padding: 0.8mm 2mm 0.8mm 0; }
p.note { color: #444; }
"""



def html(report: EvidenceReport) -> str:
    """The report as one self-contained HTML page."""
    env = _env()
    css = env.from_string(CSS).render(r=report)
    template = (files("odooplane.render") / "templates" / "evidence_report.html").read_text(encoding="utf-8")
    return env.from_string(template).render(r=report, css=css)


def write(report: EvidenceReport, out: Path) -> int:
    """Write the report to ``out`` (.html, or .pdf through WeasyPrint); return its pages (1 for HTML)."""
    page = html(report)
    if out.suffix.lower() == ".html":
        out.write_text(page, encoding="utf-8")
        return 1
    try:
        import weasyprint  # type: ignore[import-untyped]
    except OSError as exc:  # its system libraries (Pango) are missing
        raise PermanentError(f"a PDF needs Pango on this host ({exc}): apt-get install libpango-1.0-0 "
                             "libpangoft2-1.0-0 fonts-dejavu-core, or write --out FILE.html") from None
    document = weasyprint.HTML(string=page).render()
    document.write_pdf(out)
    return len(document.pages)
