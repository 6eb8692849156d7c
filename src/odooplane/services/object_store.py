"""The bucket side of stateless attachments, as the control plane sees it: the same small S3 client
the ``odooplane_attachments`` addon uses (loaded from its file, as the simulator does), so the keys
and signatures Odoo and Odooplane use cannot differ."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import secrets
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


@dataclass
class Fetched:
    fetched: int = 0  # objects downloaded now
    cached: int = 0  # objects taken from the cache of an earlier backup
    missing: list[str] = field(default_factory=list)  # store_fnames in neither the filestore nor the bucket
    corrupt: list[str] = field(default_factory=list)  # objects whose content is not their sha1


def fetch_into(bucket: Bucket, database: str, attachments: list[tuple[str, str]], filestore: Path,
               cache_dir: Path) -> Fetched:
    """Make ``filestore`` (a backup stage's copy of the database's filestore) hold every attachment
    of ``attachments`` ((store_fname, sha1)): those it lacks come from the bucket, through
    ``cache_dir`` (kept between backups: an object is content-addressed, so downloaded once), hard-
    linked into place. An object is taken only when its content has its sha1."""
    out = Fetched()
    s3 = None
    for fname, sha1 in attachments:
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
            if sha1 and hashlib.sha1(data).hexdigest() != sha1:  # noqa: S324 - Odoo's content address
                out.corrupt.append(fname)
                continue
            cached.parent.mkdir(parents=True, exist_ok=True)
            partial = cached.with_name(f".{cached.name}.{secrets.token_hex(4)}.part")  # two copies may fetch it
            partial.write_bytes(data)
            os.replace(partial, cached)
            out.fetched += 1
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(cached, target)
    return out
