"""The error vocabulary shared by every layer.

Every error a user can see is an :class:`OdooplaneError` with a one-line message and an exit
code; the CLI maps them to exit codes in one place. Reconciler-style errors
(:class:`TemporaryError`, :class:`PermanentError`) tell the operation runner whether a step may
be retried.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class ExitCode:
    """Exit codes of the ``odooplane`` command (documented in docs/cli.md)."""

    OK = 0
    FAILED = 1  # an operation failed (a step failed permanently or retries ran out)
    INVALID = 2  # the estate file or the command line is invalid
    NOT_FOUND = 3  # a tenant/environment/object named on the command line does not exist
    LOCKED = 4  # another operation holds the lock of the environment
    UNHEALTHY = 5  # a read command found something unhealthy (status) or a warning (health)
    CRITICAL = 6  # health: at least one check is critical
    FORBIDDEN = 7  # the acting user's role or scope does not allow it (docs/access.md)
    GUARDRAIL = 8  # an unwaived guardrail violation at or above guardrails.block_at (docs/governance.md)
    INTERRUPTED = 130


class OdooplaneError(Exception):
    """Base of every error meant for a user: ``str(err)`` is a complete one-line message."""

    exit_code: int = ExitCode.FAILED

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Problem:
    """One validation problem: where (a dotted path inside a file) and what rule it broke."""

    source: str
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.source}: {self.path}" if self.path else self.source
        return f"{where}: {self.message}"


class EstateInvalid(OdooplaneError):
    """The estate file failed validation; carries every problem found, not just the first."""

    exit_code = ExitCode.INVALID

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        lines = "\n".join(str(p) for p in problems)
        super().__init__(f"{len(problems)} problem(s) in the estate:\n{lines}")


class UsageError(OdooplaneError):
    """The command line names something that does not parse or does not exist."""

    exit_code = ExitCode.INVALID


class NotFound(OdooplaneError):
    exit_code = ExitCode.NOT_FOUND


class SecretError(OdooplaneError):
    """A secret reference could not be resolved (the message never contains the secret)."""

    exit_code = ExitCode.INVALID


class Forbidden(OdooplaneError):
    """Access control refused: the message says which right, on what, and why (never a secret)."""

    exit_code = ExitCode.FORBIDDEN


class GuardrailViolated(OdooplaneError):
    """An unwaived guardrail violation at or above the estate's guardrails.block_at stops the command."""

    exit_code = ExitCode.GUARDRAIL


class LockedError(OdooplaneError):
    exit_code = ExitCode.LOCKED


class TemporaryError(OdooplaneError):
    """A failure that may go away by itself (a server still starting, a busy lock)."""

    def __init__(self, message: str, *, delay: float = 1.0, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.delay = delay


class PermanentError(OdooplaneError):
    """A failure that retrying will not fix (bad configuration, Odoo init failed)."""


class CommandFailed(PermanentError):
    """A subprocess exited non-zero. ``stderr_tail`` is already masked of secrets."""

    def __init__(self, message: str, *, returncode: int, stderr_tail: str = "") -> None:
        super().__init__(message)
        self.returncode = returncode
        self.stderr_tail = stderr_tail


class KubernetesEstate(OdooplaneError):
    """The estate runs on Kubernetes: the verb is answered by ``odooplane kubernetes`` instead (the
    CLI hands it over; nothing was done)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(f"{path}: platform.driver is kubernetes, where this does not run yet (what does: apply, "
                         "plan, down, health, logs, pitr, backup run / list / prune / check, verify, restore, "
                         "clone, promote, history, approve, odooplane kubernetes apply / status, gitops status; "
                         "docs/kubernetes.md)")
