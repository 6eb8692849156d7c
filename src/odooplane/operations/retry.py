"""Retries with back-off for temporary failures; permanent failures pass straight through."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from odooplane.clock import Clock, SystemClock
from odooplane.errors import TemporaryError

logger = logging.getLogger(__name__)
T = TypeVar("T")


def with_backoff(
    fn: Callable[[], T],
    *,
    what: str,
    attempts: int = 6,
    max_delay: float = 8.0,
    clock: Clock | None = None,
    on_retry: Callable[[int, TemporaryError], None] | None = None,
) -> T:
    """Call ``fn`` until it returns, retrying :class:`TemporaryError` with growing delays.

    The delay starts at the error's own ``delay`` and doubles up to ``max_delay``. After
    ``attempts`` tries the last TemporaryError is re-raised with the attempt count.
    """
    clk = clock or SystemClock()
    delay: float | None = None
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except TemporaryError as exc:
            if attempt == attempts:
                raise TemporaryError(f"{exc.message} (gave up after {attempts} attempts)", delay=exc.delay) from exc
            delay = exc.delay if delay is None else min(max(delay * 2, exc.delay), max_delay)
            logger.warning("%s failed temporarily: %s; will try again in %.1f s", what, exc.message, delay)
            if on_retry:
                on_retry(attempt, exc)
            clk.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover
