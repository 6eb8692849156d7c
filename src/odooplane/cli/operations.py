from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from odooplane.cli.output import console, errors, print_json, styled


def register(app: typer.Typer) -> None:
    @app.command("operations")
    def operations(
        operation_id: int = typer.Argument(None, help="Show the steps of this operation."),
        estate: Path = typer.Option(None, "--estate", "-f", help="Estate file (default: the last applied)."),
        limit: int = typer.Option(20, "--limit", "-n", help="How many operations."),
        as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
    ) -> None:
        """The operation journal: recent operations, or the steps of one."""
        from odooplane.actions import operations as action

        with errors():
            if operation_id is not None:
                op, steps = action.show(estate, operation_id)
                if as_json:
                    print_json({"operation": op.__dict__, "steps": [s.__dict__ for s in steps]})
                    return
                console.print(f"#{op.id} {op.kind} {op.target} {styled(op.status)} by {op.actor} "
                              f"started {op.started_at:%Y-%m-%d %H:%M:%S}" + (f": {op.error}" if op.error else ""))
                table = Table()
                for column in ("#", "step", "target", "status", "tries", "seconds", "error"):
                    table.add_column(column, overflow="fold")
                for s in steps:
                    table.add_row(str(s.seq), s.name, s.target, styled(s.status), str(s.attempts),
                                  f"{s.duration_s:.2f}" if s.duration_s is not None else "-", s.error or "")
                console.print(table)
                return
            ops = action.recent(estate, limit=limit)
        if as_json:
            print_json([o.__dict__ for o in ops])
            return
        table = Table()
        for column in ("#", "kind", "target", "status", "actor", "started", "error"):
            table.add_column(column, overflow="fold")
        for o in ops:
            table.add_row(str(o.id), o.kind, o.target, styled(o.status), o.actor, f"{o.started_at:%Y-%m-%d %H:%M:%S}",
                          o.error or "")
        console.print(table)
