"""How to run an Odoo stack: the command of a real source tree or of the simulator, the argv of
init/update/neutralize runs (pure), and HTTP health checks."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from odooplane.estate.models import Stack
from odooplane.services import http


@dataclass(frozen=True)
class Runtime:
    """A resolved stack: the base command and the addons path it serves."""

    base: tuple[str, ...]
    addons_path: tuple[str, ...]
    simulator: bool
    series_major: int

    @property
    def label(self) -> str:
        return "simulator" if self.simulator else "odoo"


def own_python() -> str:
    """This environment's interpreter under one stable name: a console script runs as ``python3``,
    ``python -m odooplane`` as ``python`` — the same program, but a different command line would
    look like a changed process definition and restart Odoo."""
    candidate = Path(sys.prefix) / "bin" / "python"
    return str(candidate) if candidate.exists() else sys.executable


def extra_addons(stack: Stack, *, estate_dir: Path) -> tuple[str, ...]:
    """The stack's own addons directories (absolute; relative ones are relative to the estate)."""
    return tuple(
        str(p if p.is_absolute() else (estate_dir / p).resolve())
        for p in (Path(a).expanduser() for a in stack.addons_paths)
    )


def runtime(stack: Stack, *, source: Path | None, estate_dir: Path) -> Runtime:
    """Return how to run ``stack``. Extra addons paths come first, like Odoo's own precedence."""
    extra = extra_addons(stack, estate_dir=estate_dir)
    if stack.image:  # run by a container driver: the image's own odoo, its addons inside the image
        return Runtime(("odoo",), extra, False, stack.major)
    if stack.simulator or source is None:
        return Runtime((own_python(), "-m", "odooplane.sim"), extra, True, stack.major)
    python = stack.python or own_python()
    own = [source / "odoo" / "addons"]
    if (source / "addons").is_dir():
        own.append(source / "addons")
    return Runtime((python, str(source / "odoo-bin")), extra + tuple(str(p) for p in own), False, stack.major)


def server_argv(rt: Runtime, conf: Path) -> list[str]:
    return [*rt.base, "-c", str(conf)]


def init_args(*, database: str, modules: list[str]) -> list[str]:
    """``-d DB -i base,mods --without-demo=all --stop-after-init --no-http`` (after ``-c CONF``)."""
    mods = ",".join(dict.fromkeys(["base", *modules]))
    return ["-d", database, "-i", mods, "--without-demo=all", "--stop-after-init", "--no-http"]


def update_args(*, database: str, modules: list[str]) -> list[str]:
    return ["-d", database, "-u", ",".join(modules), "--stop-after-init", "--no-http"]


def init_argv(rt: Runtime, conf: Path, *, database: str, modules: list[str]) -> list[str]:
    """``odoo-bin -c CONF -d DB -i base,mods --without-demo=all --stop-after-init``."""
    mods = ",".join(dict.fromkeys(["base", *modules]))
    # --no-http: a prefork server binds its port even with --stop-after-init, and a pool's port is
    # held by the running pool while a new tenant of it is initialised.
    return [*rt.base, "-c", str(conf), "-d", database, "-i", mods, "--without-demo=all", "--stop-after-init",
            "--no-http"]


def install_argv(rt: Runtime, conf: Path, *, database: str, modules: list[str]) -> list[str]:
    return init_argv(rt, conf, database=database, modules=modules)


def update_argv(rt: Runtime, conf: Path, *, database: str, modules: list[str]) -> list[str]:
    return [*rt.base, "-c", str(conf), "-d", database, "-u", ",".join(modules), "--stop-after-init", "--no-http"]


def neutralize_argv(rt: Runtime, conf: Path, *, database: str) -> list[str]:
    return [*rt.base, "neutralize", "-c", str(conf), "-d", database]


@dataclass(frozen=True)
class Probe:
    ok: bool
    status: int | None
    latency_ms: float | None
    error: str | None


def probe(url: str, *, host: str | None = None, timeout: float = 3.0, headers: dict[str, str] | None = None) -> Probe:
    """GET ``url`` (optionally with a Host header and other headers); ok when the answer is 200."""
    headers = {**({"Host": host} if host else {}), **(headers or {})}
    try:
        response = http.get(url, headers=headers, timeout=timeout)
    except http.HttpError as exc:
        return Probe(False, None, None, str(exc).split(":", 1)[0])
    return Probe(response.status == 200, response.status, response.elapsed_ms, None)
