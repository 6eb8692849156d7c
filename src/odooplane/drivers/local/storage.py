"""Filestores as directories of this host (the local driver's Storage): hard-link copies, renames,
mirrors into the control plane's backup stage — every directory made under the runtime directory
handed to Odoo's service user."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
from pathlib import Path

from odooplane.drivers.base import FilestoreCheck, FilestoreRef
from odooplane.drivers.local.odoo import storage_dir
from odooplane.errors import PermanentError
from odooplane.layout import Layout
from odooplane.services import service_users
from odooplane.services.service_users import ServiceUser


def copy_tree(source: Path, target: Path) -> int:
    """Copy a filestore with hard links (its files are content-addressed, never modified in
    place); fall back to copying across filesystems. Return the number of files."""
    count = 0
    target.mkdir(parents=True, exist_ok=True)
    if not source.is_dir():
        return 0
    for directory, _dirs, files in os.walk(source):
        relative = Path(directory).relative_to(source)
        (target / relative).mkdir(parents=True, exist_ok=True)
        for name in files:
            src, dst = Path(directory) / name, target / relative / name
            if dst.exists():
                continue
            try:
                os.link(src, dst, follow_symlinks=False)  # a symlink is copied as one, never followed
            except OSError:
                shutil.copy2(src, dst, follow_symlinks=False)
            count += 1
    return count


def move_tree(source: Path, target: Path) -> None:
    """A rename, or a copy when the two are on different filesystems."""
    import errno

    try:
        os.replace(source, target)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        shutil.copytree(source, target, symlinks=True)
        shutil.rmtree(source, ignore_errors=True)


class LocalStorage:
    def __init__(self, layout: Layout, user: ServiceUser | None) -> None:
        self.layout = layout
        self.user = user

    def path(self, ref: FilestoreRef) -> Path:
        return storage_dir(self.layout, ref.storage) / "filestore" / f"{ref.database}{ref.suffix}"

    def _parent(self, ref: FilestoreRef) -> Path:
        parent = self.path(ref).parent
        made = [p for p in (parent, *parent.parents) if not p.exists()]
        parent.mkdir(parents=True, exist_ok=True)
        for created in made:
            if created.is_relative_to(self.layout.run_root):
                service_users.give(created, self.user)
        return parent

    def exists(self, ref: FilestoreRef) -> bool:
        return self.path(ref).exists()

    def copy(self, source: FilestoreRef, target: FilestoreRef) -> int:
        self._parent(target)
        shutil.rmtree(self.path(target), ignore_errors=True)
        count = copy_tree(self.path(source), self.path(target))
        service_users.give(self.path(target), self.user, recursive=True)
        return count

    def move(self, source: FilestoreRef, target: FilestoreRef) -> None:
        """Rename ``source`` to ``target``. Done already (``source`` gone, ``target`` there): nothing
        to do. Raise PermanentError rather than move onto an existing ``target`` (whose files would
        otherwise be lost or merged) or when there is nothing to move."""
        src, dst = self.path(source), self.path(target)
        if dst.exists() or dst.is_symlink():
            if not src.exists():
                return
            raise PermanentError(f"{target} exists: not moving {source} onto it")
        if not src.exists():
            raise PermanentError(f"{source} does not exist: nothing to move to {target}")
        self._parent(target)
        move_tree(src, dst)

    def remove(self, ref: FilestoreRef) -> None:
        shutil.rmtree(self.path(ref), ignore_errors=True)

    def export(self, source: FilestoreRef, into: Path) -> int:
        if into.exists():
            shutil.rmtree(into)
        return copy_tree(self.path(source), into)

    def load(self, source: Path, target: FilestoreRef) -> int:
        self._parent(target)
        shutil.rmtree(self.path(target), ignore_errors=True)
        if source.is_dir():
            move_tree(source, self.path(target))
        else:
            self.path(target).mkdir()
        service_users.give(self.path(target), self.user, recursive=True)
        return sum(1 for p in self.path(target).rglob("*") if p.is_file())

    def check(self, ref: FilestoreRef, attachments: list[tuple[str, str]]) -> FilestoreCheck:
        root = self.path(ref)
        missing, corrupt = [], []
        for store_fname, checksum in attachments:
            path = root / store_fname
            if not path.resolve().is_relative_to(root.resolve()) or not path.is_file():
                missing.append(store_fname)
                continue
            if checksum and hashlib.sha1(path.read_bytes()).hexdigest() != checksum:  # noqa: S324 - Odoo's checksum
                corrupt.append(store_fname)
        return FilestoreCheck(len(attachments), tuple(missing), tuple(corrupt))

    def size(self, ref: FilestoreRef) -> int:
        root = self.path(ref)
        if not root.is_dir() or root.is_symlink():
            return 0
        return sum(info.st_size for info in (p.lstat() for p in root.rglob("*")) if stat.S_ISREG(info.st_mode))

    def _home(self, storage: str) -> Path:
        """What a storage's removal removes: the data_dir, or for a template or a sandbox its
        workload's whole home on this host (odoo.conf, logs: nothing else lives there)."""
        data_dir = storage_dir(self.layout, storage)
        return data_dir.parent if storage.startswith(("tpl-", "sandbox-")) else data_dir

    def ensure_storage(self, storage: str) -> None:
        data_dir = storage_dir(self.layout, storage)
        made = [p for p in (data_dir, *data_dir.parents) if not p.exists()]
        data_dir.mkdir(parents=True, exist_ok=True)
        for created in made:
            if created.is_relative_to(self.layout.run_root):
                service_users.give(created, self.user)
        home = self._home(storage)
        if home != data_dir and home.is_relative_to(self.layout.run_root):
            service_users.give(home, self.user, recursive=True)  # Odoo's service user writes there

    def remove_storage(self, storage: str) -> None:
        shutil.rmtree(self._home(storage), ignore_errors=True)
