"""One task, as JSON, done on a :class:`Filestores`: the kinds, their arguments and their results.

A task is an object with ``kind`` and the kind's arguments; a filestore is
``{"storage": …, "database": …, "suffix": …}`` (suffix optional):

| kind | arguments | result |
|---|---|---|
| exists | ref | exists |
| copy | source, target | files |
| move | source, target | moved (false: done already) |
| remove | ref | |
| check | ref, attachments ([[store_fname, sha1], …]) | checked, missing, corrupt |
| size | ref | bytes |
| ensure-storage | storage, owner ([uid, gid], optional) | created |
| remove-storage | storage | |
| export | ref | files, bytes, skipped (the tar goes to stdout) |
| load | ref | files (the tar comes from stdin) |
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import IO, Any

from odooplane.agent.errors import InvalidTask
from odooplane.agent.filestores import Filestores, Ref
from odooplane.agent.names import check_storage

KINDS = ("exists", "copy", "move", "remove", "check", "size", "ensure-storage", "remove-storage", "export", "load")
STREAM_OUT = ("export",)  # stdout carries data: the result goes to stderr
STREAM_IN = ("load",)  # stdin carries data: the task comes as an argument


def _ref(task: Mapping[str, Any], key: str) -> Ref:
    value = task.get(key)
    if not isinstance(value, Mapping):
        raise InvalidTask(f"{task.get('kind')}: '{key}' must be an object with storage, database (and suffix)")
    return Ref.checked(value.get("storage"), value.get("database"), value.get("suffix", ""))


def _attachments(task: Mapping[str, Any]) -> list[tuple[str, str]]:
    value = task.get("attachments")
    if not isinstance(value, list):
        raise InvalidTask("check: 'attachments' must be a list of [store_fname, sha1]")
    out = []
    for index, item in enumerate(value):
        if (not isinstance(item, list | tuple) or len(item) != 2
                or not all(isinstance(part, str) for part in item)):
            raise InvalidTask(f"check: attachments[{index}] is not [store_fname, sha1]")
        out.append((item[0], item[1]))
    return out


def _owner(task: Mapping[str, Any]) -> tuple[int, int] | None:
    value = task.get("owner")
    if value is None:
        return None
    if (not isinstance(value, list) or len(value) != 2
            or not all(isinstance(n, int) and not isinstance(n, bool) and 0 < n < 2**31 for n in value)):
        raise InvalidTask("ensure-storage: 'owner' must be [uid, gid] (not root)")
    return value[0], value[1]


def run(task: object, store: Filestores, *, stdin: IO[bytes] | None = None,
        stdout: IO[bytes] | None = None) -> dict[str, Any]:
    """Do ``task`` on ``store``; return its result. Raise InvalidTask for a malformed task, and the
    other AgentErrors (Refused, NotFound) or OSError for one that could not be done."""
    if not isinstance(task, Mapping):
        raise InvalidTask("a task is a JSON object with a 'kind'")
    kind = task.get("kind")
    handler = _HANDLERS.get(kind) if isinstance(kind, str) else None
    if handler is None:
        raise InvalidTask(f"unknown task kind {kind!r} (known: {', '.join(KINDS)})")
    if kind in STREAM_IN and stdin is None:
        raise InvalidTask(f"{kind}: needs its tar stream on stdin")
    if kind in STREAM_OUT and stdout is None:
        raise InvalidTask(f"{kind}: needs a stdout for its tar stream")
    return handler(task, store, stdin, stdout)


def _storage(task: Mapping[str, Any]) -> str:
    return check_storage(task.get("storage"))


def _ensure(task: Mapping[str, Any], store: Filestores) -> dict[str, Any]:
    owner = _owner(task)
    storage = _storage(task)
    if owner is not None:
        store = Filestores(store.root, layout=store.layout, owner=owner)
    return {"created": store.ensure_storage(storage)}


def _export(task: Mapping[str, Any], store: Filestores, out: IO[bytes] | None) -> dict[str, Any]:
    assert out is not None
    files, size, skipped = store.export(_ref(task, "ref"), out)
    return {"files": files, "bytes": size, "skipped": skipped}


def _check(task: Mapping[str, Any], store: Filestores) -> dict[str, Any]:
    attachments = _attachments(task)
    missing, corrupt = store.check(_ref(task, "ref"), attachments)
    return {"checked": len(attachments), "missing": missing, "corrupt": corrupt}


def _remove(task: Mapping[str, Any], store: Filestores) -> dict[str, Any]:
    store.remove(_ref(task, "ref"))
    return {}


def _remove_storage(task: Mapping[str, Any], store: Filestores) -> dict[str, Any]:
    store.remove_storage(_storage(task))
    return {}


Handler = Callable[[Mapping[str, Any], Filestores, "IO[bytes] | None", "IO[bytes] | None"], dict[str, Any]]
_HANDLERS: dict[str, Handler] = {
    "exists": lambda t, s, _i, _o: {"exists": s.exists(_ref(t, "ref"))},
    "copy": lambda t, s, _i, _o: {"files": s.copy(_ref(t, "source"), _ref(t, "target"))},
    "move": lambda t, s, _i, _o: {"moved": s.move(_ref(t, "source"), _ref(t, "target"))},
    "remove": lambda t, s, _i, _o: _remove(t, s),
    "check": lambda t, s, _i, _o: _check(t, s),
    "size": lambda t, s, _i, _o: {"bytes": s.size(_ref(t, "ref"))},
    "ensure-storage": lambda t, s, _i, _o: _ensure(t, s),
    "remove-storage": lambda t, s, _i, _o: _remove_storage(t, s),
    "export": lambda t, s, _i, o: _export(t, s, o),
    "load": lambda t, s, i, _o: {"files": s.load(_ref(t, "ref"), i) if i is not None else 0},
}
