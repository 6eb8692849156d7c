"""Stage 1 and 2 of validation: read YAML (refusing duplicate keys, remembering where every
value came from), expand includes, and normalise shorthands — all before the schema sees it."""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from odooplane.errors import Problem

PathKey = tuple[str | int, ...]
MERGED_SECTIONS = ("clusters", "stacks", "pools", "tenants")
MAX_INCLUDE_DEPTH = 4


@dataclass
class Loaded:
    """Raw estate data plus, for every path, the ``file:line`` it was read from."""

    root: Path
    data: dict[str, Any]
    origins: dict[PathKey, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)

    def origin(self, path: PathKey) -> str:
        """Return ``file:line`` of the closest known ancestor of ``path``."""
        for cut in range(len(path), -1, -1):
            found = self.origins.get(path[:cut])
            if found:
                return found
        return self.root.name


def format_path(path: PathKey) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


class _KeyProblem(Exception):
    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


def _compose(text: str, label: str, origins: dict[PathKey, str], prefix: PathKey) -> Any:
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    if node is None:
        return {}
    return _construct(node, label, origins, prefix)


def _construct(node: Node, label: str, origins: dict[PathKey, str], path: PathKey) -> Any:
    origins.setdefault(path, f"{label}:{node.start_mark.line + 1}")
    if isinstance(node, MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                raise _KeyProblem("keys must be plain scalars", key_node.start_mark.line + 1)
            key = _scalar(key_node)
            if key in out:
                raise _KeyProblem(f"duplicate key {key!r}", key_node.start_mark.line + 1)
            origins.setdefault((*path, str(key)), f"{label}:{key_node.start_mark.line + 1}")
            out[key] = _construct(value_node, label, origins, (*path, str(key)))
        return out
    if isinstance(node, SequenceNode):
        return [_construct(item, label, origins, (*path, i)) for i, item in enumerate(node.value)]
    return _scalar(node)


def _scalar(node: Node) -> Any:
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    except ValueError as exc:  # e.g. an unquoted date that does not exist: 2026-02-30
        raise _KeyProblem(f"{node.value!r} cannot be read ({exc}); quote it if it is text",
                          node.start_mark.line + 1) from exc
    finally:
        loader.dispose()


def read_yaml(path: Path, *, prefix: PathKey = ()) -> tuple[Any, dict[PathKey, str], list[Problem]]:
    """Parse one YAML file; return (data, origins, problems). Problems carry ``file:line``."""
    origins: dict[PathKey, str] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, origins, [Problem(str(path), "", "file not found")]
    except (OSError, UnicodeDecodeError) as exc:
        return None, origins, [Problem(str(path), "", f"cannot read: {exc}")]
    try:
        return _compose(text, str(path), origins, prefix), origins, []
    except _KeyProblem as bad:
        return None, origins, [Problem(f"{path}:{bad.line}", "", bad.message)]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        return None, origins, [Problem(where, "", f"invalid YAML: {exc.problem or exc}")]
    except yaml.YAMLError as exc:
        return None, origins, [Problem(str(path), "", f"invalid YAML: {exc}")]


def load(path: Path) -> Loaded:
    """Read the estate at ``path`` with its includes. Problems are collected, not raised."""
    path = path.resolve() if path.exists() else path
    loaded = Loaded(root=path, data={})
    data, origins, problems = read_yaml(path)
    loaded.problems.extend(problems)
    loaded.files.append(path)
    if problems:
        return loaded
    if not isinstance(data, dict):
        loaded.problems.append(Problem(str(path), "", "the estate must be a mapping (key: value)"))
        return loaded
    loaded.data = data
    loaded.origins.update(origins)
    _expand_includes(loaded, path, data, depth=0)
    loaded.data = _interpolate(loaded.data, (), loaded)
    _normalise(loaded.data)
    return loaded


def _expand_includes(loaded: Loaded, path: Path, data: dict[str, Any], depth: int) -> None:
    includes = data.get("include", [])
    if isinstance(includes, str):
        includes = [includes]
    if not isinstance(includes, list):
        return  # the schema reports the wrong type
    for index, pattern in enumerate(includes):
        where = loaded.origin(("include", index))
        if not isinstance(pattern, str):
            continue
        if depth >= MAX_INCLUDE_DEPTH:
            loaded.problems.append(Problem(where, f"include[{index}]", "includes nested too deeply (at most 4)"))
            continue
        matches = sorted(glob.glob(str(path.parent / pattern)))
        if not matches:
            loaded.problems.append(Problem(where, f"include[{index}]", f"no file matches {pattern!r}"))
            continue
        for match in matches:
            _merge_file(loaded, Path(match).resolve(), depth)


def _merge_file(loaded: Loaded, path: Path, depth: int) -> None:
    if path in loaded.files:
        loaded.problems.append(Problem(str(path), "", "included twice (or includes itself)"))
        return
    loaded.files.append(path)
    data, origins, problems = read_yaml(path)
    loaded.problems.extend(problems)
    if problems or data is None:
        return
    if not isinstance(data, dict):
        loaded.problems.append(Problem(str(path), "", "an included file must be a mapping"))
        return
    for key in data:
        if key not in (*MERGED_SECTIONS, "include"):
            loaded.problems.append(
                Problem(
                    origins.get((key,), str(path)),
                    str(key),
                    f"an included file may only hold {', '.join(MERGED_SECTIONS)} and include",
                )
            )
    for section in MERGED_SECTIONS:
        items = data.get(section)
        if items is None:
            continue
        if not isinstance(items, dict):
            loaded.problems.append(Problem(origins.get((section,), str(path)), section, "must be a mapping"))
            continue
        target = loaded.data.setdefault(section, {})
        if not isinstance(target, dict):
            continue
        for name, value in items.items():
            if name in target:
                first = loaded.origin((section, name))
                loaded.problems.append(
                    Problem(
                        origins.get((section, name), str(path)),
                        f"{section}.{name}",
                        f"defined twice (first at {first})",
                    )
                )
                continue
            target[name] = value
            for key, origin in origins.items():
                if key[:2] == (section, name):
                    loaded.origins[key] = origin
    _expand_includes(loaded, path, data, depth + 1)


_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _interpolate(value: Any, path: PathKey, loaded: Loaded) -> Any:
    """Replace ``${VAR}`` and ``${VAR:-default}`` in strings; a value that becomes empty is null.

    Secrets must still be secret references: an interpolated password is refused by the schema.
    """
    if isinstance(value, dict):
        return {k: _interpolate(v, (*path, str(k)), loaded) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, (*path, i), loaded) for i, v in enumerate(value)]
    if not isinstance(value, str) or "${" not in value:
        return value

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        found = os.environ.get(name)
        if found:
            return found
        if default is not None:
            return default
        loaded.problems.append(Problem(loaded.origin(path), format_path(path),
                                       f"environment variable {name} is not set (write ${{{name}:-default}})"))
        return ""

    result = _VAR.sub(substitute, value)
    return None if result == "" else result


def _normalise(data: dict[str, Any]) -> None:
    """Expand shorthands: comma-separated module lists, a single hostname as a string."""
    tenants = data.get("tenants")
    if not isinstance(tenants, dict):
        return
    for tenant in tenants.values():
        envs = tenant.get("environments") if isinstance(tenant, dict) else None
        if not isinstance(envs, dict):
            continue
        for env in envs.values():
            if not isinstance(env, dict):
                continue
            if isinstance(env.get("modules"), str):
                env["modules"] = [m.strip() for m in env["modules"].split(",") if m.strip()]
            if isinstance(env.get("hostnames"), str):
                env["hostnames"] = [env["hostnames"]]
