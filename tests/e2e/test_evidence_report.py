"""The evidence report of a tenant that ran for real (applied, backed up, its restore proven, its
credentials revealed, a promotion blocked at its gates, a guardrail waived): a PDF whose pages are
rendered to PNG by pdftoppm and read back by pdftotext, and a self-contained HTML page."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from tests.support.estate import make_estate, unique

pytestmark = pytest.mark.e2e


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils (pdftoppm) is not installed")
def test_evidence_report_of_a_tenant_as_pdf_and_html(tmp_path: Path) -> None:
    t = unique("ev")
    estate = make_estate(tmp_path, {t: {"labels": {"business_unit": "retail", "tier": "production"},
                                        "environments": {"prod": {"objectives": {"rpo": "1d", "rto": "4h"}},
                                                         "staging": {"backup": False}}}})
    estate.data["releases"] = {"r2": {"stack": "odoo"}}
    estate.data["change_management"] = {
        "policies": {"production": {"approvals": {"approvers": 1}}}, "stage_policies": {"production": "production"},
        "people": {"carol": {"roles": ["cab"]}}}
    estate.write()
    f = ("-f", str(estate.path))
    try:
        estate.cli("apply", str(estate.path), "-q")
        estate.cli("backup", "run", f"{t}/prod", *f)
        estate.cli("verify", f"{t}/prod", *f, timeout=600)
        estate.cli("credentials", f"{t}/prod", *f)
        blocked = estate.cli("promote", "r2", "--to", f"{t}/prod", *f, "--json", check=False)
        assert blocked.returncode == 1 and json.loads(blocked.stdout)["targets"][0]["decision"] == "blocked"
        asked = json.loads(estate.cli("policy", "waive", "critical-ha", f"{t}/*", "--reason", "single host pilot",
                                      *f, "--json", extra_env={"ODOOPLANE_ACTOR": "alice"}).stdout)
        estate.cli("policy", "approve", str(asked["id"]), *f, extra_env={"ODOOPLANE_ACTOR": "bob"})
        head = json.loads(estate.cli("audit", "--verify", *f, "--json").stdout)

        pdf = tmp_path / "report.pdf"
        done = json.loads(estate.cli("report", "evidence", "--tenant", t, "--out", str(pdf), *f, "--json").stdout)
        assert pdf.read_bytes().startswith(b"%PDF-") and done["pages"] >= 2
        (prod,) = [b for b in done["backups"] if b["target"] == f"{t}/prod"]
        assert prod["backups"] == 1 and prod["proofs"] == 1 and prod["rpo_met"] is True, prod
        (staging,) = [b for b in done["backups"] if b["target"] == f"{t}/staging"]
        assert staging["policy"] == "" and staging["rpo_met"] is None
        assert {c["kind"] for c in done["changes"]} >= {"request", "gate"}
        assert done["chain_intact"] and done["chain_head"]
        assert any(a["action"] == "reveal credentials" or a["action"].startswith("authorize secrets.reveal")
                   for a in done["access"]), done["access"]
        assert [w["id"] for w in done["waivers"]] == [asked["id"]]

        # Every page rendered to an image, none blank; the text read back says what the data says.
        pages = tmp_path / "pages"
        pages.mkdir()
        subprocess.run(["pdftoppm", "-r", "60", "-png", str(pdf), str(pages / "p")], check=True, timeout=120)
        images = sorted(pages.glob("p-*.png"))
        assert len(images) == done["pages"]
        for image in images:
            with Image.open(image) as img:
                grey = img.convert("L")
                dark = sum(grey.histogram()[:128])
                assert grey.width > 400 and dark > 500, (image.name, dark)  # text is on it
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                              check=True, timeout=120).stdout
        # Table cells wrap (and pdftotext joins a word broken at a hyphen): compare without either.
        flat = re.sub(r"[\s-]+", "", text)
        for expected in (f"Evidence report: {t}", "Backups and restore proofs against objectives",
                         "Disaster-recovery drills", "Changes, approvals and gate decisions", "Access",
                         "Guardrails and waivers", "critical-ha", "single host pilot", f"{t}/prod", "intact"):
            assert re.sub(r"[\s-]+", "", expected) in flat, expected
        assert head["head"].replace("-", "") in flat  # the chain head hash, as verified
        assert f"page1of{done['pages']}" in flat

        page = tmp_path / "report.html"
        estate.cli("report", "evidence", "--tenant", t, "--out", str(page), *f)
        html = page.read_text()
        assert f"Evidence report: {t}" in html and "<style>" in html
        assert "<script" not in html and not re.search(r"(src|href)=\"(https?:)?//", html)  # self-contained

        refused = estate.cli("report", "evidence", "--tenant", "nosuch", "--json", *f, check=False)
        assert refused.returncode == 3
        bad = estate.cli("report", "evidence", "--tenant", t, "--from", "2026-13-01", "--json", *f, check=False)
        assert bad.returncode == 2 and "--from" in bad.stderr
    finally:
        estate.cli("down", *f, "--purge", "--yes", check=False)
