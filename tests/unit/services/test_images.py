"""Build contexts of the images Odooplane builds: what they hold, and tags that follow their
content (bytes, names and modes of every file, nothing else)."""

from __future__ import annotations

from pathlib import Path

import pytest

from odooplane import execute
from odooplane.errors import PermanentError
from odooplane.services import images


def _wheelhouse(directory: Path) -> Path:
    """Wheels named as pip names them, for the versions installed here: no download is needed."""
    directory.mkdir()
    for requirement in images.pinned(images.SIMULATOR_DISTRIBUTIONS):
        name, version = requirement.split("==")
        (directory / f"{name.replace('-', '_')}-{version}-py3-none-any.whl").write_bytes(b"wheel " + name.encode())
    (directory / "unrelated-1.0-py3-none-any.whl").write_bytes(b"not for this image")
    return directory


def _package(directory: Path) -> Path:
    (directory / "sim" / "__pycache__").mkdir(parents=True)
    (directory / "__init__.py").write_text('__version__ = "0"\n')
    (directory / "sim" / "__main__.py").write_text("print('sim')\n")
    (directory / "sim" / "__pycache__" / "__main__.cpython-311.pyc").write_bytes(b"\0")
    (directory / "cli").mkdir()
    (directory / "cli" / "main.py").write_text("# the control plane: not in the image\n")
    return directory


def test_simulator_context_holds_the_dockerfile_its_wheels_and_only_the_simulator(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_download(*args: object, **kwargs: object) -> execute.Result:
        raise AssertionError("every wheel is in the wheelhouse: nothing to download")

    monkeypatch.setattr(execute, "run", no_download)
    context = images.simulator_context(tmp_path / "ctx", base="localhost/debian:bookworm",
                                       wheelhouse=_wheelhouse(tmp_path / "wh"), package=_package(tmp_path / "pkg"))
    files = set(images.context_digests(context))
    assert files == {"Dockerfile", "odooplane/__init__.py", "odooplane/sim/__main__.py",
                     *(f"wheelhouse/{p.name}" for p in (tmp_path / "wh").glob("psycopg*")),
                     *(f"wheelhouse/{p.name}" for p in (tmp_path / "wh").glob("typing_extensions*"))}
    assert "FROM localhost/debian:bookworm" in (context / "Dockerfile").read_text()


def test_the_tag_changes_with_any_file_of_the_context_and_only_then(tmp_path: Path) -> None:
    context = tmp_path / "ctx"
    (context / "bin").mkdir(parents=True)
    (context / "Dockerfile").write_text("FROM x\n")
    tool = context / "bin" / "tool"
    tool.write_text("v1")
    tool.chmod(0o644)
    first = images.content_tag(context, "odooplane/t")
    assert images.content_tag(context, "odooplane/t") == first
    (context / "bin" / "__pycache__").mkdir()
    (context / "bin" / "__pycache__" / "x.pyc").write_bytes(b"\1")
    assert images.content_tag(context, "odooplane/t") == first  # bytecode is not content
    tool.chmod(0o755)
    assert images.content_tag(context, "odooplane/t") != first
    tool.chmod(0o644)
    tool.write_text("v2")
    assert images.content_tag(context, "odooplane/t") != first


def test_a_context_with_a_symbolic_link_is_refused_naming_it(tmp_path: Path) -> None:
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM x\n")
    (context / "link").symlink_to("/etc/passwd")
    with pytest.raises(PermanentError, match=r"ctx/link: a build context holds regular files only"):
        images.content_tag(context, "odooplane/t")


def test_postgres_context_without_the_server_package_is_refused(tmp_path: Path) -> None:
    debs = tmp_path / "debs"
    debs.mkdir()
    (debs / "libpq5_15.20-0+deb12u1_amd64.deb").write_bytes(b"x")
    with pytest.raises(PermanentError, match=r"no postgresql-15 package among the \.deb files"):
        images.postgres_context(tmp_path / "ctx", base="localhost/debian:bookworm", debs=debs)


def test_postgres_context_entrypoint_is_executable(tmp_path: Path) -> None:
    context = images.postgres_context(tmp_path / "ctx", base="localhost/debian-pg:bookworm")
    assert images.context_digests(context)["entrypoint.sh"].endswith(":755")


def test_source_context_needs_an_odoo_tree_and_its_wheels(tmp_path: Path) -> None:
    with pytest.raises(PermanentError, match="not an Odoo source tree"):
        images.source_context(tmp_path / "ctx", base="b", source=tmp_path, wheelhouse=tmp_path)
    tree = tmp_path / "odoo"
    tree.mkdir()
    (tree / "odoo-bin").write_text("#!/usr/bin/env python3\n")
    (tree / "requirements.txt").write_text("psycopg2==2.9.9\n")
    (tmp_path / "wh").mkdir()
    with pytest.raises(PermanentError, match="no wheels"):
        images.source_context(tmp_path / "ctx", base="b", source=tree, wheelhouse=tmp_path / "wh")


def test_download_debs_refuses_a_package_name_that_is_not_one(tmp_path: Path) -> None:
    with pytest.raises(PermanentError, match="is not a Debian package name"):
        images.download_debs(tmp_path, ("postgresql-15; rm -rf /",), base="x")
