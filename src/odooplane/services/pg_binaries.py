"""Find PostgreSQL server binaries: an explicit directory, PATH, ``pg_config --bindir``,
``/usr/lib/postgresql/<newest>/bin``, then the ``pgserver`` wheel."""

from __future__ import annotations

import glob
import importlib.util
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from odooplane.errors import PermanentError

REQUIRED = ("initdb", "postgres", "pg_ctl")


@dataclass(frozen=True)
class PgBinaries:
    bin_dir: Path
    origin: str

    def tool(self, name: str) -> str:
        return str(self.bin_dir / name)

    def version(self) -> int:
        out = subprocess.run([self.tool("postgres"), "--version"], capture_output=True, text=True, check=False)
        for token in out.stdout.split():
            head = token.split(".")[0]
            if head.isdigit():
                return int(head)
        return 0


def _complete(directory: Path) -> bool:
    return all((directory / name).is_file() for name in REQUIRED)


def candidates(explicit: str | None = None) -> list[tuple[Path, str]]:
    out: list[tuple[Path, str]] = []
    if explicit:
        out.append((Path(explicit), "bin_dir"))
    on_path = shutil.which("initdb")
    if on_path:
        out.append((Path(on_path).resolve().parent, "PATH"))
    pg_config = shutil.which("pg_config")
    if pg_config:
        res = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        if res.returncode == 0 and res.stdout.strip():
            out.append((Path(res.stdout.strip()), "pg_config --bindir"))
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0,
        reverse=True,
    )
    out += [(Path(p), "/usr/lib/postgresql") for p in versions]
    # Locate the pgserver wheel without importing it (its import has side effects).
    spec = importlib.util.find_spec("pgserver")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            out.append((Path(location) / "pginstall" / "bin", "pgserver wheel"))
    return out


def find(explicit: str | None = None) -> PgBinaries:
    """Return the first complete set of server binaries. Raise PermanentError listing where we looked."""
    looked: list[str] = []
    for directory, origin in candidates(explicit):
        if _complete(directory):
            return PgBinaries(directory, origin)
        looked.append(str(directory))
        if origin == "bin_dir":
            raise PermanentError(f"bin_dir {directory} lacks one of {', '.join(REQUIRED)}")
    raise PermanentError(
        "no PostgreSQL server binaries found (looked in: "
        + (", ".join(looked) or "PATH, pg_config, /usr/lib/postgresql")
        + "); install postgresql or `pip install pgserver`"
    )


def client_tool(name: str, preferred: PgBinaries | None = None) -> str:
    """Return a client tool (pg_dump, psql, …), preferring the cluster's own binaries."""
    if preferred and (preferred.bin_dir / name).is_file():
        return preferred.tool(name)
    for directory, _origin in candidates():
        if (directory / name).is_file():
            return str(directory / name)
    found = shutil.which(name)
    if found:
        return found
    raise PermanentError(f"{name} not found (install postgresql-client or `pip install pgserver`)")
