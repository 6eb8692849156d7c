"""Filestore trees: hard-link copies, renames, checksums and sizes that never follow a symlink out
of the filestore (a filestore's files are content-addressed and never rewritten in place, so a hard
link is a copy)."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

CHUNK = 1 << 20


def copy_tree(source: Path, target: Path) -> int:
    """Copy a filestore with hard links, falling back to copying across filesystems; a file the
    target already has is kept. Return the number of files (a missing source: an empty target)."""
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
    """A rename, or a copy then a removal when the two are on different filesystems."""
    try:
        os.replace(source, target)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        shutil.copytree(source, target, symlinks=True)
        shutil.rmtree(source, ignore_errors=True)


def remove_tree(path: Path) -> None:
    """Remove ``path`` (a directory, a file or a symlink: the link, never what it points to)."""
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
        return
    shutil.rmtree(path, ignore_errors=True)


def sha1_of(path: Path) -> str:
    digest = hashlib.sha1()  # noqa: S324 - Odoo's checksum of a stored file
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def check(root: Path, attachments: list[tuple[str, str]]) -> tuple[list[str], list[str]]:
    """(missing, corrupt) among ``(store_fname, sha1)``: a name that leaves ``root`` (``..``, an
    absolute path, a symlink out of it) is missing, as is one that is not a regular file; an empty
    sha1 only asks for the file to be there."""
    resolved = root.resolve()

    def verdict(item: tuple[str, str]) -> str:
        store_fname, checksum = item
        path = root / store_fname
        if not path.resolve().is_relative_to(resolved) or not path.is_file():
            return "missing"
        return "corrupt" if checksum and sha1_of(path) != checksum else "ok"

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:  # hashlib releases the GIL
        verdicts = list(pool.map(verdict, attachments))
    missing = [name for (name, _), found in zip(attachments, verdicts, strict=True) if found == "missing"]
    corrupt = [name for (name, _), found in zip(attachments, verdicts, strict=True) if found == "corrupt"]
    return missing, corrupt


def size(root: Path) -> int:
    """Bytes of the regular files of ``root`` (symlinks are not followed nor counted)."""
    if not root.is_dir() or root.is_symlink():
        return 0
    return sum(info.st_size for info in (p.lstat() for p in root.rglob("*")) if stat.S_ISREG(info.st_mode))


def count_files(root: Path) -> int:
    return sum(1 for p in root.rglob("*") if p.is_file() and not p.is_symlink()) if root.is_dir() else 0


def give(path: Path, owner: tuple[int, int] | None, *, recursive: bool = False) -> None:
    """Make ``owner`` (uid, gid) own ``path`` (and, with ``recursive``, everything under it;
    symlinks are not followed). No-op when ``owner`` is None or the path is gone."""
    if owner is None:
        return
    try:
        os.chown(path, *owner, follow_symlinks=False)
    except FileNotFoundError:
        return
    if not recursive or not path.is_dir() or path.is_symlink():
        return
    for directory, dirs, files in os.walk(path):
        for name in [*dirs, *files]:
            try:
                os.chown(Path(directory) / name, *owner, follow_symlinks=False)
            except FileNotFoundError:
                continue
