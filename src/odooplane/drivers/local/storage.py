"""Filestores as directories of this host (the local driver's Storage): the data-plane agent's own
functions (odooplane/agent/), called in-process — hard-link copies, renames, mirrors into the
control plane's backup stage — every directory made under the runtime directory handed to Odoo's
service user."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from odooplane.agent.errors import AgentError
from odooplane.agent.filestores import Filestores, Ref
from odooplane.drivers.base import FilestoreCheck, FilestoreRef
from odooplane.errors import PermanentError
from odooplane.layout import Layout
from odooplane.services.service_users import ServiceUser


def agent_ref(ref: FilestoreRef) -> Ref:
    """The agent's reference of ``ref``, its names checked (PermanentError if one is not a name)."""
    with agent_errors():
        return Ref.checked(ref.storage, ref.database, ref.suffix)


@contextmanager
def agent_errors() -> Iterator[None]:
    """What the agent refuses, as the control plane's PermanentError (the same message)."""
    try:
        yield
    except AgentError as exc:
        raise PermanentError(str(exc)) from None


class LocalStorage:
    def __init__(self, layout: Layout, user: ServiceUser | None, *, files: Filestores | None = None) -> None:
        self.layout = layout
        self.user = user
        self.files = files or Filestores(layout.run_root, layout="local",
                                         owner=(user.uid, user.gid) if user else None)

    def path(self, ref: FilestoreRef) -> Path:
        with agent_errors():
            return self.files.path(agent_ref(ref))

    def exists(self, ref: FilestoreRef) -> bool:
        with agent_errors():
            return self.files.exists(agent_ref(ref))

    def copy(self, source: FilestoreRef, target: FilestoreRef) -> int:
        with agent_errors():
            return self.files.copy(agent_ref(source), agent_ref(target))

    def move(self, source: FilestoreRef, target: FilestoreRef) -> None:
        """Rename ``source`` to ``target``. Done already (``source`` gone, ``target`` there): nothing
        to do. Raise PermanentError rather than move onto an existing ``target`` (whose files would
        otherwise be lost or merged) or when there is nothing to move."""
        with agent_errors():
            self.files.move(agent_ref(source), agent_ref(target))

    def remove(self, ref: FilestoreRef) -> None:
        with agent_errors():
            self.files.remove(agent_ref(ref))

    def export(self, source: FilestoreRef, into: Path) -> int:
        with agent_errors():
            return self.files.export_dir(agent_ref(source), into)

    def load(self, source: Path, target: FilestoreRef) -> int:
        with agent_errors():
            return self.files.load_dir(source, agent_ref(target))

    def check(self, ref: FilestoreRef, attachments: list[tuple[str, str]]) -> FilestoreCheck:
        with agent_errors():
            missing, corrupt = self.files.check(agent_ref(ref), attachments)
        return FilestoreCheck(len(attachments), tuple(missing), tuple(corrupt))

    def size(self, ref: FilestoreRef) -> int:
        with agent_errors():
            return self.files.size(agent_ref(ref))

    def ensure_storage(self, storage: str) -> None:
        with agent_errors():
            self.files.ensure_storage(storage)

    def remove_storage(self, storage: str) -> None:
        with agent_errors():
            self.files.remove_storage(storage)
