from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import typer
from rich.table import Table
from rich.text import Text

from odooplane.cli.output import console, errors, print_json
from odooplane.errors import ExitCode

policy_app = typer.Typer(
    help="Guardrails as code (CEL rules over the estate and what was observed of it) and their waivers "
         "(docs/governance.md).",
    no_args_is_help=True,
)

SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "dim"}
STATUS_STYLE = {"pass": "green", "fail": "red", "error": "red", "unknown": "dim", "waived": "cyan",
                "not-checked": "dim", "requested": "yellow", "active": "green", "expired": "dim", "revoked": "dim"}


def register(app: typer.Typer) -> None:
    app.add_typer(policy_app, name="policy")


def _style(value: str, styles: dict[str, str]) -> str:
    style = styles.get(value)
    return f"[{style}]{value}[/]" if style else value


def finding_json(f: Any) -> dict[str, Any]:
    return {"rule": f.rule, "severity": f.severity, "target": f.target, "status": f.status, "message": f.message,
            "fix": f.fix, "waiver": f.waiver}


@policy_app.command("check")
def check(
    targets: list[str] = typer.Argument(None, help="tenant/env or tenant (default: every environment)."),
    desired: bool = typer.Option(False, "--desired", help="Only what the estate file declares (as validate): "
                                 "rules that read observations are not checked."),
    fail_on: str = typer.Option(None, "--fail-on", help="Exit 8 on an unwaived violation of this severity or "
                                "worse (default: guardrails.block_at)."),
    show_all: bool = typer.Option(False, "--all", help="List passing findings too."),
    estate: Path = typer.Option(None, "--estate", "-f", help="Estate file (default: the last applied)."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Check every guardrail against the estate and what the state store observed (evidence, the worker's
    last sweep), waivers applied. Exit 0: nothing blocking; 8: an unwaived violation at or above
    --fail-on (default guardrails.block_at)."""
    from odooplane.actions import policy as action
    from odooplane.errors import UsageError
    from odooplane.estate import guardrails

    with errors():
        if fail_on is not None and fail_on not in guardrails.SEVERITIES:
            raise UsageError(f"--fail-on {fail_on!r}: one of {', '.join(guardrails.SEVERITIES)}")
        result = action.check(estate, targets=targets or None, observed=not desired)
    floor = fail_on or result.block_at
    blocking = [f for f in result.violations if guardrails.at_or_above(f.severity, floor)]
    if as_json:
        counts: dict[str, int] = {}
        for f in result.findings:
            counts[f.status] = counts.get(f.status, 0) + 1
        print_json({"checked_at": result.at, "observed": result.observed, "block_at": floor, "counts": counts,
                    "blocking": len(blocking), "findings": [finding_json(f) for f in result.findings]})
    else:
        shown = [f for f in result.findings if show_all or f.status not in ("pass", "not-checked")]
        order = {s: i for i, s in enumerate(guardrails.SEVERITIES)}
        shown.sort(key=lambda f: (f.status in ("pass", "not-checked", "unknown"), order[f.severity], f.rule, f.target))
        if shown:
            table = Table()
            for column in ("severity", "rule", "target", "status", "what it asks / how to fix"):
                table.add_column(column, overflow="fold")
            for f in shown:
                text = f.message + (f"\n→ {f.fix}" if f.fix and f.violated else "")
                if f.waiver is not None:
                    text += f"\n(waiver #{f.waiver})"
                table.add_row(_style(f.severity, SEVERITY_STYLE), Text(f.rule), Text(f.target),
                              _style(f.status, STATUS_STYLE), Text(text))
            console.print(table)
        passed = sum(1 for f in result.findings if f.status == "pass")
        console.print(f"{len(result.rules)} rule(s), {len(result.findings)} finding(s): {passed} pass, "
                      f"{len(result.violations)} violated ({len(blocking)} at or above {floor}), "
                      f"{sum(1 for f in result.findings if f.status == 'waived')} waived, "
                      f"{sum(1 for f in result.findings if f.status == 'unknown')} unknown"
                      + ("" if result.observed else "; desired state only"))
    if blocking:
        raise typer.Exit(ExitCode.GUARDRAIL)


@policy_app.command("rules")
def rules(
    estate: Path = typer.Option(None, "--estate", "-f", help="Estate file (default: the last applied)."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """The rules the estate checks: the shipped baseline (less guardrails.exclude) and its own."""
    from odooplane.actions import policy as action

    with errors():
        result = action.check(estate, observed=False)
    if as_json:
        print_json({"block_at": result.block_at, "rules": [r.__dict__ for r in result.rules]})
        return
    table = Table()
    for column in ("rule", "severity", "from", "reads", "when", "require", "explain"):
        table.add_column(column, overflow="fold")
    for r in result.rules:
        table.add_row(Text(r.id), _style(r.severity, SEVERITY_STYLE), "baseline" if r.baseline else "estate",
                      "observed" if r.observed else "desired", Text(r.when), Text(r.require), Text(r.explain))
    console.print(table)
    console.print(f"violations at or above {result.block_at} block validate, apply and promote")


def waiver_json(w: Any, at: dt.datetime) -> dict[str, Any]:
    return {**w.__dict__, "state": w.state(at)}


@policy_app.command("waive")
def waive(
    rule: str = typer.Argument(..., help="Rule id (odooplane policy rules)."),
    target: str = typer.Argument(..., help="tenant/env, tenant/* or *."),
    reason: str = typer.Option(..., "--reason", "-r", help="Why (kept in the waiver and the audit log)."),
    days: int = typer.Option(30, "--days", help="How long it lasts (at most guardrails.waivers.max_days)."),
    estate: Path = typer.Option(None, "--estate", "-f", help="Estate file (default: the last applied)."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Ask for a waiver: in force once someone else approves it (policy approve ID)."""
    from odooplane.actions import policy as action

    with errors():
        w = action.waive(estate, rule, target, reason=reason, days=days)
    if as_json:
        print_json(waiver_json(w, w.requested_at))
        return
    console.print(f"waiver #{w.id} of {w.rule} on {w.target} requested until {w.expires_at:%Y-%m-%d %H:%M} UTC: "
                  "in force once someone else approves it (odooplane policy approve "
                  f"{w.id})", markup=False)


@policy_app.command("approve")
def approve(
    waiver_id: int = typer.Argument(..., help="Waiver number."),
    estate: Path = typer.Option(None, "--estate", "-f", help="Estate file (default: the last applied)."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Approve a waiver someone else asked for."""
    from odooplane.actions import policy as action

    with errors():
        w = action.approve(estate, waiver_id)
    if as_json:
        print_json(waiver_json(w, w.approved_at or w.requested_at))
        return
    console.print(f"waiver #{w.id} of {w.rule} on {w.target} is in force until {w.expires_at:%Y-%m-%d %H:%M} UTC",
                  markup=False)


@policy_app.command("revoke")
def revoke(
    waiver_id: int = typer.Argument(..., help="Waiver number."),
    estate: Path = typer.Option(None, "--estate", "-f", help="Estate file (default: the last applied)."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """End a waiver now."""
    from odooplane.actions import policy as action

    with errors():
        w = action.revoke(estate, waiver_id)
    if as_json:
        print_json(waiver_json(w, w.revoked_at or w.requested_at))
        return
    console.print(f"waiver #{w.id} of {w.rule} on {w.target} revoked", markup=False)


@policy_app.command("waivers")
def listing(
    estate: Path = typer.Option(None, "--estate", "-f", help="Estate file (default: the last applied)."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Every waiver asked for, newest first, with its state (requested, active, expired, revoked)."""
    from odooplane.actions import policy as action

    with errors():
        at, items = action.listing(estate)
    if as_json:
        print_json([waiver_json(w, at) for w in items])
        return
    table = Table()
    for column in ("#", "rule", "target", "state", "asked by", "approved by", "expires (UTC)", "reason"):
        table.add_column(column, overflow="fold")
    for w in items:
        table.add_row(str(w.id), Text(w.rule), Text(w.target), _style(w.state(at), STATUS_STYLE),
                      Text(w.requested_by), Text(w.approved_by or ""), f"{w.expires_at:%Y-%m-%d %H:%M}", Text(w.reason))
    console.print(table)
