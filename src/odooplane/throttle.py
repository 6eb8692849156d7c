"""Failed sign-ins and refused tokens, counted per client address: past a bound within a window the
client is answered 429 until the window has passed (per process; a login form and the token check
share it)."""

from __future__ import annotations

import threading
import time
from collections import deque


class Throttle:
    def __init__(self, *, failures: int = 10, window_s: float = 60.0) -> None:
        self.failures = failures
        self.window_s = window_s
        self._clock = time.monotonic
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, client: str, at: float) -> deque[float]:
        found = self._seen.setdefault(client, deque())
        while found and found[0] <= at - self.window_s:
            found.popleft()
        return found

    def blocked_for(self, client: str) -> float:
        """Seconds until ``client`` may try again (0: it may now)."""
        at = self._clock()
        with self._lock:
            found = self._recent(client, at)
            if len(found) < self.failures:
                return 0.0
            return max(0.0, found[0] + self.window_s - at)

    def failed(self, client: str) -> int:
        """Count a failure of ``client``; return how many it has in the window."""
        at = self._clock()
        with self._lock:
            found = self._recent(client, at)
            found.append(at)
            if len(self._seen) > 10_000:  # forget clients whose window has passed
                for key in [k for k, v in self._seen.items() if not v or v[-1] <= at - self.window_s]:
                    del self._seen[key]
            return len(found)
