"""Process settings of the control plane (not desired state): read from the environment by a
typed factory, never at import time."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


@dataclass(frozen=True)
class Settings:
    retry_attempts: int = 6  # tries of a step that fails temporarily
    retry_max_delay_s: float = 8.0
    parallel: int = 4
    # Limits of `import` on a zip from elsewhere (see services/zip_guard.ZipLimits for the reasons).
    import_max_bytes: int = 50 << 30
    import_max_ratio: int = 200
    import_max_files: int = 1_000_000
    # Coordination through the state store (store/leases.py, store/liveness.py): a holder of a lease
    # or a running operation writes a heartbeat every ``heartbeat_s``; one silent for ``lease_ttl_s``
    # counts as dead, and its lease can be taken over.
    heartbeat_s: float = 2.0
    lease_ttl_s: float = 15.0

    @classmethod
    def from_env(cls) -> Settings:
        """Read ``ODOOPLANE_RETRY_ATTEMPTS``, ``ODOOPLANE_RETRY_MAX_DELAY``, ``ODOOPLANE_PARALLEL``,
        ``ODOOPLANE_IMPORT_MAX_BYTES`` (bytes, or with a unit: ``50G``, ``500MiB``),
        ``ODOOPLANE_IMPORT_MAX_RATIO``, ``ODOOPLANE_IMPORT_MAX_FILES``, ``ODOOPLANE_HEARTBEAT_INTERVAL``
        and ``ODOOPLANE_LEASE_TTL`` (seconds).

        Raise ValueError naming the variable when a value does not parse or is below 1 (the heartbeat
        interval and the lease TTL: not positive, or the interval not below the TTL)."""

        def number(name: str, default: float, *, positive: bool = False) -> float:
            raw = os.environ.get(name)
            if raw is None:
                return default
            try:
                value = float(raw)
            except ValueError:
                raise ValueError(f"{name}={raw!r} is not a number") from None
            if positive:
                if not value > 0:
                    raise ValueError(f"{name} must be above 0")
            elif value < 1 and name != "ODOOPLANE_RETRY_MAX_DELAY":
                raise ValueError(f"{name} must be at least 1")
            return value

        def size(name: str, default: int) -> int:
            raw = os.environ.get(name)
            if raw is None:
                return default
            found = re.fullmatch(r"\s*(\d+)\s*([KMGT]?)(?:i?B)?\s*", raw, re.IGNORECASE)
            if not found or int(found.group(1)) < 1:
                raise ValueError(f"{name}={raw!r} is not a size (bytes, or a number with K, M, G or T)")
            return int(found.group(1)) * _UNITS[found.group(2).upper()]

        heartbeat = number("ODOOPLANE_HEARTBEAT_INTERVAL", cls.heartbeat_s, positive=True)
        ttl = number("ODOOPLANE_LEASE_TTL", cls.lease_ttl_s, positive=True)
        if heartbeat >= ttl:
            raise ValueError(f"ODOOPLANE_HEARTBEAT_INTERVAL ({heartbeat:g} s) must be below ODOOPLANE_LEASE_TTL "
                             f"({ttl:g} s): a holder would expire between two heartbeats")
        return cls(
            retry_attempts=int(number("ODOOPLANE_RETRY_ATTEMPTS", cls.retry_attempts)),
            retry_max_delay_s=number("ODOOPLANE_RETRY_MAX_DELAY", cls.retry_max_delay_s),
            parallel=int(number("ODOOPLANE_PARALLEL", cls.parallel)),
            import_max_bytes=size("ODOOPLANE_IMPORT_MAX_BYTES", cls.import_max_bytes),
            import_max_ratio=int(number("ODOOPLANE_IMPORT_MAX_RATIO", cls.import_max_ratio)),
            import_max_files=int(number("ODOOPLANE_IMPORT_MAX_FILES", cls.import_max_files)),
            heartbeat_s=heartbeat,
            lease_ttl_s=ttl,
        )
