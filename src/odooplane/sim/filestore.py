"""The filestore: content-addressed attachment files, as ``ir.attachment`` stores them.

A binary attachment's content lives in
``<data_dir>/filestore/<db>/<sha1[:2]>/<sha1>``; ``ir_attachment.store_fname``
is ``<sha1[:2]>/<sha1>`` and ``checksum`` the full SHA-1.  Identical contents
share one file.  Writes are not transactional (neither are Odoo's): a file may
outlive a rolled-back transaction until Odoo's garbage collection.
"""

from __future__ import annotations

import functools
import hashlib
import os
import struct
import zlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Stored:
    """Where one content landed."""

    checksum: str
    store_fname: str
    file_size: int


def checksum(content: bytes) -> str:
    """Return the SHA-1 hex digest Odoo uses as checksum and file name."""
    return hashlib.sha1(content, usedforsecurity=False).hexdigest()


def store_fname(digest: str) -> str:
    """``ir.attachment._get_path``: ``xx/xxxxxxxx...``."""
    return f"{digest[:2]}/{digest}"


def write(filestore_dir: str, content: bytes) -> Stored:
    """Write ``content`` under ``filestore_dir`` (the database's filestore) unless present.

    Return its checksum, store_fname and size.
    """
    digest = checksum(content)
    fname = store_fname(digest)
    path = os.path.join(filestore_dir, fname)
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "wb") as handle:
            handle.write(content)
        os.replace(tmp, path)
    return Stored(checksum=digest, store_fname=fname, file_size=len(content))


def read(filestore_dir: str, fname: str) -> bytes:
    """Return the content stored as ``fname``. Raise OSError if the file is missing."""
    with open(os.path.join(filestore_dir, fname), "rb") as handle:
        return handle.read()


@functools.cache
def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """Return a valid solid-colour PNG image (stand-in for logos and icons)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(row * height, 9)) + chunk(b"IEND", b""))
