from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("agent")
    def agent(
        root: Path = typer.Option(..., "--root", help="The directory the storages (data_dirs) live under."),
        layout: str = typer.Option("flat", "--layout", help="flat: ROOT/<storage> (a container's volumes); local: "
                                                            "the local driver's runtime directory."),
        task: str = typer.Argument(None, help="The task as JSON (default: read from stdin; a load's task must be "
                                              "here, its tar comes on stdin)."),
    ) -> None:
        """Do one filestore task where the filestores live (what drivers run as the data-plane agent):
        exists, copy, move, remove, check, size, ensure-storage, remove-storage, export (a tar on stdout),
        load (a tar on stdin). Prints one JSON line (for export: the last line of stderr).

        Exit codes: 0 done · 1 failed · 2 invalid task · 3 refused (a symlink, an escaping tar member,
        a move onto a filestore) · 4 not found."""
        import sys

        from odooplane.agent import cli

        code = cli.answer(task, root=root, layout=layout, stdin=sys.stdin.buffer, stdout=sys.stdout.buffer)
        raise typer.Exit(code)
