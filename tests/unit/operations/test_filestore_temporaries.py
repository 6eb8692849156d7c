"""Staged and stale filestores are registered by reference (storage, database, suffix), not by a
path of this host, and the clean-up removes them through the driver's storage; a swap's record
names the environment's storage — and a record an earlier version wrote with paths still reads."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from odooplane.drivers.base import FilestoreRef
from odooplane.drivers.local.storage import LocalStorage
from odooplane.errors import OdooplaneError
from odooplane.layout import Layout
from odooplane.operations import temporaries
from odooplane.store import db
from odooplane.store import temporaries as registry

STAGED = FilestoreRef("env-acme__prod", "acme_prod", ".restore")


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[Any]:
    store = db.open_store(f"sqlite:///{tmp_path / 'state.db'}")
    storage = LocalStorage(Layout(tmp_path / "data", runtime=tmp_path / "runtime"), None)
    try:
        yield SimpleNamespace(store=store, driver=SimpleNamespace(storage=storage))
    finally:
        store.close()


def test_a_staged_filestore_left_by_a_killed_operation_is_removed_through_the_storage(ctx: Any) -> None:
    temporaries.register_filestore(ctx, STAGED, target="acme/prod", purpose="restore", operation_id=None)
    row = registry.all_registered(ctx.store)[0]
    assert (row.kind, row.name, row.data) == (
        "filestore", "env-acme__prod:filestore/acme_prod.restore",
        {"storage": "env-acme__prod", "database": "acme_prod", "suffix": ".restore"})
    staged = ctx.driver.storage.path(STAGED)
    (staged / "ab").mkdir(parents=True)
    (staged / "ab" / "ab01").write_bytes(b"restored")
    live = ctx.driver.storage.path(STAGED.sibling(""))
    live.mkdir()

    done = temporaries.clean_up(ctx, target="acme/prod", held=True)

    assert done == ["removed filestore env-acme__prod:filestore/acme_prod.restore (restore, left by an operation)"]
    assert not staged.exists() and live.is_dir()  # only what was registered
    assert registry.all_registered(ctx.store) == []


def test_a_swap_record_names_the_storage_and_its_filestores_by_reference() -> None:
    swap = temporaries.Swap(cluster="main", database="acme_prod", temp="acme_prod__restore", old_db="acme_prod__old",
                            storage="pool-shared", in_place=True, marker="odooplane:e:acme/prod")
    data = swap.as_data()
    assert not any(isinstance(v, str) and "/" in v and k != "marker" for k, v in data.items()), data
    assert temporaries.Swap.from_data(data) == swap
    assert (swap.live, swap.staged, swap.swapped_out) == (
        FilestoreRef("pool-shared", "acme_prod"), FilestoreRef("pool-shared", "acme_prod", ".restore"),
        FilestoreRef("pool-shared", "acme_prod", ".old"))


@pytest.mark.parametrize(("path", "storage"), [
    ("/srv/opl/runtime/envs/acme__prod/data/filestore/acme_prod", "env-acme__prod"),
    ("/srv/opl/pools/shared/data/filestore/acme_prod", "pool-shared"),
])
def test_a_swap_recorded_with_paths_by_an_earlier_version_still_reads(path: str, storage: str) -> None:
    old = {"cluster": "main", "database": "acme_prod", "temp": "acme_prod__restore", "old_db": "acme_prod__old",
           "filestore": path, "staging": f"{path[:-len('acme_prod')]}acme_prod.restore",
           "old_files": f"{path[:-len('acme_prod')]}acme_prod.old", "in_place": True, "marker": "m"}
    swap = temporaries.Swap.from_data(old)
    assert swap.storage == storage and swap.in_place and swap.temp == "acme_prod__restore"
    assert swap.staged == FilestoreRef(storage, "acme_prod", ".restore")


def test_a_swap_record_with_a_path_that_is_no_filestore_is_refused_not_guessed() -> None:
    old = {"cluster": "main", "database": "acme_prod", "temp": "t", "old_db": "o", "filestore": "/etc/passwd",
           "staging": "/tmp/x", "old_files": "/tmp/y", "in_place": False, "marker": "m"}
    with pytest.raises(OdooplaneError, match="not an environment's or pool's filestore"):
        temporaries.Swap.from_data(old)
