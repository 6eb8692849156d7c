"""Workers of the service: threads that claim requested operations (store/requests.py) and run
them — in ``odooplane serve`` next to the API, or in processes of their own
(``odooplane serve --no-api``). A request queued by this process wakes them at once; one queued by
another process is seen at the next poll. A worker killed mid-operation leaves it ``running`` with
a heartbeat that stops; once it is older than the TTL (at once on this host, where the pid is seen
gone), the next worker claims it again and resumes it — every step is idempotent."""

from __future__ import annotations

import logging
import threading
from typing import Any

from odooplane import log
from odooplane.actions.service import Service
from odooplane.errors import OdooplaneError
from odooplane.estate.resolve import EnvRef
from odooplane.operations.context import Context
from odooplane.operations.runner import Operation, StepFailed
from odooplane.settings import Settings
from odooplane.store import journal, requests
from odooplane.store.journal import OperationRow

logger = logging.getLogger(__name__)


def run_claimed(ctx: Context, row: OperationRow) -> None:
    """Run a requested operation this process claimed, to its end (recorded in the journal)."""
    request = requests.request_of(ctx.store, row.id) or {}
    do = request.get("do")
    refs = [EnvRef.parse(t) for t in request.get("targets", [])]
    try:
        if do == "converge":
            from odooplane.actions import apply

            apply.converge_only(ctx, refs, kind=row.kind, op_id=row.id, actor=row.actor)
        elif do == "backup":
            from odooplane.actions import backup

            backup.run_in(ctx, [e for e in ctx.valid.environments if e.ref in set(refs)], op_id=row.id,
                          actor=row.actor)
        elif do == "decommission":
            _decommission(ctx, row, refs, purge=bool(request.get("purge")))
        elif do in ("verify", "restore", "clone", "promote"):
            _as_requester(ctx, row, request)
        else:
            journal.finish_operation(ctx.store, row.id, status="failed", error=f"unknown request {do!r}")
    except (OdooplaneError, StepFailed) as exc:  # recorded by the operation itself when it had begun
        if journal.operation(ctx.store, row.id) is not None and _status(ctx, row.id) == "running":
            journal.finish_operation(ctx.store, row.id, status="failed", error=log.mask(str(exc)))


def _as_requester(ctx: Context, row: OperationRow, request: dict[str, Any]) -> None:
    """Run the CLI's action for the request, as the person who requested it, its first operation
    being the requested one (operations/runner.py CLAIMED)."""
    from odooplane.actions import clone, releases, restore, verify
    from odooplane.operations.context import ACTING
    from odooplane.operations.runner import CLAIMED

    path, do, target = ctx.valid.path, request["do"], (request.get("targets") or [row.target])[0]
    acting, claimed = ACTING.set(row.actor), CLAIMED.set(row.id)
    summary: dict[str, Any] = {}
    try:
        if do == "verify":
            done = verify.run(path, [target], snapshot=request.get("snapshot"))
            failed = [f"{v.target}: {'; '.join(v.failures) or 'not proven'}" for v in done if not v.ok]
        elif do == "restore":
            restore.run(path, target, source=request.get("source"), snapshot=request.get("snapshot"),
                        at=request.get("at"))
            failed = []
        elif do == "clone":
            clone.run(path, request["source"], target, anonymize=bool(request.get("anonymize")))
            failed = []
        else:
            promotion = releases.promote(path, request["release"], request["selector"])
            summary = {"targets": [{"target": t.target, "decision": t.decision} for t in promotion.targets]}
            failed = [] if promotion.ok else [f"{t.target}: {t.decision}" for t in promotion.targets
                                              if t.decision == "blocked"] or ["an upgrade failed and was rolled back"]
    finally:
        CLAIMED.reset(claimed)
        ACTING.reset(acting)
    status = _status(ctx, row.id)
    if status == "running" or (failed and status == "succeeded"):
        # No operation of the action took the request over (nothing to do, or a gate blocked it), or
        # it ended without a failed step while what it proves failed: the request says how it ended.
        journal.finish_operation(ctx.store, row.id, status="failed" if failed else "succeeded",
                                 error="; ".join(failed)[:2000] or None, summary=summary or None)


def _status(ctx: Context, op_id: int) -> str | None:
    found = journal.operation(ctx.store, op_id)
    return found.status if found else None


def _decommission(ctx: Context, row: OperationRow, refs: list[EnvRef], *, purge: bool) -> None:
    """Stop and unroute what the removed environments leave running; with ``purge``, drop their data."""
    from odooplane.operations import observe, provision
    from odooplane.operations.desired import program_name

    slugs = {r.slug for r in refs}
    targets = {str(r) for r in refs}
    with Operation(ctx.store, kind=row.kind, target=row.target, actor=row.actor, op_id=row.id) as op:
        observed, _ = observe.observe(ctx, health="none")
        for orphan in observed.orphans:
            mine = (orphan.target in targets or orphan.name in slugs
                    or orphan.name in {program_name(s) for s in slugs}
                    or (orphan.kind == "directory" and orphan.name in slugs))
            if mine:
                provision.remove_orphan(ctx, op, orphan, prune=purge)


class Executor:
    """``threads`` workers claiming requested operations of one service."""

    def __init__(self, svc: Service, *, threads: int, poll_s: float = 0.5) -> None:
        self.svc = svc
        self.threads = threads
        self.poll_s = poll_s
        self._stop = threading.Event()
        self._wake = threading.Condition()
        self._workers: list[threading.Thread] = []
        self._settings = Settings.from_env()

    def start(self) -> None:
        for i in range(self.threads):
            thread = threading.Thread(target=self._loop, name=f"odooplane executor {i}", daemon=True)
            thread.start()
            self._workers.append(thread)

    def wake(self) -> None:
        with self._wake:
            self._wake.notify_all()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop claiming; wait up to ``timeout_s`` for the operations in progress (the rest are
        resumed by another worker once this process is gone)."""
        self._stop.set()
        self.wake()
        for thread in self._workers:
            thread.join(timeout=timeout_s)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                ctx = self.svc.context()
                row = requests.claim(ctx.store, ttl_s=self._settings.lease_ttl_s)
            except Exception as exc:  # a store that is down now may be back at the next poll
                logger.warning("claiming requested operations failed: %s", log.mask(str(exc)))
                row = None
            if row is None:
                with self._wake:
                    self._wake.wait(self.poll_s)
                continue
            logger.info("running requested operation #%d (%s %s) for %s", row.id, row.kind, row.target, row.actor)
            try:
                run_claimed(ctx, row)
            except Exception as exc:
                logger.exception("requested operation #%d failed unexpectedly", row.id)
                if _status(ctx, row.id) == "running":
                    journal.finish_operation(ctx.store, row.id, status="failed", error=log.mask(repr(exc)))


