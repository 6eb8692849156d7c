"""Files the control plane writes whole: replaced atomically, never half-written."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write(path: Path, content: str, *, mode: int = 0o600) -> bool:
    """Write ``content`` to ``path`` via a temporary file and rename; return False if unchanged."""
    try:
        if path.read_text(encoding="utf-8") == content:
            if (path.stat().st_mode & 0o777) != mode:
                path.chmod(mode)
            return False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(content)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True
