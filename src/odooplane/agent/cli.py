"""``python -m odooplane.agent`` (and ``odooplane agent``): one task, one JSON line.

Usage: ``python -m odooplane.agent --root DIR [--layout flat|local] [TASK_JSON]`` — the task from
its argument, else from stdin (``load`` reads its tar from stdin, so its task comes as the
argument). The outcome is one JSON line, ``{"ok": true, …result}`` or ``{"ok": false, "error":
…, "code": …}``, on stdout — except for ``export``, whose stdout is the tar stream: its outcome is
the last line of stderr. Exit codes: 0 done, 1 failed, 2 invalid task, 3 refused, 4 not found.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from odooplane.agent import errors, names, tasks
from odooplane.agent.filestores import Filestores


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="odooplane agent", description="Do one filestore task under ROOT and answer with one JSON line.",
        epilog="Exit codes: 0 done · 1 failed · 2 invalid task · 3 refused (unsafe or would lose data) · "
               "4 not found. The outcome is one JSON line on stdout; for export (stdout is the tar stream) "
               "it is the last line of stderr.")
    parser.add_argument("--root", required=True, type=Path, help="The directory the storages live under.")
    parser.add_argument("--layout", default="flat", choices=names.LAYOUTS,
                        help="flat: ROOT/<storage> (a container's volumes); local: the local driver's runtime "
                             "directory (envs/<slug>/data, pools/<name>/data, …).")
    parser.add_argument("task", nargs="?", help="The task as JSON (default: read from stdin).")
    return parser


def execute(task_text: str | None, *, root: Path, layout: str, stdin: IO[bytes], stdout: IO[bytes]
            ) -> tuple[int, dict[str, Any], bool]:
    """Do the task; return (exit code, outcome, whether the outcome goes to stderr)."""
    to_stderr = False
    try:
        try:
            task = json.loads(task_text if task_text is not None else stdin.read().decode())
        except ValueError as exc:
            raise errors.InvalidTask(f"the task is not JSON: {exc}") from None
        kind = task.get("kind") if isinstance(task, dict) else None
        to_stderr = kind in tasks.STREAM_OUT
        if kind in tasks.STREAM_IN and task_text is None:
            raise errors.InvalidTask(f"{kind}: its tar comes on stdin, so the task must be the argument")
        store = Filestores(root, layout=names.check_layout(layout))
        result = tasks.run(task, store, stdin=stdin if kind in tasks.STREAM_IN else None,
                           stdout=stdout if kind in tasks.STREAM_OUT else None)
    except errors.AgentError as exc:
        return exc.exit_code, {"ok": False, "error": str(exc), "code": exc.code}, to_stderr
    except OSError as exc:
        return errors.FAILED, {"ok": False, "error": f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "),
                               "code": "failed"}, to_stderr
    except Exception as exc:  # whatever it is, the caller gets its one JSON line
        return errors.FAILED, {"ok": False, "error": f"{type(exc).__name__}: {exc}", "code": "failed"}, to_stderr
    return errors.OK, {"ok": True, **result}, to_stderr


def answer(task_text: str | None, *, root: Path, layout: str, stdin: IO[bytes], stdout: IO[bytes]) -> int:
    """Do the task and print its outcome line where it goes; return the exit code."""
    code, outcome, to_stderr = execute(task_text, root=root, layout=layout, stdin=stdin, stdout=stdout)
    line = json.dumps(outcome, sort_keys=True) + "\n"
    stdout.flush()
    stream = sys.stderr if to_stderr else sys.stdout
    stream.write(line)
    stream.flush()
    return code


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return answer(args.task, root=args.root, layout=args.layout, stdin=sys.stdin.buffer, stdout=sys.stdout.buffer)
