"""Running odoo-bin commands that stop by themselves (init, install, update, neutralize), with
the failure reason taken from Odoo's own log."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from odooplane import execute
from odooplane.errors import CommandFailed, PermanentError

TIMEOUT_S = 1800
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(?:Error|Exception|Denied|Fault)\b.*")
_LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d [\d:,]+ \d+ (?:ERROR|CRITICAL) \S+ (.*)$")


def error_summary(log_file: Path) -> str:
    """Return the most telling line of a failed Odoo run: the final exception line of the last
    traceback, else the last ERROR/CRITICAL message, else the last line."""
    try:
        lines = log_file.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return ""
    exceptions = [ln.strip() for ln in lines if _EXCEPTION_LINE.match(ln)]
    if exceptions:
        return exceptions[-1][:300]
    errors = [m.group(1).strip() for ln in lines if (m := _LOG_LINE.match(ln))]
    if errors:
        return errors[-1][:300]
    return lines[-1].strip()[:300] if lines else ""


def run(argv: list[str], *, what: str, log_file: Path, secrets: Iterable[str] = ()) -> None:
    """Run an odoo-bin command logging to ``log_file``; raise PermanentError with the log's reason."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    log_file.unlink(missing_ok=True)
    try:
        execute.run([*argv, f"--logfile={log_file}"], what=what, timeout=TIMEOUT_S, cwd=log_file.parent,
                    secrets=list(secrets))
    except CommandFailed as exc:
        text = error_summary(log_file) or (exc.stderr_tail.splitlines() or ["(no output)"])[-1]
        raise PermanentError(f"{what} exited with {exc.returncode}: {text} (log: {log_file})") from exc
