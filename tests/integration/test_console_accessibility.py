"""Every page of the web console passes axe-core with no serious or critical violation,
and every form field has a label."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.support.browser import accessibility_violations
from tests.support.console_server import BUCKET, ConsoleServer, save_screenshot

pytestmark = pytest.mark.integration

UNLABELLED = """() => Array.from(document.querySelectorAll(
    'input:not([type=hidden]):not([type=submit]), select, textarea'))
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
  .map(el => el.name || el.id)"""


@pytest.fixture
def axe_page(browser: Any) -> Iterator[Any]:
    """A page whose Content-Security-Policy lets axe-core be added to it."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    try:
        yield context.new_page()
    finally:
        context.close()


def check(page: Any, found: dict[str, list[str]], name: str) -> None:
    problems = accessibility_violations(page)
    unlabelled = page.evaluate(UNLABELLED)
    if unlabelled:
        problems.append(f"fields without a label: {unlabelled}")
    if problems:
        found[name] = problems


def test_every_page_has_no_serious_accessibility_violation(
    axe_page: Any, console_server: ConsoleServer, tmp_path: Path
) -> None:
    page = axe_page
    base = console_server.console
    found: dict[str, list[str]] = {}
    page.goto(base + "/sign-in")
    check(page, found, "sign in with a key")
    page.goto(base + "/sign-in?method=password")
    check(page, found, "sign in with a password")
    page.context.add_cookies([console_server.cookie(console_server.admin())])

    page.goto(base + "/pipelines/new?template=export&table=Thread")
    check(page, found, "create: export")
    page.get_by_label("Name", exact=True).fill("accessible")
    page.get_by_label("Output S3 folder").fill(f"s3://{BUCKET}/exports")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="accessible")).to_be_visible()
    check(page, found, "pipeline, never activated")
    page.get_by_role("button", name="Activate").click()
    activity = page.locator("article.component", has_text="TableBackupActivity")
    expect(activity.locator("tr.instance .badge")).to_have_text(
        re.compile("FINISHED"), timeout=90_000
    )
    check(page, found, "pipeline, finished")
    detail = page.url
    activity.get_by_role("link", name=re.compile("Activity.log")).click()
    check(page, found, "attempt log")
    page.goto(detail)
    activity.get_by_role("link", name="Backup folder").click()
    check(page, found, "backup folder")
    page.goto(detail + "/definition")
    check(page, found, "edit definition")
    page.get_by_role("button", name="Validate").click()
    expect(page.get_by_role("status")).to_contain_text("valid")
    check(page, found, "definition validated")
    page.goto(detail + "/delete")
    check(page, found, "delete confirmation")

    page.goto(base + "/pipelines")
    check(page, found, "pipelines")
    page.goto(base + "/pipelines?name=no-such-pipeline")
    check(page, found, "pipelines, none")
    page.goto(base + "/pipelines/new?template=import&table=Reply")
    check(page, found, "create: import")
    page.goto(base + "/pipelines/new?source=definition")
    check(page, found, "create: definition")
    page.get_by_role("button", name="Activate").click()
    check(page, found, "create: problems shown")
    page.goto(base + "/tables")
    check(page, found, "tables")
    page.goto(base + "/backups")
    check(page, found, "backups")
    page.goto(base + "/pipelines/df-NOSUCHPIPELINE00000")
    check(page, found, "not found")
    page.goto(base + "/no-such-page")
    check(page, found, "no such page")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(base + "/pipelines")
    check(page, found, "pipelines on a phone")
    save_screenshot(page, tmp_path, "phone-list")
    assert found == {}
