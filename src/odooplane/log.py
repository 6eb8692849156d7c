"""One logging convention: module loggers, a ``[tenant/env]`` prefix adapter, plain or JSON output,
and a filter that masks every registered secret before a line is written anywhere."""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Iterable, MutableMapping
from typing import Any

_secrets: set[str] = set()
_secrets_lock = threading.Lock()
MASK = "***"


def register_secret(value: str | None) -> None:
    """Remember ``value`` so that it is masked in every log line, error and captured output."""
    if value and len(value) >= 4:
        with _secrets_lock:
            _secrets.add(value)


def mask(text: str, extra: Iterable[str] = ()) -> str:
    """Return ``text`` with every registered secret (and ``extra`` ones) replaced by ``***``."""
    with _secrets_lock:
        values = sorted({*_secrets, *(e for e in extra if e and len(e) >= 4)}, key=len, reverse=True)
    for value in values:
        if value in text:
            text = text.replace(value, MASK)
    return text


class _MaskingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask(message)
        if masked != message:
            record.msg = masked
            record.args = ()
        return True


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        target = getattr(record, "target", None)
        if target:
            payload["target"] = target
        if record.exc_info:
            payload["exc"] = mask(self.formatException(record.exc_info))
        return json.dumps(payload)


def setup(*, level: str = "WARNING", json_output: bool = False) -> None:
    """Configure the root logger once for a process: stderr, plain or JSON, secrets masked."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    if json_output:
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_MaskingFilter())
    root.addHandler(handler)
    root.setLevel(level.upper())


class TargetAdapter(logging.LoggerAdapter[logging.Logger]):
    """Prefix every line with ``[tenant/env]`` (or another target) and attach it for JSON output."""

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        target = (self.extra or {}).get("target", "")
        kwargs.setdefault("extra", {})["target"] = target
        return f"[{target}] {msg}", kwargs


def for_target(logger: logging.Logger, target: str) -> TargetAdapter:
    return TargetAdapter(logger, {"target": target})
