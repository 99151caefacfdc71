"""Fixtures of the labeler pages' tests: a signed-in test client for each kind of labeler, and
pages of the session's headless browser (``browser``, tests/conftest.py: Playwright driving
Debian's chromium) against pytest-django's live server for the end-to-end tests.

The browser tests need ``/usr/bin/chromium`` (``.ci/run`` installs it when missing); without it
they are skipped with that reason, never silently passed. They run against the live server, so
their data is committed (``transactional_db``): keep them few and whole journeys.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
AXE_JS = Path(__file__).resolve().parent / "vendor" / "axe.min.js"

# Widths the pages are checked and photographed at: a phone and a desktop.
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}

needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason=f"needs Debian's chromium at {CHROMIUM} (apt-get install chromium; .ci/run does)",
)


@pytest.fixture
def labeler_client(client, internal_labeler):
    """The Django test client signed in as an active internal labeler (``client.labeler``)."""
    client.force_login(internal_labeler.user)
    client.labeler = internal_labeler
    return client


@pytest.fixture
def desktop(browser, live_server):
    """A fresh browser context at desktop width; ``page.goto`` takes paths (``/labeler/``)."""
    context = browser.new_context(viewport=VIEWPORTS["desktop"], base_url=live_server.url)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def phone(browser, live_server):
    """A fresh browser context at phone width, with touch."""
    context = browser.new_context(
        viewport=VIEWPORTS["phone"], base_url=live_server.url, has_touch=True, is_mobile=True
    )
    page = context.new_page()
    yield page
    context.close()


def sign_in(page, username: str, password: str) -> None:
    """Sign in through the sign-in page, as a person does."""
    page.goto("/labeler/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def screenshot(page, name: str) -> Path:
    """Write the page as ``docs/screenshots/<name>.png`` (checked in; README shows two)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def axe_violations(page) -> list[dict]:
    """axe-core's WCAG 2.1 A/AA violations on the page as it is now, every impact (axe-core
    4.14.1 is vendored in tests/labeler_pages/vendor with its licence: nothing is fetched)."""
    page.add_script_tag(path=str(AXE_JS))
    result = page.evaluate(
        """async () => await axe.run(document, {
            runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}
        })"""
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
    ]
