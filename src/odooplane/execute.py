"""The only place that runs subprocesses.

Command lines are argv lists built by pure functions elsewhere; this module logs them with
secrets masked, captures output, and turns a non-zero exit into :class:`CommandFailed` whose
message carries the (masked) tail of stderr.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import pwd
import signal
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from odooplane import log
from odooplane.errors import CommandFailed, PermanentError

logger = logging.getLogger(__name__)

_TAIL_LINES = 40
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Result:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


def describe(argv: Sequence[str], secrets: Iterable[str] = ()) -> str:
    """Return the command line as one masked string for logs and messages."""
    return log.mask(" ".join(argv), secrets)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask the kernel to SIGKILL the child when the parent dies, so kill -9 of the CLI leaves no
    orphan init/upgrade process behind to race the next run."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _demote(user: str | None) -> tuple[int | None, int | None]:
    if user is None or os.geteuid() != 0:
        return None, None
    entry = pwd.getpwnam(user)
    return entry.pw_uid, entry.pw_gid


def run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    secrets: Iterable[str] = (),
    timeout: float | None = None,
    stdin: str | None = None,
    user: str | None = None,
    check: bool = True,
    what: str | None = None,
) -> Result:
    """Run ``argv`` to completion and return its output.

    Raise :class:`CommandFailed` if it exits non-zero (and ``check``), with the masked stderr tail.
    ``env`` entries are added to the current environment. ``user`` runs it as that system user
    when we are root (PostgreSQL refuses to run as root).
    """
    secret_list = [s for s in secrets if s]
    shown = describe(argv, secret_list)
    logger.debug("run: %s", shown)
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    uid, gid = _demote(user)
    try:
        proc = subprocess.run(
            list(argv),
            env=full_env,
            cwd=str(cwd) if cwd else None,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            user=uid,
            group=gid,
            preexec_fn=_die_with_parent,
            extra_groups=[] if uid is not None else None,
        )
    except FileNotFoundError as exc:
        raise PermanentError(f"{what or argv[0]}: program not found: {argv[0]}") from exc
    except subprocess.TimeoutExpired as exc:
        raise PermanentError(f"{what or shown}: timed out after {timeout:.0f} s") from exc
    result = Result(tuple(argv), proc.returncode, proc.stdout, proc.stderr)
    if check:
        raise_for(result, what=what or shown, secrets=secret_list)
    return result


def raise_for(result: Result, *, what: str, secrets: Iterable[str] = ()) -> None:
    """Raise :class:`CommandFailed` for a non-zero exit, with the masked tail of its stderr (else stdout)."""
    if result.returncode == 0:
        return
    tail_source = result.stderr.strip() or result.stdout.strip()
    tail = log.mask("\n".join(tail_source.splitlines()[-_TAIL_LINES:]), [s for s in secrets if s])
    last = tail.splitlines()[-1] if tail else "(no output)"
    raise CommandFailed(f"{what} exited with {result.returncode}: {last}", returncode=result.returncode,
                        stderr_tail=tail)


def run_streams(
    argv: Sequence[str],
    *,
    stdin: bytes | Path | None = None,
    stdout: Path | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float | None = None,
    user: str | None = None,
    what: str | None = None,
) -> Result:
    """Run ``argv`` with binary streams: ``stdin`` from bytes or a file, ``stdout`` into a file (then
    the result's stdout is empty) or captured; stderr is captured. Never raises for an exit code:
    the caller reads the outcome the program printed (the data-plane agent's JSON line)."""
    shown = describe(argv)
    logger.debug("run: %s", shown)
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    uid, gid = _demote(user)
    with contextlib.ExitStack() as stack:
        source = stack.enter_context(stdin.open("rb")) if isinstance(stdin, Path) else None
        sink = stack.enter_context(stdout.open("wb")) if stdout is not None else None
        try:
            proc = subprocess.run(
                list(argv), env=full_env, cwd=str(cwd) if cwd else None,
                input=stdin if isinstance(stdin, bytes) else None,
                stdin=source if source is not None else (None if isinstance(stdin, bytes) else subprocess.DEVNULL),
                stdout=sink if sink is not None else subprocess.PIPE, stderr=subprocess.PIPE,
                timeout=timeout, check=False, user=uid, group=gid, preexec_fn=_die_with_parent,
                extra_groups=[] if uid is not None else None,
            )
        except FileNotFoundError as exc:
            raise PermanentError(f"{what or argv[0]}: program not found: {argv[0]}") from exc
        except subprocess.TimeoutExpired as exc:
            raise PermanentError(f"{what or shown}: timed out after {timeout:.0f} s") from exc
    out = proc.stdout.decode(errors="replace") if proc.stdout is not None else ""
    return Result(tuple(argv), proc.returncode, out, proc.stderr.decode(errors="replace"))


def signal_if(pid: int, mark: str, sig: int, *, group: bool) -> bool:
    """Send ``sig`` to ``pid`` (its process group with ``group``) only if that pid's command line
    still contains ``mark`` (a pid may have been reused); return whether it was sent."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    if not mark or mark not in cmdline:
        return False
    try:
        if group:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def alive(pid: int, *, group: bool = False) -> bool:
    """Whether process ``pid`` exists (with ``group``: any process of process group ``pid``; a
    group leader's children may outlive it). A process of another user counts as alive."""
    try:
        if group:
            os.killpg(pid, 0)
        else:
            os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def spawn_detached(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    log_file: Path,
    secrets: Iterable[str] = (),
    env_override: Mapping[str, str] | None = None,
) -> int:
    """Start ``argv`` in its own session (it outlives this process); return its PID.

    Output goes to ``log_file``. Used only to start the supervisor daemon, which then owns every
    other long-running process.
    """
    logger.debug("spawn: %s", describe(argv, secrets))
    full_env = dict(env_override) if env_override is not None else dict(os.environ)
    if env:
        full_env.update(env)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as out, open(os.devnull, "rb") as devnull:
        proc = subprocess.Popen(
            list(argv),
            env=full_env,
            cwd=str(cwd) if cwd else None,
            stdin=devnull,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return proc.pid
