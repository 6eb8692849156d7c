"""CLI output: answers on stdout (human tables or JSON), diagnostics on stderr, and the one
place that turns errors into exit codes."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console

from odooplane import log
from odooplane.errors import EstateInvalid, ExitCode, OdooplaneError

# Not a terminal (pipes, CI logs): wide lines rather than wrapped tables.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 220)
err = Console(stderr=True, highlight=False, soft_wrap=True)
T = TypeVar("T")


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def fail(exc: BaseException) -> NoReturn:
    """Print a one-line error (every problem for an invalid estate) and exit with its code."""
    if isinstance(exc, EstateInvalid):
        err.print(f"[bold red]error:[/] the estate is invalid ({len(exc.problems)} problem(s)):")
        for problem in exc.problems:
            err.print(f"  {log.mask(str(problem))}", markup=False)
        raise typer.Exit(exc.exit_code)
    if isinstance(exc, OdooplaneError):
        err.print("[bold red]error:[/] ", end="")
        err.print(log.mask(exc.message), markup=False)
        if exc.hint:
            err.print(f"  hint: {exc.hint}", markup=False)
        raise typer.Exit(exc.exit_code)
    if isinstance(exc, KeyboardInterrupt):
        err.print("interrupted")
        raise typer.Exit(ExitCode.INTERRUPTED)
    raise exc


@contextmanager
def errors(*, handled: tuple[type[Exception], ...] = ()) -> Iterator[None]:
    """Run the block, translating Odooplane errors into messages and exit codes (except those of
    ``handled``, which the caller catches)."""
    try:
        yield
    except handled:
        raise
    except (OdooplaneError, KeyboardInterrupt) as exc:
        fail(exc)


def guarded(fn: Callable[[], T]) -> T:
    with errors():
        return fn()
    raise AssertionError("unreachable")  # pragma: no cover


STATUS_STYLE = {
    "ok": "green", "running": "green", "served": "green", "reachable": "green", "succeeded": "green",
    "failing": "red", "fatal": "red", "failed": "red", "missing": "yellow", "stopped": "yellow",
    "not provisioned": "dim", "unknown": "dim", "backoff": "red", "not served": "yellow", "starting": "yellow",
    "interrupted": "yellow",
}


def styled(value: str) -> str:
    style = STATUS_STYLE.get(value.lower())
    return f"[{style}]{value}[/]" if style else value
