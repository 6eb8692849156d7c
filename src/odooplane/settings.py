"""Process settings of the control plane (not desired state): read from the environment by a
typed factory, never at import time."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    retry_attempts: int = 6  # tries of a step that fails temporarily
    retry_max_delay_s: float = 8.0
    parallel: int = 4

    @classmethod
    def from_env(cls) -> Settings:
        """Read ``ODOOPLANE_RETRY_ATTEMPTS``, ``ODOOPLANE_RETRY_MAX_DELAY``, ``ODOOPLANE_PARALLEL``."""

        def number(name: str, default: float) -> float:
            raw = os.environ.get(name)
            if raw is None:
                return default
            try:
                value = float(raw)
            except ValueError:
                raise ValueError(f"{name}={raw!r} is not a number") from None
            if value < 1 and name != "ODOOPLANE_RETRY_MAX_DELAY":
                raise ValueError(f"{name} must be at least 1")
            return value

        return cls(
            retry_attempts=int(number("ODOOPLANE_RETRY_ATTEMPTS", cls.retry_attempts)),
            retry_max_delay_s=number("ODOOPLANE_RETRY_MAX_DELAY", cls.retry_max_delay_s),
            parallel=int(number("ODOOPLANE_PARALLEL", cls.parallel)),
        )
