"""``render``: the artifacts a driver would write for an estate, into a directory to review or to
commit — nothing is applied, allocated, generated, built or started.

The files are the driver's own renderings (the functions apply writes with), with three
differences that make them safe to share and the same on every machine: every secret is
``<secret:NAME>``; ports not allocated yet are provisional (the state store is only read); the
host's directories are written as placeholders (``${DATA_DIR}`` …) named in ``manifest.json``.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import odooplane
from odooplane.actions import estate_file
from odooplane.drivers import registry
from odooplane.drivers.base import DesiredRuntime
from odooplane.errors import PermanentError, UsageError
from odooplane.estate.validate import ValidEstate
from odooplane.operations.context import Context, edge_spec, render_context
from odooplane.operations.desired import desired_runtime

MANIFEST = "manifest.json"
FORMAT = 1
SECRETS_NOTE = ("every secret (database and cluster passwords, the master password's hash) is written as "
                "<secret:NAME>, NAME being its name in the state store; revisions are computed with them")
IMAGES_NOTE = "an image Odooplane builds itself is named odooplane/<name>:built (built, it is tagged by its content)"


@dataclass(frozen=True)
class Result:
    out: Path
    manifest: dict[str, Any]
    written: list[str] = field(default_factory=list)  # created or changed
    removed: list[str] = field(default_factory=list)  # rendered before, no longer


def placeholders(*, data_dir: Path, runtime_dir: Path, estate_dir: Path) -> dict[str, tuple[str, str]]:
    """``${NAME}`` -> (the host directory it stands for, what it is)."""
    runtime = {} if runtime_dir == data_dir else {
        "${RUNTIME_DIR}": (str(runtime_dir), "Odoo's directories outside the data directory (Odooplane run as "
                                             "root: files listed under runtime/)")}
    return {
        **runtime,
        "${DATA_DIR}": (str(data_dir), "the estate's data directory (platform.data_dir)"),
        "${ESTATE_DIR}": (str(estate_dir), "the directory of the estate file"),
        "${ODOOPLANE}": (str(Path(odooplane.__file__).parent), "the installed odooplane package"),
        "${PYTHON_PREFIX}": (sys.prefix, "the Python environment Odooplane runs in (its python, traefik)"),
    }


def normalise(text: str, names: dict[str, tuple[str, str]]) -> str:
    """``text`` with each host directory of ``names`` replaced by its placeholder (longest first)."""
    for name, (path, _what) in sorted(names.items(), key=lambda item: -len(item[1][0])):
        if len(path) > 1:
            text = text.replace(path, name)
    return text


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def run(path: Path | None, *, out: Path, driver: str | None = None) -> Result:
    """Render the estate for ``driver`` (default: its platform.driver) into ``out``; return what
    was written. Raise UsageError for an unknown driver or an ``out`` that is not a directory,
    PermanentError (nothing written) when the driver cannot run the estate as it is."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: is a file, not a directory")
    valid = estate_file.load(path)
    name = driver or valid.estate.platform.driver
    if name not in registry.RENDERERS:
        raise UsageError(f"--driver {name}: unknown driver (known: {', '.join(registry.RENDERERS)})")
    ctx, desired, rendered = render_estate(valid, name)
    names = placeholders(data_dir=valid.data_dir, runtime_dir=ctx.layout.run_root, estate_dir=valid.path.parent)
    files = {p: normalise(text, names) for p, text in rendered.files.items()}
    assert ctx.provisional is not None
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "driver": name,
        "estate": valid.estate.platform.name,
        "base": normalise(str(rendered.base), names),
        "placeholders": {k: what for k, (_path, what) in names.items()},
        "secrets": SECRETS_NOTE,
        "images": IMAGES_NOTE if name == "compose" else None,
        "provisional_ports": [{"owner": owner, "purpose": purpose, "port": port}
                              for (owner, purpose), port in ctx.provisional.assigned.items()],
        "workloads": [{"name": w.name, "target": w.target, "revision": registry.workload_revision(name, w)}
                      for w in desired.workloads],
        "files": [{"path": p, "sha256": _sha256(text)} for p, text in files.items()],
    }
    written, removed = write(out, files, manifest)
    return Result(out=out, manifest=manifest, written=written, removed=removed)


def render_estate(valid: ValidEstate, name: str) -> tuple[Context, DesiredRuntime, registry.Rendered]:
    """What driver ``name`` would write for ``valid`` (the context is closed: its fields remain
    readable). PermanentError when the driver cannot run the estate as it is."""
    ctx = render_context(valid, name)
    try:
        desired = desired_runtime(ctx)
        rendered = registry.render(name, desired, ctx.layout, edge_spec(valid), ctx.odoo_user, estate_id=ctx.estate_id,
                                   platform=valid.estate.platform)
    except ValueError as exc:  # a renderer refusing its input (a name the engine would refuse)
        raise PermanentError(f"driver {name} cannot render this estate: {exc}") from exc
    finally:
        ctx.close()
    return ctx, desired, rendered


def _relative(out: Path, name: str) -> Path:
    """``out / name`` for a manifest path that stays inside ``out``; UsageError otherwise."""
    pure = PurePosixPath(name)
    if pure.is_absolute() or ".." in pure.parts or not pure.parts:
        raise UsageError(f"{out / MANIFEST}: lists {name!r}, which is not a path inside {out}")
    return out / pure


def previous_files(out: Path) -> list[str]:
    """The files a previous render wrote into ``out`` (its manifest's list); raise UsageError if
    ``out`` holds a manifest.json that is not one of Odooplane's (nothing is overwritten then)."""
    path = out / MANIFEST
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text())
        listed = [str(f["path"]) for f in data["files"]]
        if data.get("format") != FORMAT:
            raise ValueError("unknown format")
    except (ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{path}: not a manifest of `odooplane render` ({exc}); refusing to write into {out}",
                         hint="choose an empty directory or one odooplane render wrote before") from exc
    for name in listed:
        _relative(out, name)
    return listed


def write(out: Path, files: dict[str, str], manifest: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Make ``out`` hold ``files`` and ``manifest``: files rendered before and no longer are removed
    (and directories they leave empty); any other file in ``out`` is left alone."""
    out.mkdir(parents=True, exist_ok=True)
    before = previous_files(out)
    written = []
    for name, text in files.items():
        target = _relative(out, name)
        if target.is_file() and target.read_text() == text:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        _atomic(target, text)
        written.append(name)
    removed = []
    for name in before:
        if name in files:
            continue
        target = _relative(out, name)
        if target.is_file():
            target.unlink()
            removed.append(name)
        for parent in target.parents:
            if parent == out or not parent.is_relative_to(out) or not parent.is_dir() or any(parent.iterdir()):
                break
            parent.rmdir()
    _atomic(out / MANIFEST, json.dumps(manifest, indent=1) + "\n")
    return written, removed


def _atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
