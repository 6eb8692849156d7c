"""Reading a zip somebody else made (an Odoo database-manager backup) within limits: how many
entries, how many bytes once uncompressed, how much each entry may expand. A zip bomb — a few
megabytes that inflate to terabytes — is refused from its directory when the sizes it declares are
too large, and while it is read when they lie: bytes are counted as they come out of the
decompressor, never trusted from the headers alone. Nothing here holds a whole entry in memory.
"""

from __future__ import annotations

import io
import os
import shutil
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

from odooplane.errors import UsageError

RATIO_FLOOR = 1 << 20  # entries smaller than this may expand as much as they like: they cannot hurt


class ZipRefused(UsageError):
    """The zip breaks a limit or is malformed (the message names the zip and the limit)."""


@dataclass(frozen=True)
class ZipLimits:
    """Limits; the defaults (``odooplane.settings``) are ones a real Odoo estate fits in. 50 GiB
    is more than Odoo's manager exports in practice (it builds the zip in one HTTP response) and
    still bounds the disk an import fills. A pg_dump
    deflates about 4 to 10:1 and attachments (PDF, images) hardly at all, so 200:1 is far above
    real data and far below a bomb (deflate reaches about 1000:1). A million files is a very large
    filestore; each entry costs the zip reader a few hundred bytes of memory."""

    max_bytes: int  # all entries together, uncompressed
    max_ratio: int  # uncompressed : compressed, per entry above RATIO_FLOOR
    max_entries: int


@dataclass
class Budget:
    """Bytes read so far out of one zip, across its entries."""

    limits: ZipLimits
    source: str
    used: int = 0

    def spend(self, entry: str, entry_bytes: int, compressed: int, amount: int) -> None:
        self.used += amount
        if self.used > self.limits.max_bytes:
            raise ZipRefused(f"{self.source}: more than {_size(self.limits.max_bytes)} once uncompressed (limit: "
                             "ODOOPLANE_IMPORT_MAX_BYTES)")
        if entry_bytes > max(RATIO_FLOOR, self.limits.max_ratio * max(compressed, 1)):
            raise ZipRefused(f"{self.source}: {entry} expands more than {self.limits.max_ratio}:1 (limit: "
                             "ODOOPLANE_IMPORT_MAX_RATIO)")


def open_zip(path: Path, limits: ZipLimits) -> zipfile.ZipFile:
    """Open ``path`` after checking its entry count from the end-of-directory record (the zip
    reader keeps every entry in memory), then the sizes every entry declares.

    Raise ZipRefused when a limit is broken or the file is not a usable zip."""
    count, directory_bytes = _directory_size(path)
    if count > limits.max_entries:
        raise ZipRefused(f"{path}: {count} entries (at most {limits.max_entries}; limit: ODOOPLANE_IMPORT_MAX_FILES)")
    if directory_bytes > limits.max_entries * 1024:
        raise ZipRefused(f"{path}: its directory is {_size(directory_bytes)}, too large for {count} entries")
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ZipRefused(f"{path}: not a readable zip file ({exc})") from exc
    try:
        declared = 0
        for info in archive.infolist():
            if info.flag_bits & 0x1:
                raise ZipRefused(f"{path}: {info.filename} is encrypted")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise ZipRefused(f"{path}: {info.filename} uses an unsupported compression method "
                                 f"({info.compress_type}; Odoo writes deflate)")
            declared += info.file_size
            if info.file_size > max(RATIO_FLOOR, limits.max_ratio * max(info.compress_size, 1)):
                raise ZipRefused(f"{path}: {info.filename} would expand more than {limits.max_ratio}:1 "
                                 f"({_size(info.compress_size)} to {_size(info.file_size)}; limit: "
                                 "ODOOPLANE_IMPORT_MAX_RATIO)")
        if declared > limits.max_bytes:
            raise ZipRefused(f"{path}: {_size(declared)} once uncompressed (at most {_size(limits.max_bytes)}; "
                             "limit: ODOOPLANE_IMPORT_MAX_BYTES)")
    except BaseException:
        archive.close()
        raise
    return archive


def _directory_size(path: Path) -> tuple[int, int]:
    """(entries, central directory bytes) from the end-of-central-directory record (ZIP64 too)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            tail = min(size, 22 + 0xFFFF + 20)
            f.seek(size - tail)
            data = f.read(tail)
    except OSError as exc:
        raise ZipRefused(f"{path}: cannot read it ({exc.strerror})") from exc
    at = data.rfind(b"PK\x05\x06")
    if at < 0 or len(data) - at < 22:
        raise ZipRefused(f"{path}: not a zip file (no end-of-directory record)")
    count, directory_bytes = struct.unpack("<HI", data[at + 10:at + 16])
    locator = at - 20
    if locator >= 0 and data[locator:locator + 4] == b"PK\x06\x07":  # ZIP64: the real figures are elsewhere
        (record_at,) = struct.unpack("<Q", data[locator + 8:locator + 16])
        with open(path, "rb") as f:
            f.seek(record_at)
            record = f.read(56)
        if record[:4] != b"PK\x06\x06" or len(record) < 56:
            raise ZipRefused(f"{path}: a damaged ZIP64 directory record")
        count, directory_bytes = struct.unpack("<QQ", record[32:48])
    return int(count), int(directory_bytes)


class _Counted(io.RawIOBase):
    """An entry's bytes as they come out of the decompressor, counted against the budget."""

    def __init__(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: Budget) -> None:
        self._src = archive.open(info)
        self._info = info
        self._budget = budget
        self._read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        try:
            data = self._src.read(min(len(buffer), 1 << 20))
        except (zipfile.BadZipFile, EOFError, OSError) as exc:
            raise ZipRefused(f"{self._budget.source}: {self._info.filename} is damaged ({exc})") from exc
        self._read += len(data)
        self._budget.spend(self._info.filename, self._read, self._info.compress_size, len(data))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._src.close()
        super().close()


def open_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: Budget) -> io.BufferedReader:
    """A buffered reader of one entry that raises ZipRefused as soon as a limit is passed."""
    return io.BufferedReader(_Counted(archive, info, budget), buffer_size=1 << 20)


def extract(archive: zipfile.ZipFile, info: zipfile.ZipInfo, into: Path, budget: Budget) -> Path:
    """Write one entry under ``into`` (its path checked to stay inside), streaming."""
    target = inside(into, info.filename)
    if info.is_dir():
        target.mkdir(parents=True, exist_ok=True)
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open_entry(archive, info, budget) as src, open(target, "wb") as out:
        shutil.copyfileobj(src, out, 1 << 20)
    return target


def read_small(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: Budget, *, limit: int) -> bytes:
    """The whole of a small entry (a manifest), refused past ``limit`` bytes."""
    with open_entry(archive, info, budget) as src:
        data = src.read(limit + 1)
    if len(data) > limit:
        raise ZipRefused(f"{budget.source}: {info.filename} is larger than {_size(limit)}")
    return data


def inside(root: Path, name: str) -> Path:
    """``root/name``, refusing a name that would land outside ``root`` (``..``, absolute paths)."""
    base = root.resolve()
    target = (root / name).resolve()
    if target != base and not str(target).startswith(str(base) + os.sep):
        raise ZipRefused(f"the zip entry {name!r} would be written outside the extraction directory")
    return target


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024:
            return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"
