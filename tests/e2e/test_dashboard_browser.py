"""The dashboard in Debian's Chromium (Playwright): every page at 1280 px and 390 px — its heading,
no sideways scrolling on a phone, every form control labelled — screenshotted and checked; and an
approval driven end to end by two people, the requester unable to approve their own change."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from odooplane.store import db, evidence, journal, releases
from tests.support.estate import TestEstate, make_estate, unique
from tests.support.served import Served

pytestmark = pytest.mark.e2e
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PASSWORD = "correct horse battery"
WIDTHS = (1280, 390)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestEstate, Served, dict[str, Any]]]:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (Debian chromium)")
    tmp = tmp_path_factory.mktemp("dashboard")
    acme, globex = unique("acme"), unique("globex")
    estate = make_estate(tmp, {
        acme: {"display_name": "Acme Distribution", "labels": {"business_unit": "retail", "site": "lyon"},
               "environments": {"prod": {}, "staging": {}}},
        globex: {"labels": {"business_unit": "wholesale"}, "environments": {"prod": {}}},
    })
    for name, role in (("alice", "release-manager"), ("bob", "approver")):
        _add_user(estate, name, role)
    store = db.open_store(f"sqlite:///{estate.data_dir / 'state.db'}")
    try:
        op = journal.start_operation(store, kind="backup", target=f"{acme}/prod", actor="alice")
        step = journal.step_intent(store, op, name="dump", target=f"{acme}/prod")
        journal.step_finish(store, step, status="done", duration_s=1.25)
        journal.finish_operation(store, op, status="succeeded")
        evidence.add(store, kind="backup", target=f"{acme}/prod", ok=True, data={}, summary="backed up (12 MiB)")
        evidence.add(store, kind="drill", target=f"{acme}/prod", ok=True, data={}, summary="RPO 60 s, RTO 42 s")
        change = releases.add(store, target=f"{acme}/prod", kind="request", status="open", actor="alice",
                              release="r2", from_release="r1")
    finally:
        store.close()
    served = Served(estate.path, "--executors", "0", env=estate.env)
    try:
        yield estate, served, {"acme": acme, "globex": globex, "op": op, "change": change}
    finally:
        served.stop()


def _add_user(estate: TestEstate, name: str, role: str) -> None:
    import os
    import subprocess
    import sys

    subprocess.run([sys.executable, "-m", "odooplane", "users", "add", name, "--role", role, "--password-stdin",
                    "-f", str(estate.path)], input=PASSWORD + "\n", text=True, check=True, capture_output=True,
                   env={**os.environ, **estate.env}, cwd=estate.path.parent)


def sign_in(page: Any, base: str, name: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/")


def check_page(page: Any, shots: Path, name: str, width: int, heading: str) -> None:
    assert page.get_by_role("heading", level=1).first.inner_text().startswith(heading), page.content()[:2000]
    overflow = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1, f"{name} at {width} px scrolls sideways by {overflow} px"
    unlabelled = page.evaluate("""() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
        .filter(e => e.labels.length === 0 && !e.getAttribute('aria-label')).map(e => e.name)""")
    assert unlabelled == [], f"{name}: controls without a label: {unlabelled}"
    shot = shots / f"{name}-{width}.png"
    page.screenshot(path=str(shot), full_page=True)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000, (name, width, len(data))


def test_every_page_at_desktop_and_phone_widths(site: tuple[TestEstate, Served, dict[str, Any]],
                                                tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    _, served, names = site
    pages = [("fleet", "/", "Fleet"), ("tenant", f"/tenants/{names['acme']}", "Acme Distribution"),
             ("operations", "/operations", "Operations"), ("operation", f"/operations/{names['op']}", "Operation #"),
             ("approvals", "/approvals", "Approvals"), ("drills", "/drills", "Disaster-recovery drills"),
             ("guardrails", "/guardrails", "Guardrails")]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            for width in WIDTHS:
                page = browser.new_page(viewport={"width": width, "height": 800})
                page.goto(f"{served.base}/login")
                check_page(page, tmp_path, "login", width, "Sign in")
                sign_in(page, served.base, "bob")
                page.keyboard.press("Tab")  # the first stop on a page is the link past the navigation
                assert page.evaluate("() => document.activeElement.textContent") == "Skip to content"
                for name, path, heading in pages:
                    page.goto(f"{served.base}{path}")
                    check_page(page, tmp_path, name, width, heading)
                page.goto(f"{served.base}/")
                assert page.get_by_role("link", name=f"{names['acme']}/prod").is_visible()
                assert page.get_by_text("retail").first.is_visible()
                page.goto(f"{served.base}/tenants/{names['acme']}")
                assert page.get_by_text("backed up (12 MiB)").is_visible()
                page.goto(f"{served.base}/operations/{names['op']}")
                assert page.get_by_role("cell", name="dump").is_visible()
                page.close()
        finally:
            browser.close()
    assert len(list(tmp_path.glob("*.png"))) == 2 * (len(pages) + 1)


def test_an_approval_driven_end_to_end_by_two_people(site: tuple[TestEstate, Served, dict[str, Any]]) -> None:
    from playwright.sync_api import sync_playwright

    _, served, names = site
    change = names["change"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            requester = browser.new_page(viewport={"width": 1280, "height": 800})
            sign_in(requester, served.base, "alice")
            requester.get_by_role("link", name="Approvals").click()
            assert requester.get_by_text("someone else must decide it").is_visible()
            assert requester.get_by_role("button", name=f"Approve change #{change}").count() == 0

            approver = browser.new_context(viewport={"width": 390, "height": 800}).new_page()
            sign_in(approver, served.base, "bob")
            approver.get_by_role("link", name="Approvals").click()
            approver.get_by_role("button", name=f"Approve change #{change}").click()
            assert approver.get_by_role("status").inner_text() == f"change #{change} approved"
            assert approver.get_by_text("Approvals so far: bob").is_visible()
            requester.reload()
            assert requester.get_by_text("Approvals so far: bob").is_visible()
        finally:
            browser.close()
