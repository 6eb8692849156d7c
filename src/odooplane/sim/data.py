"""Loading a module's XML data files, as far as they can fail: ``odoo/tools/convert.py``.

A module found on the addons path lists data files in its manifest (``data``); installing or
updating it loads them in order. The simulator creates no records from them, but fails where
Odoo fails, with Odoo's exceptions: a file that is not well-formed XML (``XMLSyntaxError``, with
the file and line), and a ``<record>`` whose ``ref="…"``/``ref('…')`` names an external id that
exists neither in ``ir_model_data`` nor earlier in the module's data — raised, like every error
inside a record, as ``ParseError: while parsing FILE:LINE, somewhere inside`` plus the element,
chained to its cause (``ValueError: External ID not found in the system: …``).
"""

from __future__ import annotations

import logging
import os
import re
import xml.etree.ElementTree as ET
from xml.parsers import expat

from odooplane.sim.database import Connection, execute

_logger = logging.getLogger("odoo.modules.loading")
_REF_CALL = re.compile(r"""\bref\(\s*['"]([^'"]+)['"]\s*\)""")


class ParseError(Exception):
    """``odoo.tools.convert.ParseError``."""


class XMLSyntaxError(SyntaxError):
    """``lxml.etree.XMLSyntaxError``: the message ends with ``(file name, line N)``."""


def _parse(path: str) -> tuple[ET.Element, dict[int, int]]:
    """The document and the line each element starts on (by ``id`` of the element)."""
    builder = ET.TreeBuilder()
    lines: dict[int, int] = {}
    parser = expat.ParserCreate()

    def start(tag: str, attrs: dict[str, str]) -> None:
        lines[id(builder.start(tag, attrs))] = parser.CurrentLineNumber

    parser.StartElementHandler = start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    with open(path, "rb") as handle:
        try:
            parser.ParseFile(handle)
        except expat.ExpatError as exc:
            message = expat.ErrorString(exc.code)
            raise XMLSyntaxError(f"{message}, line {exc.lineno}, column {exc.offset + 1} "
                                 f"({os.path.basename(path)}, line {exc.lineno})") from None
    return builder.close(), lines


def _refs(record: ET.Element) -> list[str]:
    found = []
    for field in record.iter("field"):
        if field.get("ref"):
            found.append(str(field.get("ref")))
        found += _REF_CALL.findall(field.get("eval") or "")
    return found


def _known(conn: Connection, xmlid: str) -> bool:
    module, _, name = xmlid.partition(".")
    row = execute(conn, "SELECT 1 FROM ir_model_data WHERE module = %s AND name = %s", (module, name)).fetchone()
    return row is not None


def load_file(conn: Connection, module: str, path: str, defined: set[str]) -> None:
    """Load one data file of ``module``; ``defined`` collects the external ids its records define."""
    if not path.endswith(".xml"):
        return  # CSV and SQL files: nothing the simulator checks
    root, lines = _parse(path)
    for record in root.iter("record"):
        xmlid = str(record.get("id") or "")
        try:
            for ref in _refs(record):
                full = ref if "." in ref else f"{module}.{ref}"
                if full not in defined and not _known(conn, full):
                    raise ValueError(f"External ID not found in the system: {full}")
        except ValueError as exc:
            element = ET.tostring(record, encoding="unicode").rstrip()
            raise ParseError(f"while parsing {path}:{lines.get(id(record), 0)}, somewhere inside\n{element}") from exc
        if xmlid:
            defined.add(xmlid if "." in xmlid else f"{module}.{xmlid}")


def load_data(conn: Connection, module: str, directory: str, files: tuple[str, ...]) -> None:
    """``load_data(kind='data')``: every data file of the manifest, in order."""
    defined: set[str] = set()
    for name in files:
        _logger.info("loading %s/%s", module, name)
        load_file(conn, module, os.path.join(directory, name), defined)
