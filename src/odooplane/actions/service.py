"""One estate served by a long-running process (``odooplane serve``): its context is opened once and
kept, and the estate is validated again only when one of its files changes. An edit that makes the
estate invalid does not stop the service: it keeps the last valid estate and reports the problems."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from odooplane.errors import EstateInvalid, Problem
from odooplane.estate.validate import ValidEstate, check
from odooplane.operations.context import Context, open_context, state_url


def _stamp(files: tuple[Path, ...]) -> tuple[tuple[str, int, int], ...]:
    out = []
    for path in files:
        try:
            st = path.stat()
            out.append((str(path), st.st_mtime_ns, st.st_size))
        except OSError:
            out.append((str(path), -1, -1))
    return tuple(out)


@dataclass
class Service:
    path: Path
    _ctx: Context | None = None
    _stamp: tuple[tuple[str, int, int], ...] = ()
    problems: list[Problem] = field(default_factory=list)  # of the newest edit, when it is invalid
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def open(cls, path: Path) -> Service:
        """Open the estate at ``path``; raise EstateInvalid if it is invalid now."""
        service = cls(path.resolve())
        service.context()
        if service._ctx is None:
            raise EstateInvalid(service.problems)
        return service

    def context(self) -> Context:
        """The context of the newest valid estate (validated again when one of its files changed)."""
        with self._lock:
            files = self._ctx.valid.files if self._ctx is not None else (self.path,)
            stamp = _stamp(files)
            if self._ctx is not None and stamp == self._stamp:
                return self._ctx
            valid, problems = check(self.path)
            if valid is None:
                self.problems = problems or [Problem(str(self.path), "", "invalid estate")]
                self._stamp = stamp  # not read again until it changes
                if self._ctx is None:
                    raise EstateInvalid(self.problems)
                return self._ctx
            self.problems = []
            return self._replace(valid)

    def adopt(self, valid: ValidEstate) -> Context:
        """Serve ``valid`` — the estate as this process just edited and validated it — without
        validating it again."""
        with self._lock:
            self.problems = []
            return self._replace(valid)

    def _replace(self, valid: ValidEstate) -> Context:
        """Make ``valid`` the served estate. Its state store stays the one open (connections,
        compiled statements) unless the estate now names another state database; a store that
        changed is closed once this is done (connections in use finish their work)."""
        old = self._ctx
        kept = old.store if old is not None and old.store.url == state_url(valid) else None
        self._ctx = open_context(valid, store=kept)
        self._stamp = _stamp(valid.files)
        if old is not None and kept is None:
            old.close()
        return self._ctx

    def close(self) -> None:
        with self._lock:
            if self._ctx is not None:
                self._ctx.close()
                self._ctx = None
