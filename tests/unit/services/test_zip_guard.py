"""services/zip_guard.py: a zip from elsewhere is read within limits — from what it declares, and
from what actually comes out of the decompressor when the declarations lie."""

from __future__ import annotations

import io
import random
import struct
import zipfile
from pathlib import Path

import pytest

from odooplane.services import zip_guard
from odooplane.services.zip_guard import Budget, ZipLimits, ZipRefused

LIMITS = ZipLimits(max_bytes=1 << 30, max_ratio=200, max_entries=1000)


def noise(n: int) -> bytes:
    """Bytes that do not compress (attachments, mostly)."""
    return random.Random(n).randbytes(n)


def read_all(stream: io.BufferedReader) -> int:
    total = 0
    while chunk := stream.read(65536):
        total += len(chunk)
    return total


def write_zip(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return path


def test_a_bomb_is_refused_from_the_sizes_it_declares(tmp_path: Path) -> None:
    bomb = write_zip(tmp_path / "bomb.zip", {"dump.sql": b"\0" * (32 << 20), "manifest.json": b"{}"})
    assert bomb.stat().st_size < 100_000
    with pytest.raises(ZipRefused, match=r"dump.sql would expand more than 200:1 .*ODOOPLANE_IMPORT_MAX_RATIO"):
        zip_guard.open_zip(bomb, LIMITS)
    # Small entries may compress as well as they like: they cannot hurt.
    small = write_zip(tmp_path / "small.zip", {"filestore/ab/cd": b"\0" * 500_000})
    zip_guard.open_zip(small, LIMITS).close()


def test_total_size_and_entry_count_are_limited(tmp_path: Path) -> None:
    many = write_zip(tmp_path / "many.zip", {f"filestore/{i}": b"x" for i in range(12)})
    with pytest.raises(ZipRefused, match=r"12 entries \(at most 10; limit: ODOOPLANE_IMPORT_MAX_FILES\)"):
        zip_guard.open_zip(many, ZipLimits(max_bytes=1 << 30, max_ratio=200, max_entries=10))
    big = write_zip(tmp_path / "big.zip", {"a": noise(1 << 20), "b": noise(1 << 20)})
    with pytest.raises(ZipRefused, match=r"2.0 MiB once uncompressed \(at most 1.5 MiB"):
        zip_guard.open_zip(big, ZipLimits(max_bytes=3 << 19, max_ratio=200, max_entries=10))


def test_the_entry_count_is_read_before_the_zip_reader_loads_its_directory(tmp_path: Path) -> None:
    # More than 65535 entries: the count is in the ZIP64 end record.
    path = tmp_path / "zip64.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for i in range(70_000):
            archive.writestr(f"{i}", b"")
    assert zip_guard._directory_size(path)[0] == 70_000
    with pytest.raises(ZipRefused, match="70000 entries"):
        zip_guard.open_zip(path, ZipLimits(max_bytes=1 << 30, max_ratio=200, max_entries=65_536))
    (tmp_path / "junk.zip").write_bytes(b"PK not really")
    with pytest.raises(ZipRefused, match="not a zip file"):
        zip_guard.open_zip(tmp_path / "junk.zip", LIMITS)


def test_bytes_are_counted_as_they_are_read_not_trusted_from_headers(tmp_path: Path) -> None:
    data = noise(2 << 20)
    path = write_zip(tmp_path / "ok.zip", {"dump.sql": data})
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("dump.sql")
        # Limits lower than what the headers declare (as if they lied): refused while streaming,
        # having read no more than a buffer past the limit.
        budget = Budget(ZipLimits(max_bytes=1 << 20, max_ratio=200, max_entries=10), "ok.zip")
        with zip_guard.open_entry(archive, info, budget) as stream, \
                pytest.raises(ZipRefused, match=r"more than 1\.0 MiB once uncompressed"):
            read_all(stream)
        assert budget.used <= (1 << 20) + (1 << 20)
        with zip_guard.open_entry(archive, info, Budget(LIMITS, "ok.zip")) as stream:
            assert stream.read() == data


def test_a_zip_whose_directory_understates_a_size_is_refused_as_damaged(tmp_path: Path) -> None:
    data = b"SELECT 1;\n" * 100_000
    path = write_zip(tmp_path / "liar.zip", {"dump.sql": data})
    raw = bytearray(path.read_bytes())
    central = raw.rfind(b"PK\x01\x02")
    raw[central + 24:central + 28] = struct.pack("<I", 1000)  # the uncompressed size, in the directory
    path.write_bytes(bytes(raw))
    with zip_guard.open_zip(path, LIMITS) as archive, \
            zip_guard.open_entry(archive, archive.getinfo("dump.sql"), Budget(LIMITS, str(path))) as stream, \
            pytest.raises(ZipRefused, match=r"dump\.sql is damaged"):
        read_all(stream)


def test_entries_that_would_land_outside_the_directory_are_refused(tmp_path: Path) -> None:
    assert zip_guard.inside(tmp_path, "filestore/ab/cd") == tmp_path.resolve() / "filestore" / "ab" / "cd"
    for name in ("../escape", "filestore/../../escape", "/etc/passwd"):
        with pytest.raises(ZipRefused, match="outside the extraction directory"):
            zip_guard.inside(tmp_path, name)


def test_extraction_streams_an_entry_to_disk(tmp_path: Path) -> None:
    data = noise(5 << 20)
    path = write_zip(tmp_path / "fs.zip", {"filestore/ab/abcdef": data})
    with zipfile.ZipFile(path) as archive:
        budget = Budget(LIMITS, str(path))
        written = zip_guard.extract(archive, archive.getinfo("filestore/ab/abcdef"), tmp_path / "out", budget)
    assert written.read_bytes() == data and budget.used == len(data)
