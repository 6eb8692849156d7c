"""``move``: change an environment's placement (a pool ↔ dedicated) — the estate file is edited
(comments and layout kept) and then applied, which copies the database and filestore, switches
the route and removes the old copy only after the new one answers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from odooplane.actions import apply, estate_file
from odooplane.actions.access import guard
from odooplane.errors import EstateInvalid, NotFound, UsageError
from odooplane.estate import edit, validate
from odooplane.estate import load as loader
from odooplane.estate.resolve import EnvRef
from odooplane.operations.moves import MoveResult


@dataclass
class MoveOutcome:
    target: str
    file: str
    placement_before: str
    placement_after: str
    move: MoveResult | None
    result: apply.ApplyResult


def parse_destination(text: str) -> Any:
    """``dedicated``, ``shared:<pool>`` or ``<pool>`` → the placement value of the estate file."""
    if text == "dedicated":
        return "dedicated"
    pool = text.removeprefix("shared:")
    if not pool:
        raise UsageError("--to: 'dedicated' or 'shared:<pool>'")
    return {"shared": pool}


def edit_env(file: Path, values: dict[EnvRef, dict[str, Any]]) -> str:
    """Set keys of environments in ``file``, keeping every other byte of it (comments, quoting,
    line breaks); return the old text. Raise UsageError if the file cannot be edited in place."""
    original = file.read_bytes().decode("utf-8")  # as is: no newline translation
    text = original
    try:
        for ref, keys in values.items():
            text = edit.set_env_keys(text, tenant=ref.tenant, env=ref.env, values=keys)
    except edit.EditError as exc:
        raise UsageError(f"{file}: cannot edit the estate file in place: {exc}") from exc
    with open(file, "w", encoding="utf-8", newline="") as out:
        out.write(text)
    return original


def env_file(valid_path: Path, ref: EnvRef) -> Path:
    """The file (the estate or one of its includes) that declares ``ref``."""
    loaded = loader.load(valid_path)
    return Path(loaded.origin(("tenants", ref.tenant, "environments", ref.env)).rsplit(":", 1)[0])


def run(
    path: Path | None, target: str, to: str, *, listener: apply.Listener | None = None,
    on_plan: Callable[[Any], None] | None = None,
) -> MoveOutcome:
    try:
        ref = EnvRef.parse(target)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    valid = estate_file.load(path, destructive="move")
    env = valid.environment(ref)
    if env is None:
        raise NotFound(f"{target}: no such environment in {valid.path}")
    placement = parse_destination(to)
    ctx = estate_file.context(valid.path, kubernetes=False)
    try:
        guard(ctx, "estate.apply")  # before the estate file is edited: a refusal changes nothing
    finally:
        ctx.close()
    wanted = "dedicated" if placement == "dedicated" else f"shared:{placement['shared']}"
    if wanted == env.placement:
        if not _move_pending(valid, ref):
            raise UsageError(f"{target} is already {env.placement}")
        # The estate already says so but the data is not there yet (an interrupted move): finish it.
        result = apply.run(valid.path, listener=listener, on_plan=on_plan)
        move = next((m for m in result.moves if m.target == target), None)
        return MoveOutcome(target=target, file=str(env_file(valid.path, ref)), placement_before=env.placement,
                           placement_after=wanted, move=move, result=result)
    file = env_file(valid.path, ref)
    original = edit_env(file, {ref: {"placement": placement}})
    try:
        moved = validate.validate(valid.path)
    except EstateInvalid:
        file.write_text(original, encoding="utf-8")  # nothing half-applied
        raise
    result = apply.run(moved.path, listener=listener, on_plan=on_plan)
    move = next((m for m in result.moves if m.target == target), None)
    return MoveOutcome(target=target, file=str(file), placement_before=env.placement, placement_after=wanted,
                       move=move, result=result)



def _move_pending(valid: validate.ValidEstate, ref: EnvRef) -> bool:
    """Whether ``ref``'s data is not yet where the estate places it, or its old copy is not yet
    cleaned up (a move was interrupted)."""
    from odooplane.operations import observe
    from odooplane.planner import plan as planner

    ctx = estate_file.context(valid.path, kubernetes=False)
    try:
        observed, _ = observe.observe(ctx, health="none")
        env = valid.environment(ref)
        obs = observed.envs.get(ref)
        if any(leftover.target == str(ref) for leftover in observed.leftovers):
            return True
        return env is not None and obs is not None and any(
            c.action == "move" for c in planner.env_changes(env, obs))
    finally:
        ctx.close()
