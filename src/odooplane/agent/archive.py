"""A filestore as a tar stream: written from its regular files and directories (a symlink is left
out, counted as skipped), read back refusing whatever is not one — a member that is absolute or
climbs out with ``..``, a symlink or a hard link, a device, a fifo."""

from __future__ import annotations

import os
import shutil
import tarfile
from pathlib import Path, PurePosixPath
from typing import IO

from odooplane.agent.errors import AgentError, Refused

CHUNK = 1 << 20


def export(root: Path, out: IO[bytes]) -> tuple[int, int, int]:
    """Write ``root`` as an uncompressed tar stream to ``out``; return (files, bytes, skipped).
    A missing ``root`` is an empty archive."""
    files = size = skipped = 0
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        if not root.is_dir():
            return 0, 0, 0
        for directory, dirs, names in os.walk(root):
            dirs.sort()
            base = Path(directory)
            for name in sorted([*dirs, *names]):
                path = base / name
                info = path.lstat()
                arcname = path.relative_to(root).as_posix()
                if path.is_symlink() or not (path.is_dir() or path.is_file()):
                    skipped += 1
                    continue
                member = tar.gettarinfo(str(path), arcname=arcname)
                member.uid = member.gid = 0
                member.uname = member.gname = ""
                if member.isdir():
                    tar.addfile(member)
                    continue
                with path.open("rb") as handle:
                    tar.addfile(member, handle)
                files += 1
                size += info.st_size
    return files, size, skipped


def _member_path(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if not name or path.is_absolute() or ".." in path.parts or name.startswith("/"):  # "." is the root itself
        raise Refused(f"tar member {name!r} leaves the filestore")
    return PurePosixPath(*[part for part in path.parts if part != "."])


def load(source: IO[bytes], into: Path) -> int:
    """Unpack the tar stream ``source`` into the new directory ``into`` (which must not exist);
    return the number of files. Raise Refused on the first member that is not a plain file or
    directory inside ``into`` (what was unpacked so far stays for the caller to remove)."""
    into.mkdir()
    try:
        return _unpack(source, into)
    except (tarfile.TarError, EOFError) as exc:
        raise AgentError(f"the tar stream is broken: {exc}") from None


def _unpack(source: IO[bytes], into: Path) -> int:
    files = 0
    with tarfile.open(fileobj=source, mode="r|*") as tar:
        for member in tar:
            relative = _member_path(member.name)
            if not member.isdir() and not member.isfile():
                kind = "a symbolic link" if member.issym() else "a hard link" if member.islnk() else "a special file"
                raise Refused(f"tar member {member.name!r} is {kind}: a filestore holds only files and directories")
            if not relative.parts:
                continue
            target = into.joinpath(*relative.parts)
            _refuse_links_below(into, target)
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            extracted = tar.extractfile(member)
            if extracted is None:
                raise Refused(f"tar member {member.name!r} has no content")
            flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
            fd = os.open(target, flags, member.mode & 0o666 or 0o600)
            with os.fdopen(fd, "wb") as handle:
                shutil.copyfileobj(extracted, handle, CHUNK)
            files += 1
    return files


def _refuse_links_below(root: Path, target: Path) -> None:
    """Every directory between ``root`` and ``target`` is a real one (none was made a symlink)."""
    current = root
    for part in target.relative_to(root).parts[:-1]:
        current = current / part
        if current.is_symlink():
            raise Refused(f"{current.relative_to(root)} is a symbolic link inside the loaded filestore")
