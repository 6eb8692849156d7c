"""``gitops watch``: the estate from git. A working copy of one branch is fetched; each new commit
is checked out, validated and applied through the same gates as ``apply`` (access, guardrails),
and recorded in the audit log with its commit, author and subject; between commits, what the
estate says and what runs are compared (drift), and optionally put back."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath

from odooplane import execute
from odooplane.actions import apply as apply_action
from odooplane.actions import estate_file
from odooplane.actions import plan as plan_action
from odooplane.clock import current
from odooplane.errors import CommandFailed, EstateInvalid, GuardrailViolated, OdooplaneError, UsageError
from odooplane.store import audit

logger = logging.getLogger(__name__)
STATE = "odooplane-gitops.json"  # inside the working copy's .git: never tracked, kept across checkouts


@dataclass
class Round:
    commit: str
    outcome: str  # applied | unchanged | invalid | refused | failed | drift | corrected
    message: str = ""
    author: str = ""
    subject: str = ""
    drift: list[str] = field(default_factory=list)
    operation_id: int | None = None


def default_workdir(repo: str, branch: str, path: str) -> Path:
    """One working copy (and state) per repository, branch and estate file."""
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "odooplane" / "gitops"
    return base / hashlib.sha256(f"{repo}\n{branch}\n{path}".encode()).hexdigest()[:16]


def _git(workdir: Path | None, *args: str, timeout: float = 300) -> str:
    argv = ["git", *(["-C", str(workdir)] if workdir else []), *args]
    try:
        return execute.run(argv, timeout=timeout, what=f"git {args[0]}").stdout.strip()
    except CommandFailed as exc:
        raise OdooplaneError(f"git {args[0]} failed: {exc.message}") from None


def check_inputs(repo: str, branch: str, path: str) -> None:
    if not repo or repo.startswith("-") or any(c in repo for c in "\n\r\0"):
        raise UsageError(f"REPO {repo!r}: a git URL or a directory")
    if branch.startswith("-") or not re.fullmatch(r"[A-Za-z0-9._/-]{1,200}", branch) or ".." in branch:
        raise UsageError(f"--branch {branch!r}: a branch name")
    parts = PurePosixPath(path)
    if parts.is_absolute() or ".." in parts.parts or not path or path.startswith("-"):
        raise UsageError(f"--path {path!r}: the estate file's path inside the repository (relative, no '..')")


def _state(workdir: Path) -> dict[str, str]:
    file = workdir / ".git" / STATE
    return json.loads(file.read_text()) if file.exists() else {}


def _save(workdir: Path, state: dict[str, str]) -> None:
    file = workdir / ".git" / STATE
    tmp = file.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, sort_keys=True))
    os.replace(tmp, file)


def one_round(repo: str, *, branch: str, path: str, workdir: Path, correct: bool = False,
              listener: Callable[[str], None] | None = None) -> Round:
    """Fetch ``branch``; apply its newest commit if it is new, else look for drift."""
    say = listener or (lambda _text: None)
    if not (workdir / ".git").is_dir():
        workdir.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        say(f"cloning {repo} ({branch})")
        _git(None, "clone", "--quiet", "--no-checkout", "--branch", branch, "--", repo, str(workdir), timeout=900)
    _git(workdir, "fetch", "--quiet", "origin", f"+refs/heads/{branch}:refs/remotes/origin/{branch}", timeout=900)
    commit = _git(workdir, "rev-parse", "--verify", f"refs/remotes/origin/{branch}^{{commit}}")
    author, _, subject = _git(workdir, "log", "-1", "--format=%ae%x00%s", commit).partition("\0")
    state = _state(workdir)
    estate_path = workdir / path
    if commit == state.get("seen"):
        if state.get("applied") == commit:
            return _drift(estate_path, commit, author, subject, correct=correct, say=say)
        if state.get("outcome") == "invalid":  # the same file stays invalid: wait for a new commit
            return Round(commit, "invalid", f"{commit[:12]} is invalid: waiting for a new commit", author, subject)
        # failed or refused: tried again every round (a lock released, a waiver approved since)
        say(f"trying {commit[:12]} again (it {state.get('outcome')} before)")
    else:
        say(f"new commit {commit[:12]} by {author}: {subject}")
    _git(workdir, "checkout", "--quiet", "--force", "--detach", commit)
    state["seen"] = commit
    if not estate_path.is_file():
        state["outcome"] = "invalid"
        _save(workdir, state)
        return Round(commit, "invalid", f"{path} is not a file at {commit[:12]}", author, subject)
    try:
        estate_file.load(estate_path)
        result = apply_action.run(estate_path)
    except EstateInvalid as exc:
        state["outcome"] = "invalid"
        _save(workdir, state)
        return Round(commit, "invalid", str(exc), author, subject)
    except OdooplaneError as exc:  # refused by a guardrail, or the apply failed: recorded, not tried again
        outcome = "refused" if isinstance(exc, GuardrailViolated) else "failed"
        again = state.get("outcome") == outcome and state.get("message") == exc.message[:500]
        state["outcome"], state["message"] = outcome, exc.message[:500]
        _save(workdir, state)
        if not again:  # the same refusal every round is recorded once
            _record(estate_path, commit, author, subject, branch=branch, repo=repo, outcome=outcome,
                    message=exc.message)
        return Round(commit, outcome, exc.message, author, subject)
    outcome = "applied" if result.ok else "failed"
    state["outcome"] = outcome
    if result.ok:
        state["applied"] = commit
    _save(workdir, state)
    message = "; ".join(result.failures)
    _record(estate_path, commit, author, subject, branch=branch, repo=repo, outcome=outcome, message=message,
            operation=result.operation_id)
    return Round(commit, outcome, message, author, subject, operation_id=result.operation_id)


def _record(estate_path: Path, commit: str, author: str, subject: str, *, branch: str, repo: str, outcome: str,
            message: str, operation: int | None = None) -> None:
    ctx = estate_file.context(estate_path)
    try:
        audit.record(ctx.store, actor=f"gitops:{author or 'unknown'}", action="gitops apply",
                     target=f"estate {ctx.estate.platform.name}", outcome=outcome,
                     detail={"commit": commit, "branch": branch, "repository": repo, "subject": subject[:200],
                             "operation": operation, "message": message[:500]})
    finally:
        ctx.close()


def _drift(estate_path: Path, commit: str, author: str, subject: str, *, correct: bool,
           say: Callable[[str], None]) -> Round:
    changes = [f"{c.target}: {c.resource} {c.action} ({c.reason})" for c in plan_action.run(estate_path).changes]
    if not changes:
        return Round(commit, "unchanged", "", author, subject)
    say(f"drift: {len(changes)} change(s) between the estate at {commit[:12]} and what runs")
    done = Round(commit, "drift", f"{len(changes)} change(s): apply would make them", author, subject, changes)
    if correct:
        try:
            result = apply_action.run(estate_path)
            done = Round(commit, "corrected" if result.ok else "failed", "; ".join(result.failures), author,
                         subject, changes, result.operation_id)
        except OdooplaneError as exc:
            done = Round(commit, "refused" if isinstance(exc, GuardrailViolated) else "failed", exc.message,
                         author, subject, changes)
    ctx = estate_file.context(estate_path)
    try:  # recorded after the fact: what the correction did, not what it was meant to do
        audit.record(ctx.store, actor="gitops", action="gitops drift", target=f"estate {ctx.estate.platform.name}",
                     outcome={"drift": "reported"}.get(done.outcome, done.outcome),
                     detail={"commit": commit, "changes": changes[:50], "message": done.message[:500]})
    finally:
        ctx.close()
    return done


def watch(repo: str, *, branch: str, path: str, workdir: Path | None, interval: float, once: bool,
          correct: bool, report: Callable[[Round], None], listener: Callable[[str], None] | None = None) -> Round:
    """Rounds every ``interval`` seconds (one with ``once``); each round's result to ``report``."""
    check_inputs(repo, branch, path)
    workdir = workdir or default_workdir(repo, branch, path)
    while True:
        try:
            done = one_round(repo, branch=branch, path=path, workdir=workdir, correct=correct, listener=listener)
        except OdooplaneError as exc:  # a fetch that failed (the network, the server): the next round tries
            if once:
                raise
            logger.error("gitops round failed: %s", exc.message)
        else:
            report(done)
            if once:
                return done
        current().sleep(interval)


def as_dict(done: Round) -> dict[str, object]:
    return asdict(done)
