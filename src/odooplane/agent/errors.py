"""What the agent refuses or fails at, each with its exit code (docs/drivers.md, docs/cli.md)."""

from __future__ import annotations

OK = 0
FAILED = 1  # an I/O error or anything unexpected
INVALID = 2  # the task is not valid JSON, names an unknown kind, lacks an argument or has a bad name
REFUSED = 3  # doing it would be unsafe or would lose data: a symlink, an escaping tar member, a move onto a filestore
NOT_FOUND = 4  # there is nothing to do it to (a move whose source does not exist)


class AgentError(Exception):
    """A task the agent did not do; ``str()`` is one line naming what and why."""

    code = "failed"
    exit_code = FAILED

    def __init_subclass__(cls, *, code: str, exit_code: int) -> None:
        super().__init_subclass__()
        cls.code, cls.exit_code = code, exit_code


class InvalidTask(AgentError, code="invalid", exit_code=INVALID):
    """Malformed JSON, an unknown kind, a missing argument, a name that is not one."""


class Refused(AgentError, code="refused", exit_code=REFUSED):
    """Doing it would follow a symlink, unpack outside the filestore, or land on another filestore."""


class NotFound(AgentError, code="not-found", exit_code=NOT_FOUND):
    """There is nothing to do it to."""
