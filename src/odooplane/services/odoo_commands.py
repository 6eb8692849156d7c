"""Running odoo-bin commands that stop by themselves (init, install, update, neutralize), with
the failure reason taken from Odoo's own log."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from odooplane import execute
from odooplane.errors import CommandFailed, PermanentError
from odooplane.services.service_users import ServiceUser, check_can_run, give

TIMEOUT_S = 1800
MAX_REASON = 500
_LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d [\d:,]+ \d+ (?P<level>[A-Z]+) \S+ \S+: (?P<message>.*)$")
_CHAINED = ("The above exception was the direct cause of the following exception:",
            "During handling of the above exception, another exception occurred:")
_TRACEBACK = "Traceback (most recent call last):"
_WHERE = re.compile(r"while parsing (?P<where>\S+?:\d+)")


def _last_chain(lines: list[str]) -> list[list[str]]:
    """The exceptions of the last traceback in ``lines``, innermost (the first printed) first; each
    the lines of its exception text (type: message, continuation lines), frames left out."""
    starts = [i for i, line in enumerate(lines) if line == _TRACEBACK]
    if not starts:
        return []
    # Walk back over chained tracebacks: each is preceded by a separator line (and a blank one).
    first = starts[-1]
    while True:
        before = [i for i in starts if i < first]
        between = lines[before[-1]:first] if before else []
        if not any(ln in _CHAINED for ln in between) or any(_LOG_LINE.match(ln) for ln in between):
            break
        first = before[-1]
    chain: list[list[str]] = []
    current: list[str] | None = None
    for line in lines[first:]:
        if line == _TRACEBACK:
            current = None
            continue
        if line in _CHAINED:
            continue
        if _LOG_LINE.match(line):
            break  # the next log record: the traceback is over
        if current is None:
            if line.startswith(" ") or not line.strip():
                continue  # frames ("  File …", source lines, ^^^ markers)
            current = []
            chain.append(current)
        current.append(line)
    for text in chain:
        while text and not text[-1].strip():
            text.pop()
    return chain


def _reason(chain: list[list[str]]) -> str:
    """The cause of a failed run from its exception chain.

    Odoo wraps any error in a data file as ``ParseError: while parsing FILE:LINE, somewhere inside``
    followed by the element: the real cause is the exception it was raised from, and the place is the
    file, line and element of the wrapper. A ParseError of a view says the cause itself, after the place.
    """
    final = chain[-1]
    head = final[0].strip()
    if not head.split(":", 1)[0].endswith("ParseError"):
        return head
    where = _WHERE.search(head)
    place = where.group("where") if where else ""
    element = next((ln.strip() for ln in final[1:] if ln.strip()), "")
    if "somewhere inside" in head and len(chain) > 1:
        cause = chain[-2][0].strip()
        return f"{cause} (while parsing {place}, in {element})" if element else f"{cause} (while parsing {place})"
    message = next((ln.strip() for ln in final[1:] if ln.strip() and not ln.startswith("View error context")), "")
    return f"ParseError: {message} (while parsing {place})" if message and place else head


def error_summary(log_file: Path) -> str:
    """Return the cause of a failed Odoo run, from its log: the exception at the root of the last
    traceback (for a data file: the error inside it, with the file, line and element), else the
    last ERROR/CRITICAL message, else the last line."""
    try:
        lines = log_file.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return ""
    return lines_summary(lines)


def lines_summary(lines: list[str]) -> str:
    """``error_summary`` of a log's lines (a pod's, from the API server)."""
    chain = _last_chain(lines)
    if chain:
        return _reason(chain)[:MAX_REASON]
    errors = [m.group("message").strip() for ln in lines
              if (m := _LOG_LINE.match(ln)) and m.group("level") in ("ERROR", "CRITICAL")]
    if errors:
        return errors[-1][:MAX_REASON]
    return lines[-1].strip()[:MAX_REASON] if lines else ""


def run(argv: list[str], *, what: str, log_file: Path, secrets: Iterable[str] = (),
        user: ServiceUser | None = None) -> None:
    """Run an odoo-bin command logging to ``log_file`` (as ``user``, Odoo's service user, when
    given); raise PermanentError with the log's reason."""
    try:
        check_can_run(argv, user)
    except ValueError as exc:
        raise PermanentError(f"{what}: {exc}") from exc
    if not log_file.parent.exists():
        log_file.parent.mkdir(parents=True)
        give(log_file.parent, user)
    log_file.unlink(missing_ok=True)
    try:
        execute.run([*argv, f"--logfile={log_file}"], what=what, timeout=TIMEOUT_S, cwd=log_file.parent,
                    secrets=list(secrets), user=user.name if user else None)
    except CommandFailed as exc:
        text = error_summary(log_file) or (exc.stderr_tail.splitlines() or ["(no output)"])[-1]
        raise PermanentError(f"{what} exited with {exc.returncode}: {text} (log: {log_file})") from exc
