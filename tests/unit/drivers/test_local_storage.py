"""The local driver's filestores: directories of this host at the places Odoo's data_dirs have
always been, copied with hard links, renamed without ever landing on an existing filestore,
mirrored into and loaded from the control plane's directories, and checked without ever reading
a file outside the filestore."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from odooplane.drivers.base import FilestoreRef
from odooplane.drivers.local.odoo import storage_dir
from odooplane.drivers.local.storage import LocalStorage
from odooplane.errors import PermanentError
from odooplane.layout import Layout

LIVE = FilestoreRef("env-acme__prod", "acme_prod")


def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(Layout(tmp_path / "data", runtime=tmp_path / "runtime"), None)


def put(store: LocalStorage, ref: FilestoreRef, files: dict[str, bytes]) -> None:
    for name, content in files.items():
        path = store.path(ref) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


def contents(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def sha1(content: bytes) -> str:
    return hashlib.sha1(content).hexdigest()  # Odoo's checksum of a stored file


def test_refs_name_the_data_dirs_odoo_has_always_used(tmp_path: Path) -> None:
    store = storage(tmp_path)
    layout = store.layout
    assert store.path(LIVE) == layout.env_data("acme__prod") / "filestore" / "acme_prod"
    assert store.path(LIVE.sibling(".restore")) == layout.env_data("acme__prod") / "filestore" / "acme_prod.restore"
    assert store.path(FilestoreRef("pool-shared", "b_prod")) == layout.pool_data("shared") / "filestore" / "b_prod"
    assert store.path(FilestoreRef("tpl-k1", "tpl-k1")) == layout.template_dir("k1") / "data" / "filestore" / "tpl-k1"
    assert store.path(FilestoreRef("sandbox-vfy-a-1", "vfy-a-1")) == (
        layout.odoo_sandbox("vfy-a-1") / "data" / "filestore" / "vfy-a-1")


def test_copy_is_hard_links_on_one_filesystem_and_replaces_what_the_target_had(tmp_path: Path) -> None:
    store = storage(tmp_path)
    put(store, LIVE, {"ab/ab01": b"one", "cd/cd02": b"two"})
    snapshot = LIVE.sibling(".preupgrade")
    put(store, snapshot, {"zz/stale": b"from an earlier run"})
    assert store.copy(LIVE, snapshot) == 2
    assert contents(store.path(snapshot)) == {"ab/ab01": b"one", "cd/cd02": b"two"}
    original, copied = store.path(LIVE) / "ab/ab01", store.path(snapshot) / "ab/ab01"
    assert original.stat().st_ino == copied.stat().st_ino  # the same file, not a second copy of it


def test_copy_of_a_missing_filestore_is_an_empty_one(tmp_path: Path) -> None:
    store = storage(tmp_path)
    target = FilestoreRef("pool-shared", "acme_prod")
    assert store.copy(LIVE, target) == 0
    assert store.exists(target) and contents(store.path(target)) == {}


def test_copy_and_export_never_follow_a_symlink_out_of_the_filestore(tmp_path: Path) -> None:
    store = storage(tmp_path)
    secret = tmp_path / "secret"
    secret.write_bytes(b"not the tenant's")
    put(store, LIVE, {"ab/ab01": b"one"})
    (store.path(LIVE) / "ab" / "link").symlink_to(secret)
    store.copy(LIVE, LIVE.sibling(".old"))
    stage = tmp_path / "data" / "backups" / "staging" / "acme__prod" / "filestore"
    store.export(LIVE, stage)
    for copied in (store.path(LIVE.sibling(".old")) / "ab" / "link", stage / "ab" / "link"):
        assert copied.is_symlink()  # the link itself, never the file it points to
        assert copied.lstat().st_ino != secret.stat().st_ino


def test_move_renames_and_is_done_once_the_source_is_gone(tmp_path: Path) -> None:
    store = storage(tmp_path)
    put(store, LIVE, {"ab/ab01": b"one"})
    aside = LIVE.sibling(".old")
    store.move(LIVE, aside)
    assert not store.exists(LIVE) and contents(store.path(aside)) == {"ab/ab01": b"one"}
    store.move(LIVE, aside)  # run again after a kill: already done
    assert contents(store.path(aside)) == {"ab/ab01": b"one"}


def test_move_refuses_an_existing_target_and_keeps_both(tmp_path: Path) -> None:
    store = storage(tmp_path)
    staged = LIVE.sibling(".restore")
    put(store, LIVE, {"ab/live": b"live"})
    put(store, staged, {"ab/staged": b"staged"})
    with pytest.raises(PermanentError, match=r"env-acme__prod:filestore/acme_prod exists"):
        store.move(staged, LIVE)
    assert contents(store.path(LIVE)) == {"ab/live": b"live"}
    assert contents(store.path(staged)) == {"ab/staged": b"staged"}


def test_move_of_nothing_onto_nothing_is_refused(tmp_path: Path) -> None:
    store = storage(tmp_path)
    with pytest.raises(PermanentError, match="does not exist"):
        store.move(LIVE.sibling(".restore"), LIVE)


def test_export_then_load_round_trips_a_filestore(tmp_path: Path) -> None:
    store = storage(tmp_path)
    files = {"ab/ab01": b"one", "cd/cd02": b"two" * 1000}
    put(store, LIVE, files)
    stage = tmp_path / "data" / "backups" / "staging" / "acme__prod" / "filestore"
    stage.mkdir(parents=True)
    (stage / "gone").write_bytes(b"a file the filestore no longer has")
    assert store.export(LIVE, stage) == 2
    assert contents(stage) == files  # a mirror: what the filestore no longer has is gone
    staged = LIVE.sibling(".restore")
    put(store, staged, {"zz/left": b"from a killed run"})
    assert store.load(stage, staged) == 2
    assert contents(store.path(staged)) == files
    assert not stage.exists()  # moved, not copied: the control plane's copy is scratch


def test_load_of_a_backup_without_files_makes_an_empty_filestore(tmp_path: Path) -> None:
    store = storage(tmp_path)
    staged = LIVE.sibling(".restore")
    assert store.load(tmp_path / "restored" / "filestore", staged) == 0
    assert store.exists(staged) and contents(store.path(staged)) == {}


def test_check_finds_missing_and_corrupt_files(tmp_path: Path) -> None:
    store = storage(tmp_path)
    put(store, LIVE, {"ab/good": b"good", "cd/bad": b"rewritten"})
    found = store.check(LIVE, [("ab/good", sha1(b"good")), ("cd/bad", sha1(b"original")), ("ef/gone", sha1(b"x")),
                               ("ab/good", "")])
    assert (found.checked, found.missing, found.corrupt) == (4, ("ef/gone",), ("cd/bad",))


def test_check_refuses_store_fnames_that_leave_the_filestore(tmp_path: Path) -> None:
    store = storage(tmp_path)
    put(store, LIVE, {"ab/good": b"good"})
    # Files outside the filestore with the very checksum the attachment claims: never found.
    outside = store.path(LIVE).parent.parent / "escaped"
    outside.write_bytes(b"outside")
    (store.path(LIVE) / "ab" / "link").symlink_to(outside)
    escaping = ["../../escaped", str(outside), "ab/link", "../../../../../../../../etc/passwd"]
    found = store.check(LIVE, [(name, sha1(b"outside")) for name in escaping])
    assert found.missing == tuple(escaping) and found.corrupt == ()


def test_size_counts_the_filestore_s_own_files(tmp_path: Path) -> None:
    store = storage(tmp_path)
    assert store.size(LIVE) == 0
    put(store, LIVE, {"ab/ab01": b"x" * 10, "cd/cd02": b"y" * 5})
    big = tmp_path / "big"
    big.write_bytes(b"z" * 1000)
    (store.path(LIVE) / "ab" / "link").symlink_to(big)
    assert store.size(LIVE) == 15


def test_remove_and_remove_storage_are_idempotent(tmp_path: Path) -> None:
    store = storage(tmp_path)
    put(store, LIVE, {"ab/ab01": b"one"})
    put(store, LIVE.sibling(".old"), {"ab/ab01": b"one"})
    store.remove(LIVE.sibling(".old"))
    store.remove(LIVE.sibling(".old"))
    assert not store.exists(LIVE.sibling(".old")) and store.exists(LIVE)
    (store.layout.env_data("acme__prod") / "sessions").mkdir()
    store.remove_storage("env-acme__prod")
    store.remove_storage("env-acme__prod")
    assert not store.layout.env_data("acme__prod").exists()
    assert os.listdir(store.layout.env_dir("acme__prod")) == []


def test_a_sandbox_storage_is_made_and_removed_with_its_whole_home(tmp_path: Path) -> None:
    store = storage(tmp_path)
    store.ensure_storage("sandbox-vfy-acme-1")
    data_dir = storage_dir(store.layout, "sandbox-vfy-acme-1")
    assert data_dir.is_dir()
    (data_dir.parent / "odoo.conf").write_text("[options]\n")  # the sandbox workload's home
    put(store, FilestoreRef("sandbox-vfy-acme-1", "vfy"), {"ab/abc": b"x"})
    store.remove_storage("sandbox-vfy-acme-1")
    assert not data_dir.parent.exists()


def test_an_environment_storage_removal_keeps_the_environment_home(tmp_path: Path) -> None:
    store = storage(tmp_path)
    put(store, LIVE, {"ab/abc": b"x"})
    home = storage_dir(store.layout, LIVE.storage).parent
    (home / "odoo.conf").write_text("[options]\n")
    store.remove_storage(LIVE.storage)
    assert not storage_dir(store.layout, LIVE.storage).exists()
    assert (home / "odoo.conf").exists()


def test_local_storage_does_what_every_storage_does(tmp_path: Path) -> None:
    from tests.support import storage_contract

    storage_contract.exercise(storage(tmp_path), tmp_path / "control", name="acme")
