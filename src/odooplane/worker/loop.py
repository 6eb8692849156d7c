"""The worker's loop: one tick, then wait until the next minute (schedules have minute precision)."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from pathlib import Path

from odooplane.actions import estate_file, schedule
from odooplane.errors import OdooplaneError

logger = logging.getLogger(__name__)


def run(path: Path | None, *, once: bool = False, interval: float = 30.0,
        report: Callable[[schedule.TickResult], None] | None = None) -> int:
    """Tick until stopped (SIGTERM/SIGINT); with ``once`` a single tick. Return an exit code."""
    stop = threading.Event()
    nudge = threading.Event()  # a wake request: tick now rather than at the end of the interval
    if not once:
        def stopping(*_: object) -> None:
            stop.set()
            nudge.set()

        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, stopping)
        _start_health(path, stop)
        _start_catcher(path, stop)
        _start_waker(path, nudge)
    failures = 0
    while not stop.is_set():
        try:
            ctx = estate_file.context(path)  # re-read every tick: the estate may have changed
            try:
                result = schedule.tick(ctx)
            finally:
                ctx.close()
            for failure in result.failures:
                logger.error("%s", failure)
            if result.backed_up or result.verified:
                logger.info("backed up %s; verified %s", result.backed_up, result.verified)
            if report:
                report(result)
            failures = len(result.failures)
        except OdooplaneError as exc:
            logger.error("tick failed: %s", exc.message)
            failures = 1
        if once:
            break
        nudge.wait(interval)
        nudge.clear()
    return 1 if failures else 0


def _start_waker(path: Path | None, nudge: threading.Event) -> None:
    """Serve the waker when a scheduled environment wakes on request (its port allocated by apply)."""
    from odooplane.operations import desired, sleeping
    from odooplane.worker import waker

    try:
        ctx = estate_file.context(path)
    except OdooplaneError as exc:
        logger.error("the waker cannot start: %s", exc.message)
        return
    try:
        port = ctx.allocated_ports().get(desired.WAKER) if sleeping.waker_wanted(ctx) else None
    finally:
        ctx.close()
    if port is None:
        return

    def wake(hostname: str) -> str | None:
        ctx = estate_file.context(path)  # the estate as it is now
        try:
            env = sleeping.by_hostname(ctx).get(hostname)
            if env is None:
                return None
            sleeping.request_wake(ctx, env, actor=f"request to {hostname}")
            nudge.set()
            return str(env.ref)
        finally:
            ctx.close()

    try:
        waker.serve(port, wake)
    except OSError as exc:
        logger.error("the waker cannot listen on %s: %s", port, exc)


def _start_catcher(path: Path | None, stop: threading.Event) -> None:
    from odooplane.worker import catcher

    try:
        ctx = estate_file.context(path)
    except OdooplaneError as exc:
        logger.error("the mail catcher cannot start: %s", exc.message)
        return
    if ctx.valid.estate.platform.driver != "local":
        ctx.close()
        return  # the runtime runs its own mail sink (a container of the compose project)
    try:
        catcher.start(ctx.layout.mail_listeners, stop)
    finally:
        ctx.close()


def _start_health(path: Path | None, stop: threading.Event) -> None:
    """Health sweeps on their own rhythm, published by the exporter (a sweep never waits for a
    backup, nor a backup for a sweep)."""
    from odooplane.actions import health
    from odooplane.worker import exporter

    collector = exporter.FleetCollector()
    try:
        ctx = estate_file.context(path)
        port, interval = ctx.estate.platform.metrics_port, ctx.estate.platform.health_interval_s
        ctx.close()
        exporter.serve(collector, port=port)
    except (OdooplaneError, OSError) as exc:
        logger.error("the metrics exporter cannot start: %s", exc)
        return

    def sweeps() -> None:
        from odooplane.store import sweepers

        last_s, share = 0.0, sweepers.Share()
        while not stop.is_set():
            try:
                ctx = estate_file.context(path)
                try:
                    # Workers sharing the state store split the fleet: this one's share, announced as alive
                    # for three of its periods (a sweep and the wait after it).
                    mine = sweepers.announce(ctx.store, ttl_s=3 * (interval + last_s) + 30)
                    if mine != share:
                        logger.info("health sweeps: %s", mine.describe())
                        share = mine
                    fleet = health.sweep_and_record(ctx, observer="worker", share=share)
                    last_s = fleet.sweep_s
                    collector.update(fleet)
                finally:
                    ctx.close()
            except Exception:  # a sweep must never take the worker down
                logger.exception("health sweep failed")
            stop.wait(interval)
        try:
            ctx = estate_file.context(path)
            try:
                sweepers.withdraw(ctx.store)  # the others take this share at their next sweep
            finally:
                ctx.close()
        except Exception:
            logger.exception("health sweeps: withdrawing from the sweepers failed")

    threading.Thread(target=sweeps, name="health", daemon=True).start()
