from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import typer
from rich.table import Table
from rich.text import Text

from odooplane.cli.output import console, errors, print_json

rollout_app = typer.Typer(help="Multi-site rollouts in waves: assessment → foundation → pilot → regional rollout → "
                               "steady state, each phase left only when its checklist holds (docs/rollouts.md).",
                          no_args_is_help=True)
ESTATE = typer.Option(None, "--estate", "-f", help="Estate file (default: the last applied).")
JSON = typer.Option(False, "--json", help="Print as JSON.")


def register(app: typer.Typer) -> None:
    app.add_typer(rollout_app, name="rollout")


def _json(s: Any) -> dict[str, Any]:
    return {**asdict(s), "go": s.go}


def _show(statuses: list[Any]) -> None:
    for s in statuses:
        since = f" since {s.since:%Y-%m-%d %H:%M} UTC" if s.since else ""
        verdict = "[green]go[/]" if s.go else ("—" if not s.items else "[red]no-go[/]")
        console.print(f"[bold]{s.rollout}/{s.wave}[/]: {s.phase}{since} · {len(s.tenants)} tenant(s), "
                      f"{len(s.productions)} production(s) · {verdict}")
        if s.items:
            table = Table(show_header=True)
            for column in ("item", "kind", "holds", "asks", "found"):
                table.add_column(column, overflow="fold")
            for i in s.items:
                table.add_row(Text(i.name), i.kind, "[green]yes[/]" if i.ok else "[red]no[/]", Text(i.asks),
                              Text(i.evidence))
            console.print(table)
        for why in s.rollback_advised:
            console.print(Text(f"rollback advised: {why} (odooplane rollout back … --reason)", style="red"))


@rollout_app.command("status")
def status(
    name: str = typer.Argument(None, help="A rollout (default: every one)."),
    wave: str = typer.Option(None, "--wave", "-w", help="Only this wave."),
    estate: Path = ESTATE,
    as_json: bool = JSON,
) -> None:
    """Each wave's phase and the checklist to leave it: every item verified now (facts) or signed off."""
    from odooplane.actions import rollouts as action

    with errors():
        statuses = action.status(estate, name, wave)
    if as_json:
        print_json([_json(s) for s in statuses])
        return
    _show(statuses)


@rollout_app.command("advance")
def advance(
    name: str = typer.Argument(..., help="The rollout."),
    wave: str = typer.Argument(..., help="The wave."),
    estate: Path = ESTATE,
    as_json: bool = JSON,
) -> None:
    """Go/no-go: move the wave to its next phase if every item of its checklist holds; exit 1 (no-go) otherwise,
    naming what does not."""
    from odooplane.actions import rollouts as action

    with errors():
        done = action.advance(estate, name, wave)
    if as_json:
        print_json(_json(done))
        return
    console.print(f"go: {name}/{wave} is now in {done.phase}", markup=False)
    _show([done])


@rollout_app.command("back")
def back(
    name: str = typer.Argument(..., help="The rollout."),
    wave: str = typer.Argument(..., help="The wave."),
    reason: str = typer.Option(..., "--reason", help="Why (recorded): a rollback criterion met, a decision."),
    estate: Path = ESTATE,
    as_json: bool = JSON,
) -> None:
    """Roll the wave back to its previous phase."""
    from odooplane.actions import rollouts as action

    with errors():
        done = action.back(estate, name, wave, reason=reason)
    if as_json:
        print_json(_json(done))
        return
    console.print(f"{name}/{wave} is back in {done.phase}", markup=False)


@rollout_app.command("sign")
def sign(
    name: str = typer.Argument(..., help="The rollout."),
    wave: str = typer.Argument(..., help="The wave."),
    item: str = typer.Argument(..., help="The sign-off item of its current phase (inventory, pilot-acceptance, "
                               "go-live)."),
    estate: Path = ESTATE,
    as_json: bool = JSON,
) -> None:
    """Sign off an item of the wave's current phase, as the acting person (a role the rollout names for it)."""
    from odooplane.actions import rollouts as action

    with errors():
        done = action.sign(estate, name, wave, item)
    if as_json:
        print_json(_json(done))
        return
    console.print(f"{item} signed for {name}/{wave} ({done.phase})", markup=False)


@rollout_app.command("rehearse")
def rehearse(
    name: str = typer.Argument(..., help="The rollout."),
    wave: str = typer.Argument(..., help="The wave."),
    estate: Path = ESTATE,
    as_json: bool = JSON,
) -> None:
    """Rehearse the wave's cutover: each production cloned into its tenant's rehearsal environment (neutralized,
    proven) and timed; the evidence the pilot's cutover-rehearsed item reads. Exit 1 if one failed."""
    from odooplane.actions import rollouts as action

    with errors():
        done = action.rehearse(estate, name, wave)
    if as_json:
        print_json([asdict(r) for r in done])
    else:
        for r in done:
            console.print(f"{r.source} → {r.target}: " + (f"rehearsed in {r.seconds:.1f} s" if r.ok
                                                          else f"failed after {r.seconds:.1f} s: {r.error}"),
                          markup=False)
    if not all(r.ok for r in done):
        raise typer.Exit(1)
