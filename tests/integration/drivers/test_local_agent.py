"""The local driver's ``run_agent``: the agent as a subprocess of this host, as Odoo's service user
when there is one, on the local layout of the runtime directory — and ``AgentStorage`` through it
doing what the in-process ``LocalStorage`` does."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from odooplane.drivers.agent import AgentStorage
from odooplane.drivers.base import AgentTask, EdgeSpec, FilestoreRef, filestore_argument
from odooplane.drivers.local import LocalDriver
from odooplane.errors import PermanentError
from odooplane.layout import Layout
from odooplane.services.service_users import ServiceUser
from tests.support import storage_contract

pytestmark = pytest.mark.integration

EDGE = EdgeSpec(http_address="127.0.0.1:1", api_port=1, trusted_proxies=(), access_log=False)


def driver(root: Path, user: ServiceUser | None = None) -> LocalDriver:
    return LocalDriver(Layout(root / "data", runtime=root / "runtime"), EDGE, user)


def test_agent_storage_through_the_subprocess_does_every_storage_method(tmp_path: Path) -> None:
    local = driver(tmp_path)
    storage_contract.exercise(AgentStorage(local.run_agent), tmp_path / "control", name="acme")


def test_the_agent_works_on_the_local_driver_s_own_data_dirs(tmp_path: Path) -> None:
    local = driver(tmp_path)
    ref = FilestoreRef("env-acme__prod", "acme_prod")
    (local.storage.path(ref) / "ab").mkdir(parents=True)
    (local.storage.path(ref) / "ab" / "abc").write_bytes(b"12345")
    assert local.run_agent(AgentTask("size", {"ref": filestore_argument(ref)})) == {"bytes": 5}
    assert local.run_agent(AgentTask("copy", {"source": filestore_argument(ref),
                                              "target": filestore_argument(ref.sibling(".old"))})) == {"files": 1}
    assert (local.storage.path(ref.sibling(".old")) / "ab" / "abc").stat().st_ino == \
        (local.storage.path(ref) / "ab" / "abc").stat().st_ino


def test_what_the_agent_refuses_is_a_permanent_error_with_its_reason(tmp_path: Path) -> None:
    local = driver(tmp_path)
    with pytest.raises(PermanentError, match=r"agent move \(local\): env-a:filestore/a.restore does not exist"):
        local.run_agent(AgentTask("move", {"source": {"storage": "env-a", "database": "a", "suffix": ".restore"},
                                           "target": {"storage": "env-a", "database": "a"}}))
    with pytest.raises(PermanentError, match="is not a storage"):
        local.run_agent(AgentTask("size", {"ref": {"storage": "env-../../etc", "database": "a"}}))


@pytest.fixture
def open_root() -> Iterator[Path]:
    """A runtime directory another user may enter (pytest's own temporary directory is root's only)."""
    root = Path(tempfile.mkdtemp(prefix="odooplane-agent-"))
    root.chmod(0o755)
    try:
        yield root
    finally:
        import shutil

        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="running the agent as another user needs root")
def test_the_agent_runs_as_odoo_s_service_user_so_what_it_writes_is_odoo_s(open_root: Path) -> None:
    nobody = ServiceUser("nobody", 65534, 65534)
    local = driver(open_root, nobody)
    local.layout.run_root.mkdir(mode=0o755)
    os.chown(local.layout.run_root, nobody.uid, nobody.gid)
    storage = AgentStorage(local.run_agent)
    storage.ensure_storage("env-acme__prod")
    source = open_root / "control" / "filestore"
    (source / "ab").mkdir(parents=True)
    (source / "ab" / "abc").write_bytes(b"x")
    target = FilestoreRef("env-acme__prod", "acme_prod")
    assert storage.load(source, target) == 1
    written = local.storage.path(target) / "ab" / "abc"
    for path in (written, written.parent, local.storage.path(target)):
        assert (path.stat().st_uid, path.stat().st_gid) == (nobody.uid, nobody.gid), path
