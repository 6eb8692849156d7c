"""Golden files: a rendered tree compared byte for byte with the one kept in the repository
(``UPDATE_GOLDEN=1`` rewrites the kept one; read the diff before committing it)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` by its relative path."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def compare(got: dict[str, bytes], golden: Path, label: str) -> None:
    if os.environ.get("UPDATE_GOLDEN"):
        shutil.rmtree(golden, ignore_errors=True)
        for name, data in got.items():
            (golden / name).parent.mkdir(parents=True, exist_ok=True)
            (golden / name).write_bytes(data)
    assert sorted(got) == sorted(tree(golden)), f"{label}: the rendered files differ from the golden ones " \
                                                 "(UPDATE_GOLDEN=1)"
    for name, data in tree(golden).items():
        assert got[name] == data, f"{label}/{name} differs from its golden file (UPDATE_GOLDEN=1 to accept)"
