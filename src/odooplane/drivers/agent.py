"""The data-plane agent as the control plane uses it: where a task goes (stdin, or its own argument
when stdin carries a tar), how its one-line JSON outcome is read, and :class:`AgentStorage`, the
``Storage`` of a driver whose filestores are reached only through ``Driver.run_agent`` (a remote
Docker Engine, ``platform.compose.storage: agent``)."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from odooplane import execute
from odooplane.agent import archive, tree
from odooplane.agent.errors import AgentError
from odooplane.drivers.base import AgentKind, AgentTask, FilestoreCheck, FilestoreRef, filestore_argument
from odooplane.errors import PermanentError


def task_input(task: AgentTask, stdin: bytes | Path | None) -> tuple[list[str], bytes | Path]:
    """(extra argv, stdin) of the agent's command: the task on stdin (no limit on a long check),
    or as the argument when stdin carries a load's tar."""
    if stdin is None:
        return [], task.to_json().encode()
    return [task.to_json()], stdin


def outcome(result: execute.Result, task: AgentTask, *, where: str) -> dict[str, Any]:
    """The result the agent printed for ``task`` (the last line of stdout; of stderr for an
    export). Raise PermanentError with its own message when it refused or failed, or with the
    last line it printed when it gave no outcome at all (the program or its image is missing)."""
    stream = result.stderr if task.kind == "export" else result.stdout
    lines = [line for line in stream.splitlines() if line.strip()]
    parsed: Any = None
    if lines:
        try:
            parsed = json.loads(lines[-1])
        except ValueError:
            parsed = None
    if not isinstance(parsed, dict) or "ok" not in parsed:
        tail = (result.stderr.strip().splitlines() or result.stdout.strip().splitlines() or ["(no output)"])[-1]
        raise PermanentError(f"the agent ({where}) gave no result for {task.kind} (exit {result.returncode}): {tail}")
    if not parsed.pop("ok"):
        raise PermanentError(f"agent {task.kind} ({where}): {parsed.get('error')}")
    return parsed


class RunsAgent(Protocol):
    def __call__(self, task: AgentTask, *, stdin: bytes | Path | None = None,
                 stdout: Path | None = None) -> dict[str, Any]: ...


@contextmanager
def scratch_tar(beside: Path) -> Iterator[Path]:
    """A temporary tar file in the control plane's directory next to ``beside`` (removed after)."""
    beside.parent.mkdir(parents=True, exist_ok=True)
    directory = beside.parent
    fd, name = tempfile.mkstemp(prefix=f".{beside.name}.", suffix=".tar", dir=directory)
    os.close(fd)
    try:
        yield Path(name)
    finally:
        Path(name).unlink(missing_ok=True)


class AgentStorage:
    """Filestores done by the agent where they live; export and load stream a tar through a file of
    the control plane's directory (the stage a backup is made from, a restore is loaded from)."""

    def __init__(self, run_agent: RunsAgent, *, ensure: Callable[[str], None] | None = None,
                 remove: Callable[[str], None] | None = None) -> None:
        self.run_agent = run_agent
        self._ensure = ensure
        self._remove = remove

    def _run(self, kind: AgentKind, **arguments: Any) -> dict[str, Any]:
        for key in ("ref", "source", "target"):
            if isinstance(arguments.get(key), FilestoreRef):
                arguments[key] = filestore_argument(arguments[key])
        return self.run_agent(AgentTask(kind, arguments))

    def exists(self, ref: FilestoreRef) -> bool:
        return bool(self._run("exists", ref=ref)["exists"])

    def copy(self, source: FilestoreRef, target: FilestoreRef) -> int:
        return int(self._run("copy", source=source, target=target)["files"])

    def move(self, source: FilestoreRef, target: FilestoreRef) -> None:
        self._run("move", source=source, target=target)

    def remove(self, ref: FilestoreRef) -> None:
        self._run("remove", ref=ref)

    def export(self, source: FilestoreRef, into: Path) -> int:
        """Mirror ``source`` into ``into`` (replaced) through the agent's tar, unpacked here with
        the same refusals as a load (no member outside ``into``, no links, no devices)."""
        into.parent.mkdir(parents=True, exist_ok=True)
        with scratch_tar(into) as tar:
            self.run_agent(AgentTask("export", {"ref": filestore_argument(source)}), stdout=tar)
            tree.remove_tree(into)
            try:
                with tar.open("rb") as stream:
                    return archive.load(stream, into)
            except AgentError as exc:
                tree.remove_tree(into)
                raise PermanentError(f"the export of {source} is refused: {exc}") from None

    def load(self, source: Path, target: FilestoreRef) -> int:
        """Make ``target`` the directory ``source`` (consumed, as the local driver moves it; a
        missing ``source`` makes an empty filestore)."""
        with scratch_tar(source) as tar:
            with tar.open("wb") as out:
                archive.export(source, out)
            files = int(self.run_agent(AgentTask("load", {"ref": filestore_argument(target)}), stdin=tar)["files"])
        tree.remove_tree(source)
        return files

    def check(self, ref: FilestoreRef, attachments: list[tuple[str, str]]) -> FilestoreCheck:
        found = self._run("check", ref=ref, attachments=[list(a) for a in attachments])
        return FilestoreCheck(int(found["checked"]), tuple(found["missing"]), tuple(found["corrupt"]))

    def size(self, ref: FilestoreRef) -> int:
        return int(self._run("size", ref=ref)["bytes"])

    def ensure_storage(self, storage: str) -> None:
        if self._ensure is not None:
            self._ensure(storage)
            return
        self._run("ensure-storage", storage=storage)

    def remove_storage(self, storage: str) -> None:
        if self._remove is not None:
            self._remove(storage)
            return
        self._run("remove-storage", storage=storage)
