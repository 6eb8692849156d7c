"""Resolve secret references from the estate (``env:NAME``, ``file:path``).

Errors name the reference, never the value. Resolved values are registered for masking.
"""

from __future__ import annotations

import os
from pathlib import Path

from odooplane import log
from odooplane.errors import SecretError


def resolve(ref: str, *, base_dir: Path, where: str) -> str:
    """Return the secret that ``ref`` points at. Raise :class:`SecretError` naming ``where``."""
    scheme, _, rest = ref.partition(":")
    if scheme == "env":
        value = os.environ.get(rest)
        if value is None or value == "":
            raise SecretError(f"{where}: secret {ref} is not set (export {rest}=…)")
    elif scheme == "file":
        path = Path(rest).expanduser()
        if not path.is_absolute():
            path = base_dir / path
        try:
            value = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SecretError(f"{where}: secret {ref} cannot be read ({exc.strerror or exc})") from exc
        if not value:
            raise SecretError(f"{where}: secret {ref} is empty")
    else:
        raise SecretError(f"{where}: {scheme!r} is not a secret reference scheme (env: or file:)")
    log.register_secret(value)
    return value
