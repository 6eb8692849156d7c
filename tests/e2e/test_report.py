"""The fleet status page end to end: sweeps recorded over a day (the clock shifted per sweep), one
tenant's Odoo stopped, then ``report health --html`` — checked as data, as HTML, and as pixels in a
headless Chromium screenshot (Debian ``chromium`` driven by Playwright with ``executable_path``)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from tests.support.estate import make_estate, unique

pytestmark = pytest.mark.e2e

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
RED, GREEN = (0xD6, 0x45, 0x45), (0x2E, 0x9E, 0x5B)


class Rows(HTMLParser):
    """Tenant rows and environment blocks with their data attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tenants: dict[str, str] = {}
        self.envs: dict[str, str] = {}
        self.cells: dict[str, list[str]] = {}
        self._env: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "tr" and a.get("class") == "tenant":
            self.tenants[str(a["data-tenant"])] = str(a["data-status"])
        elif tag == "div" and a.get("class") == "env":
            self._env = str(a["data-target"])
            self.envs[self._env] = str(a["data-status"])
        elif tag == "rect" and self._env:
            self.cells.setdefault(self._env, []).append(str(a["data-status"]))


def count_colour(png: Path, colour: tuple[int, int, int]) -> int:
    from PIL import Image

    with Image.open(png) as image:
        rgb = image.convert("RGB")
        return sum(n for n, px in (rgb.getcolors(maxcolors=1 << 20) or []) if
                   all(abs(c - w) <= 6 for c, w in zip(px, colour, strict=True)))


def test_health_page_shows_history_and_outage(tmp_path: Path) -> None:
    a, b = unique("ra"), unique("rb")
    estate = make_estate(tmp_path, {
        a: {"labels": {"tier": "production", "business_unit": "retail"},
            "environments": {"prod": {"backup": False}, "staging": {"stage": "staging", "backup": False}}},
        b: {"labels": {"tier": "production"}, "environments": {"prod": {"backup": False}}},
    })
    try:
        estate.cli("apply", str(estate.path), "-q")
        now = dt.datetime.now(dt.UTC)
        for hours_ago in (20, 10, 2):
            at = (now - dt.timedelta(hours=hours_ago)).isoformat()
            swept = estate.cli("health", "-f", str(estate.path), "--json", check=False,
                               extra_env={"ODOOPLANE_FAKE_NOW": at})
            assert swept.returncode == 0, swept.stdout + swept.stderr
        conf = estate.data_dir / "supervisor" / "supervisord.conf"
        subprocess.run([sys.executable, "-m", "supervisor.supervisorctl", "-c", str(conf), "stop",
                        f"odoo-{b}__prod"], check=True, capture_output=True, timeout=60)

        out = tmp_path / "site" / "health.html"
        done = estate.cli("report", "health", "-f", str(estate.path), "--html", str(out), "--json")
        data: dict[str, Any] = json.loads(done.stdout)
        tenants = {t["tenant"]: t for t in data["tenants"]}
        assert set(tenants) == {a, b} and data["sweeps"] >= 4
        assert tenants[a]["status"] == "ok" and tenants[b]["status"] == "critical"
        a_prod = next(e for e in tenants[a]["environments"] if e["target"] == f"{a}/prod")
        assert len(a_prod["history"]) == 48 and sum(1 for s in a_prod["history"] if s) >= 4
        # The newest cell may also hold the worker's sweep made while apply created it: "unknown", not red.
        assert a_prod["history"][-1] in ("ok", "unknown") and a_prod["availability"] == 1.0, a_prod
        b_prod = tenants[b]["environments"][0]
        assert b_prod["history"][-1] == "critical" and b_prod["availability"] < 1.0
        assert any(f.startswith("http:") for f in b_prod["failing"])

        rows = Rows()
        rows.feed(out.read_text())
        assert rows.tenants == {a: "ok", b: "critical"}
        assert rows.envs == {f"{a}/prod": "ok", f"{a}/staging": "ok", f"{b}/prod": "critical"}
        assert rows.cells[f"{b}/prod"][-1] == "critical" and rows.cells[f"{a}/prod"].count("ok") >= 3
        assert "none" in rows.cells[f"{a}/prod"]  # hours without a sweep stay visibly empty
        mode = out.stat().st_mode & 0o777
        assert mode & 0o022 == 0, oct(mode)
    finally:
        estate.cli("down", "-f", str(estate.path), "--purge", "--yes", check=False)

    if CHROMIUM is None:
        pytest.skip("chromium is not installed (Debian chromium): the page was checked, not its screenshot")
    playwright = pytest.importorskip("playwright.sync_api")
    shot = tmp_path / "health.png"
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            page.goto(out.as_uri())
            assert page.locator("tr.tenant").count() == 2
            # The outage row is drawn in the critical colour, the healthy one in green.
            border = page.locator(f'tr.tenant[data-tenant="{b}"] td').first.evaluate(
                "e => getComputedStyle(e).borderLeftColor")
            assert border == "rgb(214, 69, 69)", border
            page.screenshot(path=str(shot), full_page=True)
            row_shot = tmp_path / "row.png"
            page.locator(f'tr.tenant[data-tenant="{b}"]').screenshot(path=str(row_shot))
        finally:
            browser.close()
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert count_colour(shot, GREEN) > 500 and count_colour(shot, RED) > 500
    assert count_colour(row_shot, RED) > 300
