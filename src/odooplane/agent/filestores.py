"""Filestores under one root: what every agent task does, in-process (the local driver's storage
calls it directly; ``python -m odooplane.agent`` calls it from a task)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from odooplane.agent import archive, names, tree
from odooplane.agent.errors import NotFound, Refused
from odooplane.agent.names import LayoutName


@dataclass(frozen=True)
class Ref:
    """``filestore/<database><suffix>`` of the data_dir ``storage`` (names already checked)."""

    storage: str
    database: str
    suffix: str = ""

    @classmethod
    def checked(cls, storage: object, database: object, suffix: object = "") -> Ref:
        return cls(names.check_storage(storage), names.check_database(database), names.check_suffix(suffix))

    def __str__(self) -> str:
        return f"{self.storage}:filestore/{self.database}{self.suffix}"


class Filestores:
    """The data_dirs under ``root`` (placed by ``layout``); every directory it makes, and every
    file it copies or loads, is handed to ``owner`` (uid, gid) when one is given."""

    def __init__(self, root: Path, *, layout: LayoutName = "flat", owner: tuple[int, int] | None = None) -> None:
        self.root = root
        self.layout = layout
        self.owner = owner

    # -- paths ----------------------------------------------------------------------------------
    @staticmethod
    def _below(base: Path, relative: Path) -> Path:
        """``base / relative``, refusing a symlink at any step (never followed out of ``base``)."""
        current = base
        for part in relative.parts:
            current = current / part
            if current.is_symlink():
                raise Refused(f"{current} is a symbolic link: the agent never follows one")
        return current

    def data_dir(self, storage: str) -> Path:
        """Where the data_dir ``storage`` is."""
        return self._below(self.root, names.data_dir(self.layout, storage))

    def home(self, storage: str) -> Path:
        """What removing ``storage`` removes (names.home)."""
        return self._below(self.root, names.home(self.layout, storage))

    def path(self, ref: Ref) -> Path:
        return self._below(self.data_dir(ref.storage), Path("filestore", f"{ref.database}{ref.suffix}"))

    def owned(self, path: Path) -> bool:
        """Whether a directory the agent makes at ``path`` is handed to the owner."""
        return path.is_relative_to(self.root)

    def _make(self, directory: Path) -> None:
        made = [p for p in (directory, *directory.parents) if not p.exists() and self.owned(p)]
        directory.mkdir(parents=True, exist_ok=True)
        for created in made:
            tree.give(created, self.owner)

    def _parent(self, ref: Ref) -> Path:
        parent = self.path(ref).parent
        self._make(parent)
        return parent

    # -- tasks ----------------------------------------------------------------------------------
    def exists(self, ref: Ref) -> bool:
        return self.path(ref).exists()

    def copy(self, source: Ref, target: Ref) -> int:
        """Make ``target`` a hard-link copy of ``source`` (replacing what it had); return its files."""
        origin = self.path(source)  # refused (a symlink on its way) before anything is made
        self._parent(target)
        tree.remove_tree(self.path(target))
        count = tree.copy_tree(origin, self.path(target))
        tree.give(self.path(target), self.owner, recursive=True)
        return count

    def move(self, source: Ref, target: Ref) -> bool:
        """Rename ``source`` to ``target``; False when that was done already (``source`` gone,
        ``target`` there). Raise Refused rather than move onto an existing ``target`` (whose files
        would be lost or merged), NotFound when there is nothing to move."""
        src, dst = self.path(source), self.path(target)
        if dst.exists() or dst.is_symlink():
            if not src.exists():
                return False
            raise Refused(f"{target} exists: not moving {source} onto it")
        if not src.exists():
            raise NotFound(f"{source} does not exist: nothing to move to {target}")
        self._parent(target)
        tree.move_tree(src, dst)
        return True

    def remove(self, ref: Ref) -> None:
        tree.remove_tree(self.path(ref))

    def check(self, ref: Ref, attachments: list[tuple[str, str]]) -> tuple[list[str], list[str]]:
        return tree.check(self.path(ref), attachments)

    def size(self, ref: Ref) -> int:
        return tree.size(self.path(ref))

    def ensure_storage(self, storage: str) -> bool:
        """Make the data_dir ``storage`` exist, owned by the owner (on the local layout a template's
        or a sandbox's whole home, which Odoo writes to); return True if it was made."""
        directory = self.data_dir(storage)
        created = not directory.exists()
        self._make(directory)
        tree.give(directory, self.owner)
        home = self.home(storage)
        if home != directory:
            tree.give(home, self.owner, recursive=True)
        return created

    def remove_storage(self, storage: str) -> None:
        """Remove everything of ``storage``: its home, or (a mount point: flat layout) what it holds."""
        home = self.home(storage)
        if self.layout == "flat" and home.is_dir() and os.path.ismount(home):
            for child in home.iterdir():
                tree.remove_tree(child)
            return
        tree.remove_tree(home)

    def export(self, ref: Ref, out: IO[bytes]) -> tuple[int, int, int]:
        """Write ``ref`` as a tar stream to ``out``: (files, bytes, skipped symlinks/special files)."""
        return archive.export(self.path(ref), out)

    def load(self, ref: Ref, source: IO[bytes]) -> int:
        """Replace ``ref`` by the tar stream ``source``: unpacked beside it first, then renamed into
        place, so a refused or broken stream leaves ``ref`` as it was. Return its files."""
        parent = self._parent(ref)
        target = self.path(ref)
        # "~" is in no name: a killed load of this filestore, never of another, is what matches.
        prefix = f".load~{ref.database}{ref.suffix}~"
        for stale in parent.glob(f"{prefix}*"):
            tree.remove_tree(stale)
        staged = parent / f"{prefix}{secrets.token_hex(4)}"
        try:
            files = archive.load(source, staged)
            tree.give(staged, self.owner, recursive=True)
            aside = parent / f"{prefix}{secrets.token_hex(4)}"
            if target.exists():
                os.replace(target, aside)
            os.replace(staged, target)
            tree.remove_tree(aside)
        finally:
            tree.remove_tree(staged)
        return files

    # -- in-process only: the control plane's directories are on this host ------------------------
    def export_dir(self, ref: Ref, into: Path) -> int:
        """Make the directory ``into`` a hard-link mirror of ``ref``; return its files."""
        tree.remove_tree(into)
        return tree.copy_tree(self.path(ref), into)

    def load_dir(self, source: Path, ref: Ref) -> int:
        """Replace ``ref`` by the directory ``source``, moved (not copied) into place; a missing
        ``source`` makes an empty filestore. Return its files."""
        self._parent(ref)
        target = self.path(ref)
        tree.remove_tree(target)
        if source.is_dir():
            tree.move_tree(source, target)
        else:
            target.mkdir()
        tree.give(target, self.owner, recursive=True)
        return tree.count_files(target)
