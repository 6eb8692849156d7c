"""The bucket side of stateless attachments, as the control plane sees it: the same small S3 client
the ``odooplane_attachments`` addon uses (loaded from its file, as the simulator does), so the keys
and signatures Odoo and Odooplane use cannot differ."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import secrets
import shutil
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

ADDON_S3 = Path(__file__).resolve().parents[1] / "odoo_addons" / "odooplane_attachments" / "s3.py"


class Bucket(Protocol):
    @property
    def endpoint(self) -> str: ...
    @property
    def bucket(self) -> str: ...
    @property
    def region(self) -> str: ...
    @property
    def access_key(self) -> str: ...
    @property
    def secret_key(self) -> str: ...

    def key(self, database: str, store_fname: str) -> str: ...


@cache
def _s3_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_odooplane_control_s3", ADDON_S3)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {ADDON_S3}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def client(bucket: Bucket) -> Any:
    """An S3 client of ``bucket`` (the addon's class)."""
    return _s3_module().S3(bucket.endpoint, bucket.bucket, access_key=bucket.access_key,
                           secret_key=bucket.secret_key, region=bucket.region)


def s3_error() -> type[Exception]:
    """The addon's exception class (what a refusing S3 server raises)."""
    return _s3_module().S3Error  # type: ignore[no-any-return]


STORE_FNAME = re.compile(r"[0-9a-f]{2}/(?P<sha1>[0-9a-f]{40})")  # ir.attachment._get_path: content-addressed


@dataclass
class Fetched:
    fetched: int = 0  # objects downloaded now
    cached: int = 0  # objects taken from the cache of an earlier copy
    missing: list[str] = field(default_factory=list)  # store_fnames in neither the filestore nor the bucket
    corrupt: list[str] = field(default_factory=list)  # objects whose content is not their sha1
    refused: list[str] = field(default_factory=list)  # names that are no content address (never a path)


def fetch_into(bucket: Bucket, database: str, attachments: list[tuple[str, str]], filestore: Path,
               cache_dir: Path) -> Fetched:
    """Make ``filestore`` (a copy of the database's filestore, outside it) hold every attachment of
    ``attachments`` ((store_fname, checksum)): those it lacks come from the bucket, through
    ``cache_dir`` (an object is content-addressed, so downloaded once), hard-linked (or copied) into
    place. Only content addresses are taken (``xx/<sha1>`` whose checksum is that sha1: a name from
    the database never becomes another path), and an object only when its content has that sha1.
    Afterwards the cache holds exactly these attachments (deleted ones, partial downloads go)."""
    out = Fetched()
    s3 = None
    wanted: set[str] = set()
    for fname, checksum in attachments:
        found = STORE_FNAME.fullmatch(fname)
        if found is None or checksum != found["sha1"]:
            out.refused.append(fname)
            continue
        wanted.add(fname)
        target = filestore / fname
        if target.is_file():
            continue
        cached = cache_dir / fname
        if cached.is_file():
            out.cached += 1
        else:
            if s3 is None:
                s3 = client(bucket)
            data = s3.get(bucket.key(database, fname))
            if data is None:
                out.missing.append(fname)
                continue
            if hashlib.sha1(data).hexdigest() != checksum:  # noqa: S324 - Odoo's content address
                out.corrupt.append(fname)
                continue
            cached.parent.mkdir(parents=True, exist_ok=True)
            partial = cached.with_name(f".{cached.name}.{secrets.token_hex(4)}.part")  # two copies may fetch it
            partial.write_bytes(data)
            os.replace(partial, cached)
            out.fetched += 1
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(cached, target)
        except OSError:  # another file system: a copy
            shutil.copyfile(cached, target)
    _prune(cache_dir, wanted)
    return out


def _prune(cache_dir: Path, wanted: set[str]) -> None:
    """The cache keeps only the attachments the database still names."""
    if not cache_dir.is_dir():
        return
    for path in cache_dir.glob("*/*"):
        relative = path.relative_to(cache_dir).as_posix()
        if relative not in wanted:
            path.unlink(missing_ok=True)
