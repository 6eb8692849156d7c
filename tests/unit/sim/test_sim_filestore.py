"""Content-addressed filestore layout."""

from __future__ import annotations

import hashlib
import struct
import zlib
from pathlib import Path

from odooplane.sim import filestore


def test_content_lands_under_its_sha1(tmp_path: Path) -> None:
    stored = filestore.write(str(tmp_path), b"hello")
    digest = hashlib.sha1(b"hello").hexdigest()
    assert stored.checksum == digest
    assert stored.store_fname == f"{digest[:2]}/{digest}"
    assert stored.file_size == 5
    assert (tmp_path / digest[:2] / digest).read_bytes() == b"hello"
    assert filestore.read(str(tmp_path), stored.store_fname) == b"hello"


def test_identical_contents_share_one_file(tmp_path: Path) -> None:
    first = filestore.write(str(tmp_path), b"same")
    second = filestore.write(str(tmp_path), b"same")
    assert first == second
    assert len(list(tmp_path.rglob("*"))) == 2  # one directory, one file


def test_png_is_a_valid_image() -> None:
    image = filestore.png(3, 2, (1, 2, 3))
    assert image.startswith(b"\x89PNG\r\n\x1a\n")
    length = struct.unpack(">I", image[8:12])[0]
    assert image[12:16] == b"IHDR"
    assert struct.unpack(">II", image[16:24]) == (3, 2)
    assert zlib.crc32(image[12:16 + length]) & 0xFFFFFFFF == struct.unpack(">I", image[16 + length:20 + length])[0]
