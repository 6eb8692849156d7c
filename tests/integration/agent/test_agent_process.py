"""The data-plane agent as its own process (``python -m odooplane.agent``): every task on real
directories, its one JSON line and exit code, and every refusal — names that are not names,
symlinks on the way, tar members that escape, links and devices — leaving the filestore as it was."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

import odooplane

pytestmark = pytest.mark.integration

LIVE = {"storage": "env-acme__prod", "database": "acme_prod"}
OLD = {**LIVE, "suffix": ".old"}
STAGED = {**LIVE, "suffix": ".restore"}


def agent(root: Path, task: dict[str, Any] | str | None, *, stdin: bytes | None = None, layout: str = "flat",
          as_argument: bool = False) -> tuple[int, dict[str, Any], bytes]:
    """Run the agent; return (exit code, its outcome line, stdout bytes)."""
    text = task if isinstance(task, str) else json.dumps(task)
    argv = [sys.executable, "-m", "odooplane.agent", "--root", str(root), "--layout", layout]
    if as_argument or stdin is not None:
        argv.append(text)
        feed = stdin if stdin is not None else b""
    else:
        feed = text.encode()
    env = {**os.environ, "PYTHONPATH": str(Path(odooplane.__file__).parent.parent)}
    done = subprocess.run(argv, input=feed, capture_output=True, env=env, timeout=60, check=False)
    exported = isinstance(task, dict) and task.get("kind") == "export"
    stream = done.stderr if exported else done.stdout
    lines = stream.decode().strip().splitlines()
    assert lines, (done.returncode, done.stdout[-500:], done.stderr[-500:])
    return done.returncode, json.loads(lines[-1]), done.stdout


def fs(root: Path, ref: dict[str, str]) -> Path:
    return root / ref["storage"] / "filestore" / f"{ref['database']}{ref.get('suffix', '')}"


def put(root: Path, ref: dict[str, str], files: dict[str, bytes]) -> None:
    for name, content in files.items():
        path = fs(root, ref) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


def contents(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def test_copy_makes_hard_links_and_replaces_what_the_target_had(tmp_path: Path) -> None:
    put(tmp_path, LIVE, {"ab/ab01": b"one", "cd/cd02": b"two"})
    put(tmp_path, OLD, {"zz/stale": b"earlier"})
    code, out, _ = agent(tmp_path, {"kind": "copy", "source": LIVE, "target": OLD})
    assert (code, out) == (0, {"ok": True, "files": 2})
    assert contents(fs(tmp_path, OLD)) == {"ab/ab01": b"one", "cd/cd02": b"two"}
    assert (fs(tmp_path, OLD) / "ab/ab01").stat().st_ino == (fs(tmp_path, LIVE) / "ab/ab01").stat().st_ino


def test_exists_and_remove_are_idempotent(tmp_path: Path) -> None:
    assert agent(tmp_path, {"kind": "exists", "ref": LIVE})[1] == {"ok": True, "exists": False}
    put(tmp_path, LIVE, {"ab/ab01": b"one"})
    assert agent(tmp_path, {"kind": "exists", "ref": LIVE})[1]["exists"] is True
    for _ in range(2):
        assert agent(tmp_path, {"kind": "remove", "ref": LIVE})[:2] == (0, {"ok": True})
    assert not fs(tmp_path, LIVE).exists()


def test_move_renames_once_and_refuses_to_land_on_a_filestore(tmp_path: Path) -> None:
    put(tmp_path, LIVE, {"ab/live": b"live"})
    assert agent(tmp_path, {"kind": "move", "source": LIVE, "target": OLD})[:2] == (0, {"ok": True, "moved": True})
    assert agent(tmp_path, {"kind": "move", "source": LIVE, "target": OLD})[:2] == (0, {"ok": True, "moved": False})
    put(tmp_path, STAGED, {"ab/staged": b"staged"})
    put(tmp_path, LIVE, {"ab/new": b"new"})
    code, out, _ = agent(tmp_path, {"kind": "move", "source": STAGED, "target": LIVE})
    assert code == 3 and out["code"] == "refused"
    assert out["error"] == "env-acme__prod:filestore/acme_prod exists: not moving " \
                           "env-acme__prod:filestore/acme_prod.restore onto it"
    assert contents(fs(tmp_path, LIVE)) == {"ab/new": b"new"}
    assert contents(fs(tmp_path, STAGED)) == {"ab/staged": b"staged"}
    nothing = {**LIVE, "suffix": ".nothing"}
    code, out, _ = agent(tmp_path, {"kind": "move", "source": nothing, "target": {**LIVE, "suffix": ".other"}})
    assert (code, out["code"]) == (4, "not-found") and "does not exist" in out["error"]


def test_check_finds_missing_corrupt_and_escaping_store_fnames(tmp_path: Path) -> None:
    put(tmp_path, LIVE, {"ab/good": b"good", "cd/bad": b"rewritten"})
    outside = tmp_path / "outside"
    outside.write_bytes(b"outside")
    (fs(tmp_path, LIVE) / "ab" / "link").symlink_to(outside)
    sha = hashlib.sha1(b"outside").hexdigest()
    attachments = [["ab/good", hashlib.sha1(b"good").hexdigest()], ["cd/bad", hashlib.sha1(b"x").hexdigest()],
                   ["ef/gone", ""], ["../../../outside", sha], [str(outside), sha], ["ab/link", sha]]
    code, out, _ = agent(tmp_path, {"kind": "check", "ref": LIVE, "attachments": attachments})
    assert code == 0
    assert out == {"ok": True, "checked": 6, "corrupt": ["cd/bad"],
                   "missing": ["ef/gone", "../../../outside", str(outside), "ab/link"]}


def test_a_long_check_comes_on_stdin(tmp_path: Path) -> None:
    put(tmp_path, LIVE, {"ab/good": b"good"})
    attachments = [[f"ab/{i:040x}", ""] for i in range(20000)]  # > 128 KiB: more than one argument may hold
    code, out, _ = agent(tmp_path, {"kind": "check", "ref": LIVE, "attachments": attachments})
    assert code == 0 and out["checked"] == 20000 and len(out["missing"]) == 20000


def test_size_counts_regular_files_only(tmp_path: Path) -> None:
    put(tmp_path, LIVE, {"ab/a": b"x" * 10, "cd/c": b"y" * 5})
    big = tmp_path / "big"
    big.write_bytes(b"z" * 1000)
    (fs(tmp_path, LIVE) / "ab" / "link").symlink_to(big)
    assert agent(tmp_path, {"kind": "size", "ref": LIVE})[1] == {"ok": True, "bytes": 15}


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a directory to another uid needs root")
def test_ensure_storage_gives_the_data_dir_to_the_owner_and_remove_storage_removes_it(tmp_path: Path) -> None:
    task = {"kind": "ensure-storage", "storage": "pool-shared", "owner": [4242, 4243]}
    assert agent(tmp_path, task)[1] == {"ok": True, "created": True}
    assert agent(tmp_path, task)[1] == {"ok": True, "created": False}
    info = (tmp_path / "pool-shared").stat()
    assert (info.st_uid, info.st_gid) == (4242, 4243)
    put(tmp_path, {"storage": "pool-shared", "database": "b_prod"}, {"ab/x": b"x"})
    for _ in range(2):
        assert agent(tmp_path, {"kind": "remove-storage", "storage": "pool-shared"})[:2] == (0, {"ok": True})
    assert not (tmp_path / "pool-shared").exists()
    code, out, _ = agent(tmp_path, {**task, "owner": [0, 0]})
    assert (code, out["code"]) == (2, "invalid")


def test_the_local_layout_places_data_dirs_like_the_local_driver(tmp_path: Path) -> None:
    assert agent(tmp_path, {"kind": "ensure-storage", "storage": "sandbox-vfy-a-1"}, layout="local")[0] == 0
    assert (tmp_path / "sandboxes" / "vfy-a-1" / "data").is_dir()
    (tmp_path / "sandboxes" / "vfy-a-1" / "odoo.conf").write_text("[options]\n")
    ref = {"storage": "env-acme__prod", "database": "acme_prod"}
    (tmp_path / "envs" / "acme__prod" / "data" / "filestore" / "acme_prod").mkdir(parents=True)
    assert agent(tmp_path, {"kind": "exists", "ref": ref}, layout="local")[1]["exists"] is True
    assert agent(tmp_path, {"kind": "remove-storage", "storage": "sandbox-vfy-a-1"}, layout="local")[0] == 0
    assert not (tmp_path / "sandboxes" / "vfy-a-1").exists()  # its whole home


def test_export_streams_a_tar_and_load_replaces_the_filestore_with_it(tmp_path: Path) -> None:
    files = {"ab/ab01": b"one", "cd/cd02": b"two" * 1000}
    put(tmp_path, LIVE, files)
    (fs(tmp_path, LIVE) / "ab" / "link").symlink_to(tmp_path / "elsewhere")
    code, out, tar = agent(tmp_path, {"kind": "export", "ref": LIVE})
    assert (code, out) == (0, {"ok": True, "files": 2, "bytes": 3003, "skipped": 1})
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        assert sorted(m.name for m in archive.getmembers() if m.isfile()) == ["ab/ab01", "cd/cd02"]
    put(tmp_path, STAGED, {"zz/left": b"from a killed run"})
    code, out, _ = agent(tmp_path, {"kind": "load", "ref": STAGED}, stdin=tar)
    assert (code, out) == (0, {"ok": True, "files": 2})
    assert contents(fs(tmp_path, STAGED)) == files
    assert sorted(p.name for p in fs(tmp_path, STAGED).parent.iterdir()) == ["acme_prod", "acme_prod.restore"]


def test_a_load_removes_what_a_killed_load_of_that_filestore_left_and_nothing_of_another(tmp_path: Path) -> None:
    put(tmp_path, LIVE, {"ab/x": b"x"})
    filestores = fs(tmp_path, LIVE).parent
    (filestores / ".load~acme_prod~dead").mkdir()  # a killed load of acme_prod
    (filestores / ".load~acme_prod-2~live").mkdir()  # another database's load, under way
    _, tar = agent(tmp_path, {"kind": "export", "ref": LIVE})[1:]
    assert agent(tmp_path, {"kind": "load", "ref": LIVE}, stdin=tar)[0] == 0
    assert sorted(p.name for p in filestores.iterdir()) == [".load~acme_prod-2~live", "acme_prod"]


def test_an_export_of_a_missing_filestore_is_an_empty_tar(tmp_path: Path) -> None:
    code, out, tar = agent(tmp_path, {"kind": "export", "ref": LIVE})
    assert (code, out["files"]) == (0, 0)
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        assert archive.getmembers() == []


def tar_of(*members: tuple[tarfile.TarInfo, bytes | None]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as archive:
        for info, data in members:
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
    return out.getvalue()


def member(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"x", link: str = "") -> tuple[tarfile.TarInfo,
                                                                                                  bytes | None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    if kind == tarfile.REGTYPE:
        info.size = len(data)
        return info, data
    return info, None


@pytest.mark.parametrize(("bad", "why"), [
    (member("../escaped"), "leaves the filestore"),
    (member("ab/../../escaped"), "leaves the filestore"),
    (member("/etc/escaped"), "leaves the filestore"),
    (member("ab/link", tarfile.SYMTYPE, link="/etc/passwd"), "is a symbolic link"),
    (member("ab/hard", tarfile.LNKTYPE, link="ab/good"), "is a hard link"),
    (member("ab/null", tarfile.CHRTYPE), "is a special file"),
    (member("ab/fifo", tarfile.FIFOTYPE), "is a special file"),
])
def test_load_refuses_what_a_filestore_never_holds_and_keeps_the_old_one(
        tmp_path: Path, bad: tuple[tarfile.TarInfo, bytes | None], why: str) -> None:
    put(tmp_path, LIVE, {"ab/live": b"live"})
    stream = tar_of(member("ab/good"), bad)
    code, out, _ = agent(tmp_path, {"kind": "load", "ref": LIVE}, stdin=stream)
    assert (code, out["code"]) == (3, "refused") and why in out["error"], out
    assert contents(fs(tmp_path, LIVE)) == {"ab/live": b"live"}
    assert sorted(p.name for p in fs(tmp_path, LIVE).parent.iterdir()) == ["acme_prod"]
    assert not (tmp_path / "escaped").exists() and not (tmp_path.parent / "escaped").exists()


@pytest.mark.parametrize("stream", [b"not a tar at all" * 100, tar_of(member("ab/good", data=b"x" * 5000))[:3000]])
def test_a_broken_tar_stream_fails_and_keeps_the_old_filestore(tmp_path: Path, stream: bytes) -> None:
    put(tmp_path, LIVE, {"ab/live": b"live"})
    code, out, _ = agent(tmp_path, {"kind": "load", "ref": LIVE}, stdin=stream)
    assert (code, out["code"]) == (1, "failed") and "tar stream is broken" in out["error"], out
    assert contents(fs(tmp_path, LIVE)) == {"ab/live": b"live"}
    assert sorted(p.name for p in fs(tmp_path, LIVE).parent.iterdir()) == ["acme_prod"]


def test_a_symlink_member_is_refused_before_a_file_is_written_through_it(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    stream = tar_of(member("ab", tarfile.SYMTYPE, link=str(outside)), member("ab/file"))
    code, out, _ = agent(tmp_path, {"kind": "load", "ref": LIVE}, stdin=stream)
    assert (code, out["code"]) == (3, "refused") and list(outside.iterdir()) == []


@pytest.mark.parametrize("ref", [
    {"storage": "env-../x", "database": "db"},
    {"storage": "other-x", "database": "db"},
    {"storage": "env-a/b", "database": "db"},
    {"storage": "env-a", "database": "../db"},
    {"storage": "env-a", "database": ".hidden"},
    {"storage": "env-a", "database": "a/b"},
    {"storage": "env-a", "database": "db", "suffix": "/x"},
    {"storage": "env-a", "database": "db", "suffix": "."},
    {"storage": "env-a", "database": "db", "suffix": ".."},
    {"storage": "env-a\n", "database": "db"},
    {"storage": 5, "database": "db"},
    {"database": "db"},
])
def test_names_that_are_not_names_are_refused_before_any_path(tmp_path: Path, ref: dict[str, Any]) -> None:
    code, out, _ = agent(tmp_path, {"kind": "copy", "source": ref, "target": LIVE})
    assert (code, out["ok"], out["code"]) == (2, False, "invalid"), out
    assert list(tmp_path.iterdir()) == []


def test_a_symlink_on_the_way_to_a_filestore_is_never_followed(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    (outside / "filestore" / "acme_prod" / "ab").mkdir(parents=True)
    (outside / "filestore" / "acme_prod" / "ab" / "secret").write_bytes(b"another tenant's")
    root.mkdir()
    (root / "env-acme__prod").symlink_to(outside)
    for task in ({"kind": "size", "ref": LIVE}, {"kind": "remove", "ref": LIVE},
                 {"kind": "copy", "source": LIVE, "target": {"storage": "env-b", "database": "b"}},
                 {"kind": "remove-storage", "storage": "env-acme__prod"}):
        code, out, _ = agent(root, task)
        assert (code, out["code"]) == (3, "refused") and "symbolic link" in out["error"], (task, out)
    assert (outside / "filestore" / "acme_prod" / "ab" / "secret").read_bytes() == b"another tenant's"
    assert not (root / "env-b").exists()


@pytest.mark.parametrize(("task", "why"), [
    ("not json", "not JSON"),
    ('["copy"]', "JSON object"),
    ('{"kind": "format-disk"}', "unknown task kind"),
    ('{"kind": "check", "ref": {"storage": "env-a", "database": "a"}}', "attachments"),
    ('{"kind": "check", "ref": {"storage": "env-a", "database": "a"}, "attachments": [["x"]]}', "attachments[0]"),
    ('{"kind": "size"}', "'ref'"),
    ('{"kind": "load", "ref": {"storage": "env-a", "database": "a"}}', "must be the argument"),
])
def test_a_malformed_task_is_invalid(tmp_path: Path, task: str, why: str) -> None:
    code, out, _ = agent(tmp_path, task)
    assert (code, out["code"]) == (2, "invalid") and why in out["error"], out


def test_odooplane_agent_is_the_same_agent_with_its_exit_codes_in_help(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(odooplane.__file__).parent.parent)}
    base = [sys.executable, "-m", "odooplane", "agent", "--root", str(tmp_path)]
    shown = subprocess.run([*base[:4], "--help"], capture_output=True, text=True, env=env, timeout=60, check=False)
    assert shown.returncode == 0 and "3 refused" in shown.stdout and "4 not found" in shown.stdout
    put(tmp_path, LIVE, {"ab/ab01": b"one"})
    exported = subprocess.run([*base, json.dumps({"kind": "export", "ref": LIVE})], capture_output=True, env=env,
                              timeout=60, check=False)
    assert exported.returncode == 0
    assert json.loads(exported.stderr.decode().splitlines()[-1]) == {"ok": True, "files": 1, "bytes": 3, "skipped": 0}
    loaded = subprocess.run([*base, json.dumps({"kind": "load", "ref": STAGED})], input=exported.stdout,
                            capture_output=True, env=env, timeout=60, check=False)
    assert (loaded.returncode, json.loads(loaded.stdout)) == (0, {"ok": True, "files": 1})
    assert contents(fs(tmp_path, STAGED)) == {"ab/ab01": b"one"}
    refused = subprocess.run([*base, json.dumps({"kind": "move", "source": LIVE, "target": STAGED})],
                             capture_output=True, env=env, timeout=60, check=False)
    assert refused.returncode == 3 and json.loads(refused.stdout)["code"] == "refused"


def test_a_tar_of_a_directory_made_by_gnu_tar_loads_with_its_dot_entries(tmp_path: Path) -> None:
    """``tar -C DIR -cf - .`` (how a dump leaves a cluster's container) names every member ``./…``
    and the root ``./`` itself: loaded as the directory's content, nothing refused."""
    from odooplane.agent import archive

    source = tmp_path / "dump"
    (source / "sub").mkdir(parents=True)
    (source / "toc.dat").write_bytes(b"toc")
    (source / "sub" / "3001.dat").write_bytes(b"rows")
    stream = subprocess.run(["tar", "-C", str(source), "-cf", "-", "."], check=True, capture_output=True).stdout
    assert b"./toc.dat" in stream
    into = tmp_path / "loaded"
    assert archive.load(io.BytesIO(stream), into) == 2
    assert contents(into) == {"toc.dat": b"toc", "sub/3001.dat": b"rows"}
