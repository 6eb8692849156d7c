"""Includes stay inside the estate's directory (or a root it names), read only regular files of
bounded size, and never echo what a file that is not an estate fragment holds."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from odooplane.estate import validate
from tests.unit.estate.support import HEADER

HEAD = HEADER + """tenants:
  acme:
    environments:
      prod: {}
"""
FRAGMENT = "tenants:\n  globex:\n    environments: {prod: {}}\n"


def estate(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "estate" / "estate.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(textwrap.dedent(HEAD) + textwrap.dedent(extra))
    return path


def problems(path: Path) -> list[str]:
    valid, found = validate.check(path)
    assert valid is None, "expected the estate to be invalid"
    return [str(p) for p in found]


def secret_file(directory: Path, name: str = "secret.yaml") -> Path:
    """A file outside any estate whose every line an error could leak."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text("tenants:\n  stolen:\n    environments: {root-s3cr3t-hash: {}}\nroot: $6$s3cr3t-hash\n")
    return path


@pytest.mark.parametrize("pattern", ["ABS", "../outside/secret.yaml", "../outside/*.yaml", "sub/../../outside/*"])
def test_an_include_outside_the_estate_directory_is_refused_unread(tmp_path: Path, pattern: str) -> None:
    secret = secret_file(tmp_path / "outside")
    (tmp_path / "estate" / "sub").mkdir(parents=True)
    pattern = str(secret) if pattern == "ABS" else pattern
    found = problems(estate(tmp_path, f"include: [{pattern!r}]\n"))
    assert len(found) == 1 and "include[0]:" in found[0] and "is outside the estate's directory" in found[0], found
    assert "platform.includes.roots" in found[0]
    assert not any("s3cr3t" in p or "stolen" in p for p in found)


def test_a_symbolic_link_leading_outside_is_refused(tmp_path: Path) -> None:
    secret = secret_file(tmp_path / "outside")
    path = estate(tmp_path, "include: [tenants/*.yaml]\n")
    (path.parent / "tenants").mkdir()
    (path.parent / "tenants" / "globex.yaml").write_text(FRAGMENT)
    (path.parent / "tenants" / "evil.yaml").symlink_to(secret)
    found = problems(path)
    assert len(found) == 1 and "tenants/evil.yaml leads outside the estate's directory" in found[0], found
    assert not any("s3cr3t" in p or "stolen" in p for p in found)


def test_a_symbolic_link_inside_the_estate_directory_is_followed(tmp_path: Path) -> None:
    path = estate(tmp_path, "include: [tenants/*.yaml]\n")
    (path.parent / "shared").mkdir()
    (path.parent / "shared" / "globex.yaml").write_text(FRAGMENT)
    (path.parent / "tenants").mkdir()
    (path.parent / "tenants" / "globex.yaml").symlink_to(path.parent / "shared" / "globex.yaml")
    valid = validate.validate(path)
    assert {str(e.ref) for e in valid.environments} == {"acme/prod", "globex/prod"}


def test_includes_roots_allow_another_directory(tmp_path: Path) -> None:
    (tmp_path / "common").mkdir()
    (tmp_path / "common" / "globex.yaml").write_text(FRAGMENT)
    text = HEAD.replace("default_cluster: main}", "default_cluster: main, includes: {roots: [../common]}}")
    path = tmp_path / "estate" / "estate.yaml"
    path.parent.mkdir()
    path.write_text(textwrap.dedent(text) + "include: [../common/*.yaml]\n")
    valid = validate.validate(path)
    assert {str(e.ref) for e in valid.environments} == {"acme/prod", "globex/prod"}
    assert valid.estate.platform.includes.roots == ["../common"]
    path.write_text(textwrap.dedent(text).replace("../common", "../nowhere") + "include: [x.yaml]\n")
    assert any("platform.includes.roots[0]:" in p and "nowhere is not a directory" in p for p in problems(path))


@pytest.mark.parametrize("kind", ["fifo", "directory"])  # a device: test_parser_limits.py (in a capped process)
def test_only_regular_files_are_read(tmp_path: Path, kind: str) -> None:
    path = estate(tmp_path, "")
    if kind == "fifo":  # opening it must not wait for a writer
        os.mkfifo(path.parent / "pipe.yaml")
        path.write_text(path.read_text() + "include: [pipe.yaml]\n")
    else:
        (path.parent / "tenants").mkdir()
        path.write_text(path.read_text() + "include: [tenants]\n")
    found = problems(path)
    assert len(found) == 1 and "is not a regular file" in found[0], found


def test_included_files_are_capped_in_size_one_by_one_and_together(tmp_path: Path) -> None:
    path = estate(tmp_path, "include: [tenants/*.yaml]\n")
    (path.parent / "tenants").mkdir()
    padding = "# " + "x" * 1022 + "\n"
    for name in ("a", "b", "c"):
        (path.parent / "tenants" / f"{name}.yaml").write_text(
            f"tenants:\n  t{name}:\n    environments: {{prod: {{}}}}\n" + padding * 700)  # ~0.7 MiB each
    assert len(validate.validate(path).environments) == 4
    text = path.read_text()
    path.write_text(text.replace("default_cluster: main}", "default_cluster: main, includes: {max_total_mib: 1}}"))
    found = problems(path)
    assert len(found) == 2, found
    assert "b.yaml: is 0.7 MiB, more than the limit of 0.3 MiB (what is left of platform.includes.max_total_mib)" \
        in found[0]
    assert "c.yaml: not read: the included files before it reach platform.includes.max_total_mib" in found[1]
    (path.parent / "tenants" / "c.yaml").write_text(padding * 5000)  # 4.9 MiB
    path.write_text(text)
    found = problems(path)
    assert len(found) == 1 and "c.yaml: is 4.9 MiB, more than the limit of 4 MiB (platform.includes.max_file_mib)" \
        in found[0], found


def test_a_file_that_is_not_an_estate_fragment_is_named_not_echoed(tmp_path: Path) -> None:
    path = estate(tmp_path, "include: [creds.yaml, notes.yaml]\n")
    (path.parent / "creds.yaml").write_text("tenants: {}\naws_secret_access_key: wJalrXUtnFEMI-k3y\n")
    (path.parent / "notes.yaml").write_text("root:$6$s3cr3t-hash:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n")
    found = problems(path)
    assert any(p.startswith(f"{path.parent / 'creds.yaml'}:2: is not an estate fragment") for p in found), found
    assert any(p.startswith(f"{path.parent / 'notes.yaml'}:1: is not an estate fragment") for p in found), found
    assert not any("aws_secret" in p or "wJalr" in p or "s3cr3t" in p or "daemon" in p for p in found), found


@pytest.mark.parametrize("text", [
    'tenants: {a: [\n  "s3cr3t-token-value\n',
    "tenants:\n  s3cr3t-token: {environments: {prod: *s3cr3t-anchor}}\n",
    "tenants:\n  x: !s3cr3t-tag value\n",
    "tenants:\n\ts3cr3t: 1\n",
    "tenants: {a: 1}\n---\ns3cr3t: 2\n",
])
def test_yaml_errors_give_the_line_not_the_text(tmp_path: Path, text: str) -> None:
    path = estate(tmp_path, "include: [bad.yaml]\n")
    (path.parent / "bad.yaml").write_text(text)
    found = problems(path)
    assert len(found) == 1 and found[0].startswith(f"{path.parent / 'bad.yaml'}:") and "invalid YAML" in found[0]
    assert "s3cr3t" not in found[0], found


def test_a_problem_in_a_nested_include_names_the_file_that_includes(tmp_path: Path) -> None:
    path = estate(tmp_path, "include: [tenants/*.yaml]\n")
    (path.parent / "tenants").mkdir()
    (path.parent / "tenants" / "a.yaml").write_text(FRAGMENT + "include:\n  - ../../elsewhere.yaml\n")
    found = problems(path)
    assert found == [f"{path.parent / 'tenants' / 'a.yaml'}:5: include[0]: '../../elsewhere.yaml' is outside the "
                     "estate's directory (allow another directory in platform.includes.roots)"]
