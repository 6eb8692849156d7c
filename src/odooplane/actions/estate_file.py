"""Finding and loading the estate a command works on."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from odooplane.errors import UsageError
from odooplane.estate.validate import ValidEstate, validate

if TYPE_CHECKING:
    from odooplane.operations.context import Context

ESTATE_ENV = "ODOOPLANE_ESTATE"


def _last_file() -> Path:
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return base / "odooplane" / "last-estate"


def remember(path: Path) -> None:
    """Remember ``path`` as the estate later commands use when none is given."""
    try:
        target = _last_file()
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(str(path.resolve()) + "\n")
    except OSError:
        pass  # a convenience only


def locate(given: Path | None) -> Path:
    """Return the estate file: the one given, $ODOOPLANE_ESTATE, ./estate.yaml, or the last applied.

    Raise UsageError saying where we looked.
    """
    if given is not None:
        return given
    from_env = os.environ.get(ESTATE_ENV)
    if from_env:
        return Path(from_env)
    local = Path("estate.yaml")
    if local.exists():
        return local
    try:
        last = Path(_last_file().read_text().strip())
        if last.exists():
            return last
    except OSError:
        pass
    raise UsageError(f"no estate file: pass one (-f FILE), set {ESTATE_ENV}, or run in a directory with estate.yaml")


def load(given: Path | None) -> ValidEstate:
    return validate(locate(given))


def context(given: Path | None) -> Context:
    from odooplane.operations.context import open_context  # heavy: only for commands that need it

    return open_context(load(given))
