"""Editing an estate file in place: set keys of one environment and keep every other byte of the
file (comments, quoting, blank lines, line breaks and the wrapping of long lines), so that the
change a command makes (``move``, ``promote``) is exactly the diff a reviewer sees in git.

The file is parsed (ruamel, round-trip) only to find where things are; the edit itself is a
splice of the text at those positions. Values are written in flow style on one line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:/-]*$")
_RESERVED = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}


class EditError(ValueError):
    """The file cannot be edited in place (its shape is not one this editor understands)."""


def render_value(value: Any) -> str:
    """A value as one-line flow YAML: plain scalars where YAML reads them back as the same string,
    JSON-quoted otherwise; mappings as ``{k: v}``, lists as ``[a, b]``."""
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{render_value(str(k))}: {render_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(render_value(v) for v in value) + "]"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    text = str(value)
    if _PLAIN.match(text) and text.lower() not in _RESERVED and not text[0].isdigit() and ": " not in text:
        return text
    return json.dumps(text)


@dataclass
class _Lines:
    lines: list[str]

    @classmethod
    def of(cls, text: str) -> _Lines:
        return cls(text.splitlines(keepends=True))

    def text(self) -> str:
        return "".join(self.lines)

    @staticmethod
    def ending(line: str) -> str:
        return line[len(line.rstrip("\r\n")):]


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _is_content(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def _value_end_on_line(line: str, col: int, *, in_flow: bool = False) -> int:
    """Where a one-line value starting at ``col`` ends: before a trailing ``  # comment`` or the
    line break — or, inside a flow mapping (``in_flow``), before the ``,`` or ``}`` that follows
    it. Quotes and nested brackets are skipped."""
    quote: str | None = None
    depth = 0
    i = col
    body = line.rstrip("\r\n")
    while i < len(body):
        ch = body[i]
        if quote:
            if ch == "\\" and quote == '"':
                i += 2
                continue
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}" and depth > 0:
            depth -= 1
        elif (in_flow and depth == 0 and ch in ",}]") or (ch == "#" and i > col and body[i - 1] in " \t"):
            return len(body[:i].rstrip(" \t"))
        i += 1
    return len(body.rstrip(" \t"))


def _block_end(lines: list[str], start: int, parent_indent: int) -> int:
    """Index just past the last content line of the block value of the key on line ``start``:
    lines indented deeper than ``parent_indent`` (the key's indentation), or list items at that
    indentation (YAML allows ``- item`` level with its key). Trailing blank and comment lines are
    not part of it."""
    last = start
    for i in range(start + 1, len(lines)):
        if not _is_content(lines[i]):
            continue
        indent = _indent(lines[i])
        if indent < parent_indent or (indent == parent_indent and not lines[i].lstrip().startswith("-")):
            break
        last = i
    return last + 1


def set_env_keys(text: str, *, tenant: str, env: str, values: Mapping[str, Any]) -> str:
    """Return ``text`` with ``tenants.<tenant>.environments.<env>.<key>`` set to each value; every
    other byte is kept. Raise :class:`EditError` if the environment cannot be found or edited."""
    for key, value in values.items():
        text = _set_one(text, tenant=tenant, env=env, key=key, value=value)
    return text


def _load(text: str) -> Any:
    yaml = YAML()
    return yaml.load(text)


def _set_one(text: str, *, tenant: str, env: str, key: str, value: Any) -> str:
    data = _load(text)
    try:
        envs = data["tenants"][tenant]["environments"]
    except (KeyError, TypeError):
        raise EditError(f"tenants.{tenant}.environments not found") from None
    if not isinstance(envs, CommentedMap) or env not in envs:
        raise EditError(f"tenants.{tenant}.environments.{env} not found")
    doc = _Lines.of(text)
    rendered = render_value(value)
    env_line, env_col = envs.lc.key(env)
    body = envs[env]
    if isinstance(body, CommentedMap) and key in body:
        return _replace_value(doc, body, key, rendered)
    if isinstance(body, CommentedMap) and body and not body.fa.flow_style():
        return _append_key(doc, body, key, rendered)
    if isinstance(body, CommentedMap) and body:
        return _append_flow(doc, body, key, rendered)
    # null or an empty mapping: the environment's value becomes a one-key flow mapping
    line = doc.lines[env_line]
    colon = line.index(":", env_col + len(env)) + 1
    end = _value_end_on_line(line, colon)
    value_text = line[colon:end].strip()
    if value_text not in ("", "{}", "~", "null"):
        raise EditError(f"tenants.{tenant}.environments.{env} is not a mapping")
    doc.lines[env_line] = f"{line[:colon]} {{{key}: {rendered}}}{line[end:]}"
    return doc.text()


def _replace_value(doc: _Lines, body: CommentedMap, key: str, rendered: str) -> str:
    key_line, key_col = body.lc.key(key)
    value_line, value_col = body.lc.value(key)
    line = doc.lines[key_line]
    colon = line.index(":", key_col + len(key)) + 1
    current = body[key]
    nested = getattr(current, "fa", None) is not None and not current.fa.flow_style()
    if value_line == key_line and not nested:
        end = _value_end_on_line(line, value_col, in_flow=bool(body.fa.flow_style()))
        doc.lines[key_line] = f"{line[:value_col]}{rendered}{line[end:]}"
        return doc.text()
    # A block value (nested mapping or list on the following lines): one flow line replaces it.
    stop = _block_end(doc.lines, key_line, key_col)
    doc.lines[key_line:stop] = [f"{line[:colon]} {rendered}{_Lines.ending(line) or chr(10)}"]
    return doc.text()


def _append_key(doc: _Lines, body: CommentedMap, key: str, rendered: str) -> str:
    keys = list(body.keys())
    _, key_col = body.lc.key(keys[0])
    last_line, _ = body.lc.key(keys[-1])
    stop = _block_end(doc.lines, last_line, key_col)
    ending = _Lines.ending(doc.lines[stop - 1])
    if not ending:  # the file ends without a line break
        ending = "\n"
        doc.lines[stop - 1] += ending
    doc.lines.insert(stop, f"{' ' * key_col}{key}: {rendered}{ending}")
    return doc.text()


def _append_flow(doc: _Lines, body: CommentedMap, key: str, rendered: str) -> str:
    keys = list(body.keys())
    line_no, col = body.lc.value(keys[-1])
    line = doc.lines[line_no]
    end = _value_end_on_line(line, col, in_flow=True)  # just after the mapping's last value
    closing = end + len(line[end:]) - len(line[end:].lstrip(" \t"))
    if closing >= len(line) or line[closing] != "}":
        raise EditError("the environment's flow mapping spans several lines: edit it by hand")
    doc.lines[line_no] = f"{line[:end]}, {key}: {rendered}{line[end:]}"
    return doc.text()


def add_tenant(text: str, *, name: str, body: Mapping[str, Any]) -> str:
    """Return ``text`` with ``tenants.<name>`` added (one flow line, after the last tenant, at their
    indentation; or a new ``tenants:`` block at the end). Raise :class:`EditError` if it exists or
    the file's ``tenants`` is not a block mapping."""
    data = _load(text)
    if data is not None and not isinstance(data, CommentedMap):
        raise EditError("the estate file is not a mapping")
    doc = _Lines.of(text)
    rendered = render_value(body)
    if data is None or "tenants" not in data:
        if doc.lines and not _Lines.ending(doc.lines[-1]):
            doc.lines[-1] += "\n"
        doc.lines.append(f"tenants:\n  {render_value(name)}: {rendered}\n")
        return doc.text()
    tenants = data["tenants"]
    if not isinstance(tenants, CommentedMap) or not tenants or tenants.fa.flow_style():
        raise EditError("tenants is not a block mapping of tenants: add the tenant by hand")
    if name in tenants:
        raise EditError(f"tenants.{name} exists already")
    return _append_key(doc, tenants, render_value(name), rendered)


def remove_environment(text: str, *, tenant: str, env: str) -> str:
    """Return ``text`` without ``tenants.<tenant>.environments.<env>`` — without the whole tenant
    when it was its only environment. Raise :class:`EditError` if it cannot be found or removed."""
    data = _load(text)
    try:
        tenants = data["tenants"]
        envs = tenants[tenant]["environments"]
    except (KeyError, TypeError):
        raise EditError(f"tenants.{tenant}.environments not found") from None
    if not isinstance(envs, CommentedMap) or env not in envs:
        raise EditError(f"tenants.{tenant}.environments.{env} not found")
    doc = _Lines.of(text)
    if len(envs) == 1:
        holder, key = tenants, tenant
    else:
        holder, key = envs, env
    if holder.fa.flow_style():
        raise EditError(f"the mapping holding {key} is a flow mapping: remove it by hand")
    line_no, col = holder.lc.key(key)
    if len(holder) == 1:
        raise EditError(f"{key} is the only tenant: remove it by hand")
    stop = _block_end(doc.lines, line_no, col)
    del doc.lines[line_no:stop]
    return doc.text()
