"""What a release is made of, by content: a SHA-256 per module directory (like click-odoo-update) and
one fingerprint per upgrade attempt; and the failed attempt an environment is held at.

An upgrade that failed and was rolled back is not tried again by ``apply`` with the same content:
it would fail the same way, with a downtime each time. It is tried again once the fingerprint of
what it would run changes (the release's addons, the stack's code, the environment's modules or
Odoo options), or on request (``apply --retry-failed``, ``promote`` again).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

from odooplane.estate.resolve import DesiredEnvironment
from odooplane.operations.context import Context
from odooplane.operations.desired import runtime_of
from odooplane.operations.templates import stack_fingerprint
from odooplane.planner.observed import FailedUpgrade
from odooplane.services import odoo
from odooplane.store import releases

SKIP_PARTS = {"__pycache__", ".git"}
ATTEMPT_KINDS = ("install", "upgrade", "rollback")


def hash_directory(path: Path) -> str:
    """SHA-256 over the relative paths and contents of every file (compiled files and VCS data left out)."""
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        rel = file.relative_to(path)
        if SKIP_PARTS & set(rel.parts) or file.suffix in (".pyc", ".pyo"):
            continue
        digest.update(str(rel).encode() + b"\0")
        digest.update(file.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def module_hashes(rt: odoo.Runtime, modules: Iterable[str]) -> dict[str, str]:
    """The content hash of each module as ``rt`` would load it (the first addons path that has it).
    A module without a directory (the simulator's built-in ones) is identified by its runtime."""
    out = {}
    for module in sorted(set(modules)):
        for base in rt.addons_path:
            directory = Path(base) / module
            if (directory / "__manifest__.py").is_file():
                out[module] = hash_directory(directory)
                break
        else:
            out[module] = f"builtin:{rt.label}:{rt.series_major}"
    return out


def attempt_fingerprint(ctx: Context, env: DesiredEnvironment) -> str:
    """The fingerprint of what upgrading ``env`` to its release runs: the release, the stack's code
    (series, source tree revision), the content of the addons directories the release and the stack
    add, and the environment's modules and Odoo options. Only the small addons directories of the
    estate are read, never the Odoo source tree (its revision stands for it)."""
    rt = runtime_of(ctx, env.stack)
    extra = rt.addons_path[:len(env.stack.addons_paths)]  # the estate's own, resolved (they come first)
    parts = {
        "release": env.release,
        "stack": stack_fingerprint(ctx, env.stack),
        "addons": {path: hash_directory(Path(path)) if Path(path).is_dir() else None for path in extra},
        "modules": sorted(set(env.modules)),
        "options": sorted([key, str(value)] for key, value in env.options),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def failed_upgrade(ctx: Context, env: DesiredEnvironment) -> FailedUpgrade | None:
    """The attempt to put ``env`` on its declared release that failed and was rolled back, when it is
    the newest attempt; with whether what the upgrade would run changed since (None otherwise)."""
    if env.release is None:
        return None
    newest = releases.events(ctx.store, target=str(env.ref), kinds=ATTEMPT_KINDS, limit=1)
    if not newest or newest[0].kind != "rollback" or newest[0].release != env.release:
        return None
    event = newest[0]
    recorded = event.detail.get("content")
    # An attempt recorded without its fingerprint cannot be told apart from a retry: held too.
    changed = bool(recorded) and recorded != attempt_fingerprint(ctx, env)
    return FailedUpgrade(release=env.release, at=event.ts, error=event.detail.get("error"),
                         from_release=event.from_release, content_changed=changed)
