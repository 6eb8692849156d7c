"""Stage 1 and 2 of validation: read YAML (refusing duplicate keys, remembering where every
value came from), expand includes, and normalise shorthands — all before the schema sees it.

Reading is bounded whatever the input: files are opened only if they are regular files under
the size limits, includes stay inside the estate's directory (or a root the estate allows),
documents may nest at most ``MAX_DEPTH`` levels, and aliases (and merge keys) may add at most
``ALIAS_BUDGET`` values to a whole estate — so an alias bomb, a recursive alias, ``/dev/zero``
or a FIFO each give one problem, quickly. Problems about a file say where (file:line) and what,
never what the file holds beyond a key of an estate fragment.
"""

from __future__ import annotations

import glob
import os
import re
import stat
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from odooplane.errors import Problem

PathKey = tuple[str | int, ...]
MERGED_SECTIONS = ("clusters", "stacks", "pools", "tenants")
MAX_INCLUDE_DEPTH = 4
MAX_INCLUDED_FILES = 10_000
MAX_DEPTH = 64  # nesting levels of one value; an estate needs about ten
ALIAS_BUDGET = 100_000  # values aliases and merge keys may add to a whole estate
MIB = 1024 * 1024
ESTATE_FILE_MIB = 4  # the estate file itself (split a bigger one with include)
DEFAULT_FILE_MIB = 4  # each included file (platform.includes.max_file_mib)
DEFAULT_TOTAL_MIB = 16  # every included file together (platform.includes.max_total_mib)
FILE_MIB_CEILING = 256  # the most either setting may be raised to
TOTAL_MIB_CEILING = 1024
_MERGE_TAG = "tag:yaml.org,2002:merge"


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
    """``tenants.acme.environments[0]``; a key that does not print on one line is quoted with
    its escapes (``tenants['a\\nb']``), so a problem always fits on one line."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not part.isprintable() or part == "":
            out += f"[{part!r}]"
        else:
            out += f".{part}" if out else part
    return out


class _KeyProblem(Exception):
    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


class _FileProblem(Exception):
    """A file that cannot be read as estate text (not a regular file, too big, not UTF-8)."""


@dataclass
class _Budget:
    """What the whole load may still spend: alias expansions and bytes of included files."""

    alias_values: int = ALIAS_BUDGET
    include_bytes: int = DEFAULT_TOTAL_MIB * MIB
    include_files: int = MAX_INCLUDED_FILES
    total_reported: bool = False


@dataclass(frozen=True)
class _IncludePolicy:
    roots: tuple[Path, ...]  # resolved directories includes may come from
    max_file_bytes: int


# libyaml's scanner and parser when PyYAML was built with it (several times faster on a large
# estate); the composer stays PyYAML's Python one, so every node is counted and its depth bounded.
try:
    from yaml.cyaml import CParser as _CParser  # type: ignore[attr-defined]

    _PARSING: tuple[type, ...] = (_CParser,)
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    _PARSING = (yaml.parser.Parser, yaml.scanner.Scanner, yaml.reader.Reader)


class _Loader(yaml.composer.Composer, *_PARSING, SafeConstructor, yaml.resolver.Resolver):  # type: ignore[misc]
    """A safe loader composing nodes only, counting them and bounding their depth."""

    def __init__(self, text: str) -> None:
        if len(_PARSING) == 1:
            _CParser.__init__(self, text)
        else:  # pragma: no cover - PyYAML built without libyaml
            yaml.reader.Reader.__init__(self, text)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        SafeConstructor.__init__(self)
        yaml.resolver.Resolver.__init__(self)
        self.composed = 0
        self.depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(AliasEvent):  # an alias is the node it names: nothing new
            return super().compose_node(parent, index)
        self.depth += 1
        if self.depth > MAX_DEPTH:
            line = self.peek_event().start_mark.line + 1
            raise _KeyProblem(f"nested more than {MAX_DEPTH} levels deep", line)
        self.composed += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


class _Builder:
    """Turn composed nodes into plain data, recording origins, expanding aliases and merge
    keys within the budget, and refusing duplicate keys and recursive aliases."""

    def __init__(self, label: str, origins: dict[PathKey, str], budget: _Budget, composed: int) -> None:
        self.label = label
        self.origins = origins
        self.budget = budget
        self.fresh = composed  # nodes of the document itself; any more come from aliases
        self.active: set[int] = set()
        self.scalars = SafeConstructor()

    def build(self, node: Node, path: PathKey) -> Any:
        line = node.start_mark.line + 1
        if id(node) in self.active:
            raise _KeyProblem("an alias refers to a value that contains it (a recursive alias)", line)
        if len(path) > MAX_DEPTH:
            raise _KeyProblem(f"aliases nest values more than {MAX_DEPTH} levels deep", line)
        if self.fresh > 0:
            self.fresh -= 1
        else:
            self.budget.alias_values -= 1
            if self.budget.alias_values < 0:
                raise _KeyProblem(f"aliases and merge keys add more than {ALIAS_BUDGET} values to the estate "
                                  "(write the values out instead)", line)
        self.origins.setdefault(path, f"{self.label}:{line}")
        if isinstance(node, ScalarNode):
            return self._scalar(node)
        self.active.add(id(node))
        try:
            if isinstance(node, MappingNode):
                return self._mapping(node, path)
            if isinstance(node, SequenceNode):
                return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
            return None  # pragma: no cover - the composer makes only these three kinds
        finally:
            self.active.discard(id(node))

    def _mapping(self, node: MappingNode, path: PathKey) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        merges: list[Node] = []
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                raise _KeyProblem("keys must be plain scalars", key_node.start_mark.line + 1)
            if key_node.tag == _MERGE_TAG:
                merges.append(value_node)
                continue
            key = self._scalar(key_node)
            if key in out:
                raise _KeyProblem(f"duplicate key {_shown(key)}", key_node.start_mark.line + 1)
            self.origins.setdefault((*path, str(key)), f"{self.label}:{key_node.start_mark.line + 1}")
            out[key] = self.build(value_node, (*path, str(key)))
        # '<<: *defaults' (or a list of them): keys written here win, then earlier sources.
        for source in merges:
            items = source.value if isinstance(source, SequenceNode) else [source]
            for item in items:
                if not isinstance(item, MappingNode):
                    raise _KeyProblem("a merge key (<<) takes a mapping or a list of mappings",
                                      item.start_mark.line + 1)
                merged = self.build(item, path)
                for key, value in merged.items():
                    out.setdefault(key, value)
        return out

    def _scalar(self, node: ScalarNode) -> Any:
        try:
            return self.scalars.construct_object(node, deep=True)
        except ValueError as exc:  # e.g. an unquoted date that does not exist: 2026-02-30
            raise _KeyProblem(f"{_shown(node.value)} cannot be read ({_clip(str(exc))}); quote it if it is text",
                              node.start_mark.line + 1) from exc


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "...'"


def _clip(text: str) -> str:
    return text if len(text) <= 80 else text[:77] + "..."


def _safe_yaml_problem(exc: yaml.YAMLError) -> str:
    """PyYAML's description of a syntax error without the file's text: quoted fragments (an
    alias name, a tag, a key) are dropped, except single characters and token names."""
    problem = getattr(exc, "problem", None) or "not valid YAML"
    context = getattr(exc, "context", None)
    text = f"{problem} ({context})" if context and "while" not in context else str(problem)

    def keep(match: re.Match[str]) -> str:
        inner = match.group(1)
        return match.group(0) if len(inner) <= 2 or (inner.startswith("<") and inner.endswith(">")) else "'…'"

    return re.sub(r"'([^'\n]*)'", keep, text)


def _read_text(path: Path, limit: int, limit_name: str, *, follow: bool = True) -> str:
    """Read ``path`` as UTF-8 text if it is a regular file of at most ``limit`` bytes.

    Opening never blocks (a FIFO is refused after the open, without waiting for a writer) and
    at most ``limit + 1`` bytes are read whatever the file claims. Raise _FileProblem.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0)
    if not follow:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = "a directory" if stat.S_ISDIR(info.st_mode) else "a device, FIFO or socket"
            raise _FileProblem(f"is not a regular file ({kind})")
        if info.st_size > limit:
            raise _FileProblem(f"is {_mib(info.st_size)} MiB, more than the limit of {_mib(limit)} MiB ({limit_name})")
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise _FileProblem(f"grows beyond the limit of {_mib(limit)} MiB while being read ({limit_name})")
    finally:
        os.close(fd)
    raw = b"".join(chunks)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise _FileProblem(f"is not UTF-8 text (line {line})") from exc


def _size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _mib(size: int) -> str:
    return f"{size / MIB:.1f}".removesuffix(".0")


_ESTATE_LIMIT = "the estate file's own; split it with include"


def read_yaml(path: Path, *, prefix: PathKey = (), limit: int = ESTATE_FILE_MIB * MIB, limit_name: str = _ESTATE_LIMIT,
              budget: _Budget | None = None, follow: bool = True) -> tuple[Any, dict[PathKey, str], list[Problem]]:
    """Parse one YAML file of at most ``limit`` bytes; return (data, origins, problems).

    Problems carry ``file:line`` and never the file's text. ``budget`` is shared by the files
    of one estate (aliases); ``follow`` False refuses a symbolic link (a path already resolved).
    """
    origins: dict[PathKey, str] = {}
    try:
        text = _read_text(path, limit, limit_name, follow=follow)
    except FileNotFoundError:
        return None, origins, [Problem(str(path), "", "file not found")]
    except _FileProblem as bad:
        return None, origins, [Problem(str(path), "", str(bad))]
    except OSError as exc:
        return None, origins, [Problem(str(path), "", f"cannot read: {exc.strerror or type(exc).__name__}")]
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, origins, []
        builder = _Builder(str(path), origins, budget or _Budget(), loader.composed)
        return builder.build(node, prefix), origins, []
    except _KeyProblem as bad:
        return None, origins, [Problem(f"{path}:{bad.line}", "", bad.message)]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        if "maximum nesting depth" in (exc.problem or ""):  # libyaml's own bound, met before ours
            return None, origins, [Problem(where, "", f"nested more than {MAX_DEPTH} levels deep")]
        return None, origins, [Problem(where, "", f"invalid YAML: {_safe_yaml_problem(exc)}")]
    except yaml.YAMLError as exc:
        return None, origins, [Problem(str(path), "", f"invalid YAML: {_safe_yaml_problem(exc)}")]
    except RecursionError:  # belt and braces: MAX_DEPTH keeps far below Python's limit
        return None, origins, [Problem(str(path), "", "nested too deeply")]
    finally:
        loader.dispose()


def load(path: Path) -> Loaded:
    """Read the estate at ``path`` with its includes. Problems are collected, not raised."""
    path = path.resolve() if path.exists() else path
    loaded = Loaded(root=path, data={})
    budget = _Budget()
    data, origins, problems = read_yaml(path, budget=budget)
    loaded.problems.extend(problems)
    loaded.files.append(path)
    if problems:
        return loaded
    if data is None or data == {}:
        loaded.problems.append(Problem(str(path), "", "the estate is empty (it needs at least a tenant, "
                                                      "or a cluster, stack or pool)"))
        return loaded
    if not isinstance(data, dict):
        loaded.problems.append(Problem(str(path), "", "the estate must be a mapping (key: value)"))
        return loaded
    loaded.data = data
    loaded.origins.update(origins)
    _Includes(loaded, _include_policy(loaded, budget), budget).expand(path, data, origins, depth=0)
    loaded.data = _interpolate(loaded.data, (), loaded)
    loaded.problems.extend(_control_characters(loaded))
    _normalise(loaded.data)
    return loaded


# --- includes -------------------------------------------------------------------------------


def _include_policy(loaded: Loaded, budget: _Budget) -> _IncludePolicy:
    """Read ``platform.includes`` from the estate file itself (before the schema: includes are
    expanded first). A wrong type is left to the schema; unusable values fall back on defaults."""
    platform = loaded.data.get("platform")
    settings = platform.get("includes") if isinstance(platform, dict) else None
    settings = settings if isinstance(settings, dict) else {}

    def mib(key: str, default: int, ceiling: int) -> int:
        value = settings.get(key)
        ok = isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= ceiling
        return (value if ok else default) * MIB  # type: ignore[operator]

    budget.include_bytes = mib("max_total_mib", DEFAULT_TOTAL_MIB, TOTAL_MIB_CEILING)
    roots = [loaded.root.parent]
    given = settings.get("roots")
    for index, root in enumerate(given if isinstance(given, list) else []):
        if not isinstance(root, str) or not root or not root.isprintable():
            continue  # the schema or the control-character check reports it
        directory = Path(root).expanduser()
        directory = directory if directory.is_absolute() else loaded.root.parent / directory
        if not directory.is_dir():
            loaded.problems.append(Problem(loaded.origin(("platform", "includes", "roots", index)),
                                           f"platform.includes.roots[{index}]", f"{directory} is not a directory"))
            continue
        roots.append(directory.resolve())
    return _IncludePolicy(tuple(roots), mib("max_file_mib", DEFAULT_FILE_MIB, FILE_MIB_CEILING))


def _inside(path: Path, roots: tuple[Path, ...]) -> bool:
    return any(path == root or path.is_relative_to(root) for root in roots)


@dataclass
class _Includes:
    """Expands the includes of one estate within its policy and budget."""

    loaded: Loaded
    policy: _IncludePolicy
    budget: _Budget

    def expand(self, path: Path, data: dict[str, Any], origins: dict[PathKey, str], depth: int) -> None:
        """Merge the files ``data`` (read from ``path``) includes, and theirs."""
        loaded, policy = self.loaded, self.policy
        includes = data.get("include", [])
        if isinstance(includes, str):
            includes = [includes]
        if not isinstance(includes, list):
            return  # the schema reports the wrong type
        for index, pattern in enumerate(includes):
            where = origins.get(("include", index)) or origins.get(("include",)) or str(path)
            here = f"include[{index}]"
            if not isinstance(pattern, str):
                continue
            if not pattern.isprintable():
                loaded.problems.append(Problem(where, here, "contains a control character"))
                continue
            if depth >= MAX_INCLUDE_DEPTH:
                loaded.problems.append(Problem(where, here,
                                               f"includes nested too deeply (at most {MAX_INCLUDE_DEPTH})"))
                continue
            # Checked on the words before any file is looked at: '../x', '/etc/x' and the like
            # are refused without listing or reading anything outside.
            written = Path(os.path.normpath(path.parent / Path(pattern).expanduser()))
            if not _inside(written, policy.roots):
                loaded.problems.append(Problem(where, here, f"{pattern!r} is outside the estate's directory "
                                                            "(allow another directory in platform.includes.roots)"))
                continue
            matches = sorted(glob.glob(str(written)))
            if not matches:
                loaded.problems.append(Problem(where, here, f"no file matches {pattern!r}"))
                continue
            for match in matches:
                real = Path(match).resolve()
                if not _inside(real, policy.roots):
                    loaded.problems.append(Problem(where, here, f"{match} leads outside the estate's directory "
                                                                "(a symbolic link; allow its target's directory in "
                                                                "platform.includes.roots)"))
                    continue
                self.merge(real, depth)

    def merge(self, path: Path, depth: int) -> None:
        """Read the included file at ``path`` (resolved, inside a root) and merge its sections."""
        loaded, policy, budget = self.loaded, self.policy, self.budget
        if path in loaded.files:
            loaded.problems.append(Problem(str(path), "", "included twice (or includes itself)"))
            return
        budget.include_files -= 1
        if budget.include_files < 0:
            if budget.include_files == -1:
                loaded.problems.append(Problem(str(path), "", f"more than {MAX_INCLUDED_FILES} files are included"))
            return
        loaded.files.append(path)
        if budget.include_bytes <= 0:  # the total was reached: the rest is not even opened
            if not budget.total_reported:
                budget.total_reported = True
                loaded.problems.append(Problem(str(path), "", "not read: the included files before it reach "
                                                              "platform.includes.max_total_mib"))
            return
        if policy.max_file_bytes <= budget.include_bytes:
            limit, limit_name = policy.max_file_bytes, "platform.includes.max_file_mib"
        else:
            limit, limit_name = budget.include_bytes, "what is left of platform.includes.max_total_mib"
        data, origins, problems = read_yaml(path, limit=limit, limit_name=limit_name, budget=budget, follow=False)
        budget.include_bytes -= _size(path)
        loaded.problems.extend(problems)
        if problems or data is None:
            return
        stray = [key for key in data if key not in (*MERGED_SECTIONS, "include")] if isinstance(data, dict) else [0]
        if stray:  # not an estate fragment: say so without echoing what the file holds
            where = origins.get((str(stray[0]),), str(path)) if isinstance(data, dict) else str(path)
            loaded.problems.append(Problem(where, "", "is not an estate fragment: an included file may only hold "
                                                      f"{', '.join(MERGED_SECTIONS)} and include"))
            return
        self._merge_sections(path, data, origins)
        self.expand(path, data, origins, depth + 1)

    def _merge_sections(self, path: Path, data: dict[str, Any], origins: dict[PathKey, str]) -> None:
        loaded = self.loaded
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
                            format_path((section, name)),
                            f"defined twice (first at {first})",
                        )
                    )
                    continue
                target[name] = value
                for key, origin in origins.items():
                    if key[:2] == (section, name):
                        loaded.origins[key] = origin


# --- interpolation and text checks ----------------------------------------------------------

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


# Line and paragraph separators and bidirectional overrides are not control characters (Cc)
# but still break a line or reorder what is printed.
_INVISIBLE = frozenset("\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _bad_character(text: str) -> tuple[int, str] | None:
    if text.isprintable():
        return None
    for index, char in enumerate(text):
        if unicodedata.category(char) == "Cc" or char in _INVISIBLE:
            return index, char
    return None


def _strings(value: Any, path: PathKey) -> Iterator[tuple[PathKey, str, bool]]:
    """Yield (path, text, is_key) for every string in ``value``, keys included."""
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str):
                yield (*path, key), key, True
            yield from _strings(item, (*path, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, (*path, index))
    elif isinstance(value, str):
        yield path, value, False


def _control_characters(loaded: Loaded) -> list[Problem]:
    """Refuse control characters (a newline, a NUL, an escape…) in every key and value, after
    interpolation: values reach odoo.conf, Traefik rules, SQL comments, labels and terminals,
    where one would add a line or hide text. The value itself is never echoed."""
    problems = []
    for path, text, is_key in _strings(loaded.data, ()):
        found = _bad_character(text)
        if found is None:
            continue
        index, char = found
        what = "key" if is_key else "value"
        problems.append(Problem(loaded.origin(path), format_path(path),
                                f"the {what} contains a control character (U+{ord(char):04X} at position "
                                f"{index + 1}); estate text must be printable and on one line"))
    return problems


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
