"""What every ``Storage`` must do, whatever reaches the filestores (in-process, the agent as a
subprocess, the agent in a container): one scenario through every method, from a control-plane
directory in (load) to a control-plane directory out (export)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from odooplane.drivers.base import FilestoreRef, Storage
from odooplane.errors import PermanentError

FILES = {"ab/ab01": b"one", "cd/cd02": b"two" * 1000, "ef/ef03": b""}


def contents(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def sha1(content: bytes) -> str:
    return hashlib.sha1(content).hexdigest()


def exercise(storage: Storage, scratch: Path, *, name: str) -> None:
    """Every Storage method on data_dir ``env-<name>`` and ``pool-<name>``, asserting each answer."""
    live = FilestoreRef(f"env-{name}", f"{name}_prod")
    staged, aside = live.sibling(".restore"), live.sibling(".old")
    pooled = FilestoreRef(f"pool-{name}", f"{name}_prod")
    storage.ensure_storage(live.storage)
    assert not storage.exists(live)
    source = scratch / "restored" / "filestore"
    for rel, content in FILES.items():
        (source / rel).parent.mkdir(parents=True, exist_ok=True)
        (source / rel).write_bytes(content)
    assert storage.load(source, live) == 3
    assert not source.exists()  # consumed, as the local driver moves it
    assert storage.exists(live)
    assert storage.size(live) == 3003
    found = storage.check(live, [("ab/ab01", sha1(b"one")), ("cd/cd02", sha1(b"changed")), ("zz/gone", ""),
                                 ("../../etc/passwd", "")])
    assert (found.checked, found.missing, found.corrupt) == (4, ("zz/gone", "../../etc/passwd"), ("cd/cd02",))
    assert storage.copy(live, staged) == 3
    storage.move(live, aside)
    assert not storage.exists(live) and storage.exists(aside)
    storage.move(live, aside)  # done already
    storage.move(staged, live)
    with pytest.raises(PermanentError, match="exists: not moving"):
        storage.move(aside, live)
    stage = scratch / "stage" / "filestore"
    stage.mkdir(parents=True)
    (stage / "gone").write_bytes(b"a file the filestore no longer has")
    assert storage.export(live, stage) == 3
    assert contents(stage) == FILES
    storage.ensure_storage(pooled.storage)
    assert storage.copy(live, pooled) == 3  # across data_dirs (another volume)
    assert storage.size(pooled) == 3003
    storage.remove(aside)
    storage.remove(aside)
    assert not storage.exists(aside) and storage.exists(live)
    assert storage.load(scratch / "nothing", staged) == 0  # a backup without files: an empty filestore
    assert storage.exists(staged) and storage.size(staged) == 0
    for data_dir in (live.storage, pooled.storage):
        storage.remove_storage(data_dir)
        storage.remove_storage(data_dir)
    assert not storage.exists(live) and not storage.exists(pooled)
