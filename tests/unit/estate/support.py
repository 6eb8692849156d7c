"""Shared by the estate tests: the header every small estate starts with, and checking one."""

from __future__ import annotations

import textwrap
from pathlib import Path

from odooplane.estate import validate

HEADER = """
platform: {default_stack: sim, default_cluster: main}
clusters: {main: {kind: managed}}
stacks: {sim: {series: "18.0", simulator: true}}
"""


def check(tmp_path: Path, text: str) -> tuple[validate.ValidEstate | None, list[str]]:
    """Write ``text`` (dedented) to ``tmp_path/estate.yaml``; return validate's verdict, problems as lines."""
    path = tmp_path / "estate.yaml"
    path.write_text(textwrap.dedent(text))
    valid, problems = validate.check(path)
    return valid, [str(p) for p in problems]
