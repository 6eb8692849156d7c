"""Secrets at rest: Fernet-encrypted values in the state database.

The key comes from ``ODOOPLANE_SECRET_KEY`` or a 0600 key file in the data directory (created on
first use). Only ciphertext and an HMAC fingerprint are stored; the fingerprint lets callers
see whether a value changed without decrypting it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets as pysecrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken

from odooplane import log
from odooplane.errors import SecretError
from odooplane.store import tables
from odooplane.store.db import Store, now

KEY_ENV = "ODOOPLANE_SECRET_KEY"


def load_key(key_file: Path) -> bytes:
    """Return the Fernet key: from the environment, else from ``key_file`` (created 0600)."""
    from_env = os.environ.get(KEY_ENV)
    if from_env:
        key = from_env.encode()
    elif key_file.exists():
        key = key_file.read_bytes().strip()
    else:
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key = Fernet.generate_key()
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(key + b"\n")
    try:
        Fernet(key)
    except ValueError as exc:
        raise SecretError(f"the secret key ({KEY_ENV} or {key_file}) is not a valid Fernet key") from exc
    return key


class SecretBox:
    def __init__(self, store: Store, key: bytes) -> None:
        self._store = store
        self._fernet = Fernet(key)
        self._mac_key = hashlib.sha256(b"odooplane-fingerprint:" + key).digest()
        self._snapshot: dict[str, str] | None = None  # name -> ciphertext, while reading in bulk

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Read every secret's ciphertext in one query and answer ``get`` from it inside the block
        (observing an estate reads a few secrets per environment). A write inside the block drops
        the snapshot, so nothing stale is ever returned."""
        with self._store.connect() as conn:
            rows = conn.execute(sa.select(tables.secrets.c.name, tables.secrets.c.ciphertext)).all()
        self._snapshot = {str(r.name): str(r.ciphertext) for r in rows}
        try:
            yield
        finally:
            self._snapshot = None

    def fingerprint(self, value: str) -> str:
        return hmac.new(self._mac_key, value.encode(), hashlib.sha256).hexdigest()

    def put(self, name: str, value: str) -> None:
        self._snapshot = None
        log.register_secret(value)
        token = self._fernet.encrypt(value.encode()).decode()
        values = {"ciphertext": token, "fingerprint": self.fingerprint(value), "updated_at": now()}
        with self._store.begin() as conn:
            updated = conn.execute(tables.secrets.update().where(tables.secrets.c.name == name).values(**values))
            if updated.rowcount == 0:
                conn.execute(tables.secrets.insert().values(name=name, **values))

    def get(self, name: str) -> str | None:
        if self._snapshot is not None:
            token = self._snapshot.get(name)
        else:
            with self._store.connect() as conn:
                token = conn.execute(
                    sa.select(tables.secrets.c.ciphertext).where(tables.secrets.c.name == name)).scalar()
        if token is None:
            return None
        try:
            value = self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise SecretError(f"secret {name!r} cannot be decrypted with the current key") from exc
        log.register_secret(value)
        return value

    def get_or_create(self, name: str, *, length: int = 32) -> str:
        """Return the stored secret ``name``, generating a random one first if there is none."""
        found = self.get(name)
        if found is not None:
            return found
        value = base64.urlsafe_b64encode(pysecrets.token_bytes(length)).decode().rstrip("=")
        self.put(name, value)
        return self.get(name) or value

    def delete_prefix(self, prefix: str) -> int:
        return self.delete_prefixes([prefix])

    def delete_prefixes(self, prefixes: list[str]) -> int:
        """Delete every secret whose name starts with one of ``prefixes``, in one transaction."""
        self._snapshot = None
        deleted = 0
        with self._store.begin() as conn:
            for prefix in prefixes:
                result = conn.execute(tables.secrets.delete().where(tables.secrets.c.name.startswith(prefix)))
                deleted += int(result.rowcount or 0)
        return deleted

    def names(self) -> list[str]:
        with self._store.connect() as conn:
            return [str(r[0]) for r in conn.execute(sa.select(tables.secrets.c.name)).all()]
