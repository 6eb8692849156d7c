"""Local container images for tests that need a Docker Engine, made without any image registry.

- The base image is a Debian root filesystem made by ``debootstrap --variant=minbase`` (Python 3.11,
  ``python3-venv``) from the mirror APT already uses, packed as a tarball and ``docker import``-ed.
  The tarball is cached outside the repository (``$XDG_CACHE_HOME/odooplane/base-images`` or
  ``~/.cache/odooplane/base-images``), keyed by everything that shapes it, so later sessions only
  import it (seconds) instead of bootstrapping (about a minute).
- Images built FROM it (``docker build --network none``) install only what their build context
  carries: a wheelhouse made on the host with ``pip wheel`` / ``pip download``.
  ``odooplane-test/odooplane`` holds this project (its simulator is the entry point);
  ``odooplane-test/postgres`` runs PostgreSQL from the ``pgserver`` wheel's binaries.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests.support.docker_engine import DockerEngine, EngineError

SUITE = "bookworm"
VARIANT = "minbase"
PACKAGES = ("python3", "python3-venv", "ca-certificates")
# Left out of the image: package downloads and lists (the container has no network anyway), docs.
TRIM = ("./var/cache/apt/archives/*.deb", "./var/lib/apt/lists/*", "./usr/share/doc/*", "./usr/share/man/*")
BASE_REPOSITORY = "odooplane-test/bookworm-python"
ODOOPLANE_REPOSITORY = "odooplane-test/odooplane"
POSTGRES_REPOSITORY = "odooplane-test/postgres"
ODOO_UID = 101
POSTGRES_UID = 999
DOCKERFILES = Path(__file__).parent / "dockerfiles"
PROJECT = Path(__file__).resolve().parents[2]
APT_SOURCES = Path("/etc/apt")
DEBOOTSTRAP_TIMEOUT = 900


class ImageError(RuntimeError):
    """A base image or a test image could not be made; the message says why."""


def cache_dir() -> Path:
    """Where base-image tarballs are kept between sessions (never inside the repository)."""
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "odooplane" / "base-images"


def _sources_entries(text: str, *, deb822: bool) -> Iterator[tuple[list[str], list[str], list[str]]]:
    """(URIs, suites, components) of each ``deb`` entry of a sources file."""
    if deb822:
        for stanza in text.split("\n\n"):
            fields: dict[str, str] = {}
            for line in stanza.splitlines():
                if ":" in line and not line.startswith(("#", " ")):
                    key, _, value = line.partition(":")
                    fields[key.strip().lower()] = value.strip()
            if "deb" in fields.get("types", "").split() and fields.get("enabled", "yes").lower() != "no":
                yield fields.get("uris", "").split(), fields.get("suites", "").split(), \
                    fields.get("components", "").split()
        return
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if not words or words[0] != "deb":
            continue
        words = words[1:]
        if words and words[0].startswith("["):  # [arch=amd64 signed-by=...]
            while words and not words[0].endswith("]"):
                words = words[1:]
            words = words[1:]
        if len(words) >= 2:
            yield [words[0]], [words[1]], words[2:]


def debian_mirror(suite: str = SUITE) -> str:
    """The Debian mirror APT uses for ``suite`` (``ODOOPLANE_DEBIAN_MIRROR`` overrides it)."""
    override = os.environ.get("ODOOPLANE_DEBIAN_MIRROR")
    if override:
        return override
    files = [APT_SOURCES / "sources.list", *sorted((APT_SOURCES / "sources.list.d").glob("*.list")),
             *sorted((APT_SOURCES / "sources.list.d").glob("*.sources"))]
    for path in files:
        try:
            text = path.read_text()
        except OSError:
            continue
        for uris, suites, components in _sources_entries(text, deb822=path.suffix == ".sources"):
            if suite in suites and "main" in components and uris:
                return uris[0]
    raise ImageError(f"no APT source serves Debian {suite} main ({', '.join(map(str, files))}); "
                     "set ODOOPLANE_DEBIAN_MIRROR to a Debian mirror URI")


def _tool_version(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return ""


def base_key(*, suite: str = SUITE, packages: tuple[str, ...] = PACKAGES, mirror: str | None = None) -> str:
    """A digest of every input of the base root filesystem: when one changes, the cache misses."""
    inputs = {"suite": suite, "variant": VARIANT, "packages": sorted(packages), "trim": list(TRIM),
              "mirror": mirror if mirror is not None else debian_mirror(suite),
              "debootstrap": _tool_version(["debootstrap", "--version"]),
              "arch": _tool_version(["dpkg", "--print-architecture"])}
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:16]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock across processes (two sessions never debootstrap the same key at once)."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def base_rootfs(*, suite: str = SUITE, packages: tuple[str, ...] = PACKAGES) -> Path:
    """The cached root-filesystem tarball of the base image, made by debootstrap on a cache miss."""
    mirror = debian_mirror(suite)
    key = base_key(suite=suite, packages=packages, mirror=mirror)
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    tarball = cache / f"{suite}-{key}.tar"
    with _locked(cache / f"{suite}-{key}.lock"):
        if tarball.is_file():
            return tarball
        debootstrap = shutil.which("debootstrap")
        if debootstrap is None:
            raise ImageError("debootstrap is not installed (Debian package debootstrap): "
                             "it makes the base image no registry can provide here")
        work = Path(tempfile.mkdtemp(prefix=f"{suite}-{key}.", dir=cache))
        try:
            log = work / "debootstrap.log"
            with log.open("wb") as out:
                done = subprocess.run([debootstrap, f"--variant={VARIANT}", f"--include={','.join(packages)}",
                                       suite, str(work / "rootfs"), mirror], stdout=out, stderr=subprocess.STDOUT,
                                      timeout=DEBOOTSTRAP_TIMEOUT, check=False)
            if done.returncode != 0:
                tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
                raise ImageError(f"debootstrap {suite} from {mirror} exited {done.returncode}:\n{tail}")
            packed = work / "rootfs.tar"
            subprocess.run(["tar", "--numeric-owner", *(f"--exclude={p}" for p in TRIM), "-C", str(work / "rootfs"),
                            "-cf", str(packed), "."], check=True, capture_output=True)
            packed.rename(tarball)  # same directory: atomic, never a half-written cache entry
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return tarball


def image_exists(engine: DockerEngine, ref: str) -> bool:
    return engine.docker("image", "inspect", ref, check=False).returncode == 0


def import_base(engine: DockerEngine, tarball: Path) -> str:
    """``docker import`` the tarball as ``odooplane-test/bookworm-python:<key>`` (once per engine)."""
    ref = f"{BASE_REPOSITORY}:{tarball.stem.rsplit('-', 1)[-1]}"
    if not image_exists(engine, ref):
        engine.docker("import", "--change", "ENV LANG=C.UTF-8", "--change", 'CMD ["python3"]',
                      str(tarball), ref, timeout=300)
    return ref


def base_image(engine: DockerEngine) -> str:
    """The Debian + Python 3.11 base image in ``engine`` (debootstrap only on a cache miss)."""
    return import_base(engine, base_rootfs())


def build(engine: DockerEngine, context: Path, dockerfile: str, ref: str, base: str) -> str:
    """``docker build --network none`` of a file in ``dockerfiles/`` FROM ``base``; returns ``ref``."""
    shutil.copy2(DOCKERFILES / dockerfile, context / "Dockerfile")
    try:
        engine.docker("build", "--network", "none", "--quiet", "--build-arg", f"BASE={base}", "-t", ref,
                      str(context), timeout=900)
    except EngineError as exc:
        raise ImageError(f"building {ref} from {dockerfile}: {exc}") from exc
    return ref


def _pip(*args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, timeout=900,
                          check=False)
    if done.returncode != 0:
        raise ImageError(f"pip {' '.join(args[:2])} exited {done.returncode}: {done.stderr.strip()[-2000:]}")


def project_wheelhouse(dest: Path) -> Path:
    """Wheels of this project and all its dependencies in ``dest``, built from a copy of the
    sources (a build inside the working tree would write ``build/`` and ``*.egg-info`` there)."""
    with tempfile.TemporaryDirectory(prefix="odooplane-src-") as tmp:
        copy = Path(tmp) / "odooplane"
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
        copy.mkdir()
        for name in ("pyproject.toml", "README.md"):
            shutil.copy2(PROJECT / name, copy / name)
        shutil.copytree(PROJECT / "src", copy / "src", ignore=ignore)
        _pip("wheel", "--quiet", "--wheel-dir", str(dest), str(copy))
    return dest


def build_odooplane_image(engine: DockerEngine, base: str, *, tag: str = "test") -> str:
    """``odooplane-test/odooplane:<tag>``: this project in /opt/odooplane, the simulator as entry
    point, running as uid 101."""
    ref = f"{ODOOPLANE_REPOSITORY}:{tag}"
    with tempfile.TemporaryDirectory(prefix="odooplane-image-") as tmp:
        context = Path(tmp)
        project_wheelhouse(context / "wheelhouse")
        return build(engine, context, "odooplane.Dockerfile", ref, base)


def _pgserver_requirement() -> str:
    # The same pgserver as the host's (the `embedded` extra) when installed, so both run one PostgreSQL.
    try:
        return f"pgserver=={importlib.metadata.version('pgserver')}"
    except importlib.metadata.PackageNotFoundError:
        return "pgserver"


def build_postgres_image(engine: DockerEngine, base: str, *, tag: str = "test") -> str:
    """``odooplane-test/postgres:<tag>``: PostgreSQL as uid 999; first start runs initdb with
    POSTGRES_USER and the password in the file POSTGRES_PASSWORD_FILE."""
    ref = f"{POSTGRES_REPOSITORY}:{tag}"
    with tempfile.TemporaryDirectory(prefix="odooplane-image-") as tmp:
        context = Path(tmp)
        _pip("download", "--quiet", "--no-deps", "--only-binary=:all:", "--dest", str(context / "wheels"),
             _pgserver_requirement())
        shutil.copy2(DOCKERFILES / "postgres-entrypoint.sh", context / "postgres-entrypoint.sh")
        return build(engine, context, "postgres.Dockerfile", ref, base)
