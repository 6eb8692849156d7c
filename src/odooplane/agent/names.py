"""The names a task may carry and where each storage lives under the agent's root.

Every name is matched whole against a strict pattern before it reaches a path: no ``/``, no
leading dot, no ``..``; a storage is ``env-<slug>``, ``pool-<name>``, ``tpl-<key>`` or
``sandbox-<name>``. Two layouts place a storage's data_dir under the root:

- ``flat`` (a container: one volume per storage mounted at ``<root>/<storage>``);
- ``local`` (the local driver's runtime directory: ``envs/<slug>/data``, ``pools/<name>/data``,
  ``templates/<key>/data``, ``sandboxes/<name>/data``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from odooplane.agent.errors import InvalidTask

LayoutName = Literal["flat", "local"]
LAYOUTS: tuple[LayoutName, ...] = ("flat", "local")
KINDS = ("env", "pool", "tpl", "sandbox")
STORAGE_RE = re.compile(r"(env|pool|tpl|sandbox)-([a-z0-9][a-z0-9_-]{0,127})")
DATABASE_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,62}")
SUFFIX_RE = re.compile(r"(\.[a-z][a-z0-9_-]{0,31})?")
_LOCAL_HOMES = {"env": "envs", "pool": "pools", "tpl": "templates", "sandbox": "sandboxes"}


def _checked(value: object, pattern: re.Pattern[str], what: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise InvalidTask(f"{value!r} is not {what}")
    return value


def check_storage(value: object) -> str:
    return _checked(value, STORAGE_RE, "a storage: env-<slug>, pool-<name>, tpl-<key> or sandbox-<name> "
                                       "(lowercase letters, digits, '-' and '_')")


def check_database(value: object) -> str:
    return _checked(value, DATABASE_RE, "a database name (letters, digits, '-' and '_', at most 63)")


def check_suffix(value: object) -> str:
    return _checked(value, SUFFIX_RE, "a filestore suffix (empty, or '.' and a lowercase word: .restore, .old)")


def check_layout(value: str) -> LayoutName:
    for layout in LAYOUTS:
        if value == layout:
            return layout
    raise InvalidTask(f"layout {value!r} is not one of {', '.join(LAYOUTS)}")


def data_dir(layout: LayoutName, storage: str) -> Path:
    """The data_dir of ``storage`` relative to the root."""
    kind, key = _split(storage)
    if layout == "flat":
        return Path(storage)
    return Path(_LOCAL_HOMES[kind], key, "data")


def home(layout: LayoutName, storage: str) -> Path:
    """What removing ``storage`` removes, relative to the root: its data_dir, or on the local layout
    for a template or a sandbox its workload's whole home (odoo.conf, logs: nothing else lives there)."""
    kind, _ = _split(storage)
    found = data_dir(layout, storage)
    return found.parent if layout == "local" and kind in ("tpl", "sandbox") else found


def _split(storage: str) -> tuple[str, str]:
    matched = STORAGE_RE.fullmatch(check_storage(storage))
    assert matched is not None
    return matched.group(1), matched.group(2)
