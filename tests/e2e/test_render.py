"""``odooplane render`` shows what apply writes: after applying the quick-start estate on the local
driver, every file render lists is the applied file, but for its secrets (placeholders) and the
revisions computed with them."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from tests.support.estate import TestEstate
from tests.support.services import free_port

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def _pattern(rendered: str, names: dict[str, str]) -> re.Pattern[str]:
    """``rendered`` with its placeholders back to this host's directories, as a pattern in which a
    secret matches any value and a revision any revision."""
    for name, path in names.items():
        rendered = rendered.replace(name, path)
    text = re.escape(rendered)
    text = re.sub(r"<secret:[^>\n]+>", lambda _m: r"[^\n]+", text)
    text = re.sub(r'ODOOPLANE_REVISION="[0-9a-f]{16}"', lambda _m: r'ODOOPLANE_REVISION="[0-9a-f]{16}"', text)
    return re.compile(text)


def test_render_after_apply_is_what_apply_wrote(tmp_path: Path) -> None:
    shutil.copy(ROOT / "examples" / "quickstart.yaml", tmp_path / "estate.yaml")
    data = yaml.safe_load((tmp_path / "estate.yaml").read_text())
    data["platform"]["data_dir"] = "data"
    data["platform"]["edge"].update(http_port=free_port(), api_port=free_port())
    data["platform"]["ports"] = {"start": 31500, "end": 31900}
    estate = TestEstate(tmp_path / "estate.yaml", data, env={"XDG_STATE_HOME": str(tmp_path / "xdg"),
                                                             "ODOOPLANE_SIMULATOR": "true", "ODOO_SOURCE": ""})
    estate.write()
    try:
        estate.cli("apply", str(estate.path), "-q", timeout=1200)
        out = tmp_path / "rendered"
        manifest = json.loads(estate.cli("render", str(estate.path), "--out", str(out), "--json").stdout)
        assert manifest["provisional_ports"] == []  # every port comes from the state store
        import sys

        import odooplane

        names = {"${RUNTIME_DIR}": str(estate.runtime_dir), "${DATA_DIR}": str(estate.data_dir),
                 "${ESTATE_DIR}": str(tmp_path), "${ODOOPLANE}": str(Path(odooplane.__file__).parent),
                 "${PYTHON_PREFIX}": sys.prefix}
        assert len(manifest["files"]) >= 18
        for entry in manifest["files"]:
            name = entry["path"]
            applied = (estate.runtime_dir / name.removeprefix("runtime/") if name.startswith("runtime/")
                       else estate.data_dir / name)
            rendered = (out / name).read_text()
            assert _pattern(rendered, names).fullmatch(applied.read_text()), f"{name}: render differs from apply"
    finally:
        estate.cli("down", "-f", str(estate.path), "--purge", "--yes")
