from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from odooplane.cli.output import errors


def register(app: typer.Typer) -> None:
    @app.command("psql", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
    def psql(
        context: typer.Context,
        target: str = typer.Argument(..., help="tenant/env, or cluster:NAME (with --admin)."),
        admin: bool = typer.Option(False, "--admin", help="As the cluster's administrator (superuser) instead of "
                                   "the environment's own role. Audited."),
        estate: Path = typer.Option(None, "--estate", "-f", help="Estate file (default: $ODOOPLANE_ESTATE, "
                                    "./estate.yaml, or the last applied)."),
    ) -> None:
        """Open psql in an environment's database as the role Odoo uses for it (or, with --admin, the cluster's
        superuser); psql's own options follow `--`, e.g. `odooplane psql acme/prod -- -c 'select 1'`. Every use
        is recorded in the audit log. Once psql runs, its exit status is the command's."""
        from odooplane.actions import psql as action

        with errors():
            session = action.prepare(estate, target, admin=admin, extra=list(context.args))
        print(f"psql: {session.database} as {session.role} on cluster {session.cluster} of estate "
              f"{session.estate!r}", file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        os.execvpe(session.argv[0], session.argv, {**os.environ, **session.env})  # noqa: S606 - argv, no shell
