from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from odooplane.cli.output import console, errors, print_json


def register(app: typer.Typer) -> None:
    @app.command("history")
    def history(
        target: str = typer.Argument(None, help="tenant/env or tenant (default: every environment)."),
        limit: int = typer.Option(50, "--lines", "-n", help="How many events, newest first."),
        estate: Path = typer.Option(None, "--estate", "-f", help="Estate file (default: the last applied)."),
        as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
    ) -> None:
        """Releases installed, upgrades and rollbacks (with durations and downtime), promotion requests,
        approvals and gate decisions — newest first."""
        from odooplane.actions import releases as action

        with errors():
            found = action.history(estate, target, limit=limit)
        if as_json:
            print_json([{**e.__dict__, "ts": e.ts.isoformat()} for e in found])
            return
        table = Table()
        for column in ("#", "when (UTC)", "environment", "what", "release", "status", "by", "duration", "downtime",
                       "detail"):
            table.add_column(column, overflow="fold")
        for e in found:
            release = f"{e.from_release} → {e.release}" if e.from_release and e.release else (e.release or "")
            detail = e.detail.get("error") or e.detail.get("reason") or ", ".join(e.detail.get("updated", []))
            table.add_row(str(e.id), e.ts.strftime("%Y-%m-%d %H:%M:%S"), e.target, e.kind, release, e.status, e.actor,
                          f"{e.duration_s:.1f} s" if e.duration_s is not None else "",
                          f"{e.downtime_s:.1f} s" if e.downtime_s is not None else "", str(detail or ""))
        console.print(table)

    @app.command("promote")
    def promote(
        release: str = typer.Argument(..., help="A release id (under releases)."),
        to: str = typer.Option(..., "--to", help="tenant/env, or key=value,… over tenant, env, stage, tier, "
                                                 "business_unit, site, brand (e.g. 'tier=standard,env=prod')."),
        emergency: bool = typer.Option(False, "--emergency", help="Override the window and freeze gates (a role "
                                       "of the policy's emergency_roles; never the approvals)."),
        reason: str = typer.Option(None, "--reason", help="Why (required with --emergency; recorded)."),
        estate: Path = typer.Option(None, "--estate", "-f", help="Estate file (default: the last applied)."),
        as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
    ) -> None:
        """Promote a release: for each target, the gates of its change policy (previous stage, approvals with
        separation of duties, maintenance window, freezes) decide; where all pass the estate file is edited
        and the environment upgraded (rolled back by itself on failure). Blocked targets say which gate
        blocks and when the next window opens. Exit 1 if any target is blocked or rolled back. On a kubernetes
        estate the upgrade runs as Jobs in the cluster (snapshot, `-u all` in the new release's image, the new
        objects applied; rolled back the same way; docs/kubernetes.md)."""
        from odooplane.actions import releases as action
        from odooplane.errors import ExitCode, UsageError

        with errors():
            if emergency and not reason:
                raise UsageError("--emergency needs --reason TEXT (it is recorded)")
            done = action.promote(estate, release, to, emergency_reason=reason if emergency else None)
        if as_json:
            print_json({"release": done.release, "ok": done.ok, "targets": [
                {**{k: v for k, v in t.__dict__.items() if k != "upgrade"},
                 "upgrade": t.upgrade.__dict__ if t.upgrade else None} for t in done.targets]})
        else:
            for t in done.targets:
                if t.decision == "unchanged":
                    console.print(f"{t.target}: already on {done.release}")
                    continue
                colour = "green" if t.decision == "allowed" else "red"
                console.print(f"[{colour}]{t.decision}[/] {t.target}" + (f" (change #{t.change})" if t.change else ""))
                for gate in t.gates:
                    mark = "[green]✓[/]" if gate["passed"] else "[red]✗[/]"
                    console.print(f"  {mark} {gate['gate']}: {gate['reason']}", highlight=False)
                if t.decision == "blocked" and t.next_window:
                    console.print(f"  next opening: {t.next_window}")
                if t.upgrade is not None:
                    u = t.upgrade
                    console.print(f"  {u.status}: {len(u.updated)} module(s) updated, downtime {u.downtime_s:.1f} s"
                                  + (f"; {u.error}" if u.error else ""))
        if not done.ok:
            raise typer.Exit(ExitCode.FAILED)

    @app.command("approve")
    def approve(
        change: int = typer.Argument(..., help="The promotion request number (promote prints it)."),
        estate: Path = typer.Option(None, "--estate", "-f", help="Estate file (default: the last applied)."),
        as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
    ) -> None:
        """Approve a promotion request as yourself (ODOOPLANE_ACTOR, else your login). Refused for the requester
        when the policy separates duties, and for anyone without an approving role."""
        from odooplane.actions import releases as action

        with errors():
            event = action.approve(estate, change)
        if as_json:
            print_json({**event.__dict__, "ts": event.ts.isoformat()})
            return
        console.print(f"[green]approved[/] change #{change} ({event.release} → {event.target}) as {event.actor}")
