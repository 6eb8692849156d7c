"""The ``odooplane`` command. Each verb lives in its own module and registers itself here."""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer

from odooplane import __version__, log
from odooplane.cli import (
    access,
    advise,
    agent,
    alerts,
    apply,
    audit,
    backup,
    clone,
    cost,
    credentials,
    down,
    drill,
    evidence,
    health,
    kubernetes,
    logs,
    move,
    odoo_zip,
    operations,
    pitr,
    plan,
    policy,
    psql,
    releases,
    render,
    report,
    restore,
    rollouts,
    schema,
    serve,
    size,
    sleeping,
    status,
    validate,
    verify,
    worker,
)

app = typer.Typer(
    name="odooplane",
    help=(
        "Run an estate of Odoo instances: declare it in estate.yaml, then validate, plan and apply it.\n\n"
        "Exit codes: 0 ok · 1 an operation failed · 2 invalid estate or usage · 3 not found · "
        "4 locked by another operation · 5 unhealthy (status) or a warning (health) · 6 critical (health) · "
        "7 refused by access control · 8 a guardrail violated (policy check, validate) · "
        "130 interrupted."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"odooplane {__version__}")
        raise typer.Exit(0)


@app.callback()
def main(
    log_level: str = typer.Option("warning", "--log-level", help="Diagnostics on stderr: debug, info, warning."),
    log_json: bool = typer.Option(False, "--log-json", help="Diagnostics as JSON lines."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    log.setup(level=log_level, json_output=log_json)


for module in (
    validate,
    plan,
    render,
    apply,
    status,
    health,
    alerts,
    report,
    logs,
    credentials,
    move,
    advise,
    size,
    backup,
    verify,
    restore,
    clone,
    releases,
    odoo_zip,
    psql,
    pitr,
    drill,
    evidence,
    policy,
    cost,
    rollouts,
    sleeping,
    down,
    schema,
    operations,
    worker,
    agent,
    access,
    audit,
    serve,
    kubernetes,
):
    module.register(app)


def run() -> None:
    # Everything Odooplane writes (state, secrets, dumps, filestores, logs) is for its owner only;
    # the supervised processes inherit the same mask (render/supervisor.py).
    os.umask(0o077)
    load_env_file()
    app()


ENV_FILE_VAR = "ODOOPLANE_ENV_FILE"


def load_env_file() -> None:
    """Set the variables of the JSON object in the file ``$ODOOPLANE_ENV_FILE`` names, unless they
    are set already: how a container of Odooplane (the compose worker) gets the secrets the estate's
    ``env:`` references name without them being in the container's environment (a 0600 secret file)."""
    name = os.environ.pop(ENV_FILE_VAR, "")
    if not name:
        return
    try:
        values = json.loads(Path(name).read_text())
    except (OSError, ValueError) as exc:
        raise SystemExit(f"{ENV_FILE_VAR}: {name} is not a readable JSON object of variables "
                         f"({type(exc).__name__})") from None
    if not isinstance(values, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in values.items()):
        raise SystemExit(f"{ENV_FILE_VAR}: {name} is not a JSON object of string variables")
    for key, value in values.items():
        os.environ.setdefault(key, value)
