"""Run an operation as journaled steps: record intent → act → record done (or failed).

A step's action must be idempotent: after kill -9 the next run re-observes and repeats whatever
was not recorded as done. Temporary failures are retried with back-off inside the step; a
permanent failure ends the step with a message naming the target and the step.
"""

from __future__ import annotations

import contextvars
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from odooplane import faults, log
from odooplane.errors import OdooplaneError, PermanentError, TemporaryError
from odooplane.operations import retry
from odooplane.settings import Settings
from odooplane.store import audit, journal, liveness
from odooplane.store.db import Store

logger = logging.getLogger(__name__)
T = TypeVar("T")

# A requested operation a worker claimed (store/requests.py): the first operation the worker's thread
# begins takes it over instead of journaling a new one, so the action it runs (restore, clone…) is
# the operation the caller follows.
CLAIMED: contextvars.ContextVar[int] = contextvars.ContextVar("odooplane_claimed_operation", default=0)

KILL_ENV = "ODOOPLANE_TEST_KILL_AT"  # test hook: "step:target:before|after" (target may be *)


class StepFailed(OdooplaneError):
    """A step failed permanently; ``str()`` is ``tenant/env: step NAME failed: reason``."""

    def __init__(self, *, target: str, step: str, reason: str) -> None:
        super().__init__(f"{target}: step {step} failed: {reason}")
        self.target = target
        self.step = step
        self.reason = reason


def _maybe_kill(step: str, target: str, phase: str) -> None:
    spec = os.environ.get(KILL_ENV)
    if not spec:
        return
    want_step, _, rest = spec.partition(":")
    want_target, _, want_phase = rest.partition(":")
    if want_step == step and want_target in ("*", target) and (want_phase or "before") == phase:
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class StepRecord:
    name: str
    target: str
    status: str
    duration_s: float
    detail: str | None = None
    error: str | None = None


@dataclass
class Operation:
    store: Store
    kind: str
    target: str
    actor: str
    dry_run: bool = False
    op_id: int = 0
    records: list[StepRecord] = field(default_factory=list)
    listener: Callable[[str, str, str], None] | None = None  # (event, step, target) for progress output
    settings: Settings = field(default_factory=Settings.from_env)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    identity: liveness.Identity | None = None  # who runs it (this process unless told otherwise)
    _beat: liveness.Beat | None = None

    def __enter__(self) -> Operation:
        journal.mark_interrupted(self.store, settings=self.settings)
        if not self.op_id and CLAIMED.get():
            self.op_id = CLAIMED.get()
            CLAIMED.set(0)
        if not self.op_id:  # else: a requested operation this process claimed (store/requests.py)
            self.op_id = journal.start_operation(
                self.store, kind=self.kind, target=self.target, actor=self.actor, dry_run=self.dry_run,
                identity=self.identity,
            )
        # Alive while the heartbeat is fresh: other processes (of any host) judge this operation by it.
        self._beat = liveness.Beat(lambda: journal.heartbeat(self.store, self.op_id),
                                   interval_s=self.settings.heartbeat_s, name=f"operation #{self.op_id}")
        self._beat.__enter__()
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if self._beat is not None:
            self._beat.stop()
        if exc is None:
            failed = [r for r in self.records if r.status == "failed"]
            status = "failed" if failed else "succeeded"
            error = "; ".join(r.error or "" for r in failed) or None
        elif isinstance(exc, KeyboardInterrupt):
            status, error = "interrupted", "interrupted by the user"
        else:
            status, error = "failed", log.mask(str(exc))
        journal.finish_operation(self.store, self.op_id, status=status, error=error, summary=self.summary())
        audit.record(
            self.store,
            actor=self.actor,
            action=self.kind,
            target=self.target,
            outcome=status,
            detail={"operation": self.op_id, "steps": len(self.records)},
        )

    def summary(self) -> dict[str, Any]:
        with self._lock:
            done = [r for r in self.records if r.status == "done"]
            return {
                "steps_done": len(done),
                "steps_failed": sum(1 for r in self.records if r.status == "failed"),
                "duration_s": round(sum(r.duration_s for r in done), 3),
            }

    def step(
        self,
        name: str,
        target: str,
        act: Callable[[], T],
        *,
        detail: str | None = None,
        attempts: int | None = None,
    ) -> T:
        """Journal and run one step; return what ``act`` returns.

        Raise :class:`StepFailed` after a permanent failure or when retries run out.
        """
        step_id = journal.step_intent(self.store, self.op_id, name=name, target=target, detail=detail)
        if self.listener:
            self.listener("start", name, target)
        _maybe_kill(name, target, "before")
        started = time.monotonic()

        def on_retry(attempt: int, exc: TemporaryError) -> None:
            journal.step_attempt(self.store, step_id, attempts=attempt, error=log.mask(exc.message))

        try:
            result = retry.with_backoff(
                act, what=f"{target}: {name}", attempts=max(attempts or 0, self.settings.retry_attempts),
                max_delay=self.settings.retry_max_delay_s, on_retry=on_retry,
            )
        except (PermanentError, TemporaryError, OdooplaneError) as exc:
            reason = log.mask(exc.message)
            self._finish(step_id, name, target, "failed", started, error=reason)
            raise StepFailed(target=target, step=name, reason=reason) from exc
        except Exception as exc:
            reason = log.mask(f"{type(exc).__name__}: {exc}")
            logger.exception("%s: step %s crashed", target, name)
            self._finish(step_id, name, target, "failed", started, error=reason)
            raise StepFailed(target=target, step=name, reason=reason) from exc
        _maybe_kill(name, target, "after")
        faults.point(f"step:{name}")  # the step acted but its "done" is not recorded yet
        self._finish(step_id, name, target, "done", started, detail=detail)
        return result

    def _finish(
        self,
        step_id: int,
        name: str,
        target: str,
        status: str,
        started: float,
        *,
        error: str | None = None,
        detail: str | None = None,
    ) -> None:
        duration = time.monotonic() - started
        journal.step_finish(self.store, step_id, status=status, duration_s=duration, error=error)
        with self._lock:
            self.records.append(StepRecord(name, target, status, duration, detail, error))
        if self.listener:
            self.listener(status, name, target)

