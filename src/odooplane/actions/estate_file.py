"""Finding and loading the estate a command works on.

Commands that only read may fall back on the estate last applied (remembered per OS user, so
shared by every estate that user runs). Commands that drop or replace data never do: a pointer
left by another estate must not decide what gets dropped, so they need the estate named (an
argument, ``-f``, ``$ODOOPLANE_ESTATE`` or ``./estate.yaml``) and say which one they act on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from odooplane.errors import KubernetesEstate, UsageError
from odooplane.estate.validate import ValidEstate, validate

if TYPE_CHECKING:
    from odooplane.operations.context import Context

ESTATE_ENV = "ODOOPLANE_ESTATE"


def _last_file() -> Path:
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return base / "odooplane" / "last-estate"


def remember(path: Path) -> None:
    """Remember ``path`` as the estate later read commands use when none is given."""
    try:
        target = _last_file()
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(str(path.resolve()) + "\n")
    except OSError:
        pass  # a convenience only


def _remembered() -> Path | None:
    try:
        last = Path(_last_file().read_text().strip())
    except OSError:
        return None
    return last if last.exists() else None


def locate(given: Path | None, *, destructive: str | None = None) -> Path:
    """Return the estate file: the one given, $ODOOPLANE_ESTATE, ./estate.yaml, or the last applied.

    ``destructive`` names the command when it drops or replaces data: it never gets the last
    applied estate. Raise UsageError saying where we looked.
    """
    if given is not None:
        return given
    from_env = os.environ.get(ESTATE_ENV)
    if from_env:
        return Path(from_env)
    local = Path("estate.yaml")
    if local.exists():
        return local
    ways = f"pass one (-f FILE), set {ESTATE_ENV}, or run in a directory with estate.yaml"
    last = _remembered()
    if destructive is not None:
        remembered = f" (the estate last applied, {last}, is used only by commands that read)" if last else ""
        raise UsageError(f"`{destructive}` drops or replaces data, so it needs the estate named: {ways}{remembered}")
    if last is not None:
        return last
    raise UsageError(f"no estate file: {ways}")


def load(given: Path | None, *, destructive: str | None = None) -> ValidEstate:
    return validate(locate(given, destructive=destructive))


def context(given: Path | None, *, destructive: str | None = None, kubernetes: bool = True) -> Context:
    """The estate's context; with ``kubernetes=False``, KubernetesEstate (nothing opened) when it runs
    on Kubernetes, where the verb is answered by API calls instead (the CLI hands it over)."""
    from odooplane.operations.context import open_context  # heavy: only for commands that need it

    valid = load(given, destructive=destructive)
    if not kubernetes and valid.estate.platform.driver == "kubernetes":
        raise KubernetesEstate(valid.path)
    return open_context(valid)


@dataclass(frozen=True)
class NamedEstate:
    """The estate a destructive command acts on, as it is named to the user before it acts."""

    path: Path  # absolute
    name: str  # platform.name

    def __str__(self) -> str:
        return f"estate {self.name!r} ({self.path})"


def named(given: Path | None, *, destructive: str) -> NamedEstate:
    """Locate and validate the estate ``destructive`` (a command that drops or replaces data) acts on.

    Raise UsageError if none is named (never the last applied), EstateInvalid if it is invalid.
    """
    valid = load(given, destructive=destructive)
    return NamedEstate(path=valid.path.resolve(), name=valid.estate.platform.name)
