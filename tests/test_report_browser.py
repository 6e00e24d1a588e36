"""The report in a real headless chromium: the clusters are there, the filter works, the page
fetches nothing and runs no data as code. Screenshots go to test-artifacts/.

The browser is Debian's chromium (``.ci/run`` installs it), driven by Playwright without
Playwright's own browser downloads. A missing browser fails these tests: it is never a skip.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, SAMPLES
from test_report import hostile_dump

ARTIFACTS = ROOT / "test-artifacts"
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _chromium() -> str:
    found = os.environ.get("DEDUPE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(found).exists():
        pytest.fail(
            "chromium is not installed: `apt-get install chromium` (as .ci/run does), "
            "or point DEDUPE_CHROMIUM at a Chromium binary"
        )
    return found


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    executable = _chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed: pip install -e '.[test]'")
    profile = tmp_path_factory.mktemp("chromium-profile")  # a fresh --user-data-dir
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile),
            executable_path=executable,
            headless=True,
            args=BROWSER_ARGS,
            viewport={"width": 1200, "height": 900},
            device_scale_factor=1,
        )
        try:
            yield context
        finally:
            context.close()


class Visit:
    """A page opened on a file, with every request, console error and dialog recorded."""

    def __init__(self, context: Any, path: Path) -> None:
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.page = context.new_page()
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else 0)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.url = path.resolve().as_uri()
        self.page.goto(self.url)
        self.page.wait_for_load_state("load")

    def visible_clusters(self) -> list[str]:
        return self.page.locator("article.cluster:visible h3").all_inner_texts()

    def close(self) -> None:
        self.page.close()


def test_report_of_samples_in_chromium(browser, run_cli, tmp_path):
    out = tmp_path / "report.html"
    assert run_cli("report", str(SAMPLES), "-o", str(out)).exit_code == 0
    visit = Visit(browser, out)
    page = visit.page
    try:
        clusters = visit.visible_clusters()
        assert len(clusters) == 2
        assert any("Kurz of Austria" in c for c in clusters)
        assert any("£17 million" in c for c in clusters)
        assert page.locator("#shown").inner_text() == "2"
        assert page.locator("svg").count() == 2
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)

        # The filter needs the page's script: it is hidden until the script shows it.
        box = page.locator("#filter")
        assert box.is_visible()
        box.fill("kurz")
        assert [c for c in visit.visible_clusters()] == [next(c for c in clusters if "Kurz" in c)]
        assert page.locator("#shown").inner_text() == "1 of 2"
        assert page.locator("article.relation:visible").count() == 0
        page.screenshot(path=str(ARTIFACTS / "report-filtered.png"), full_page=True)
        # Words from inside a canonical text, in any case and order, find its cluster.
        box.fill("ZAHAWI nadhim")
        assert len(visit.visible_clusters()) == 1 and "£17 million" in visit.visible_clusters()[0]
        box.fill("no-such-words-anywhere")
        assert visit.visible_clusters() == []
        assert page.locator("#shown").inner_text() == "0 of 2"
        box.fill("")
        assert len(visit.visible_clusters()) == 2
        assert page.locator("article.relation:visible").count() == 1

        # A copy's differences open with a click.
        diff = page.locator("details.diff").nth(1)
        diff.locator("summary").click()
        assert diff.locator("del").first.inner_text() == "A Downing Street spokesperson said:"
        assert visit.requests == [visit.url]  # nothing fetched but the page itself
        assert visit.errors == [] and visit.dialogs == []
    finally:
        visit.close()


def test_hostile_titles_run_nothing_in_chromium(browser, run_cli, tmp_path):
    dump = hostile_dump(tmp_path / "dump")
    out = tmp_path / "hostile.html"
    assert run_cli("report", str(dump), "-o", str(out)).exit_code == 0
    visit = Visit(browser, out)
    page = visit.page
    try:
        page.wait_for_timeout(300)  # let any onerror/onload that slipped through fire
        assert visit.dialogs == []
        assert page.locator("script").count() == 1
        assert page.locator("img, iframe, svg script, body > b").count() == 0
        text = page.locator("#clusters").inner_text()
        assert "<script>alert(1)</script>" in text
        assert '"><img src=x onerror=alert(2)>' in text
        page.locator("#filter").fill("<script>alert(1)")
        assert len(visit.visible_clusters()) == 1
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "report-hostile.png"), full_page=False)
        assert visit.requests == [visit.url]
        assert visit.errors == []
    finally:
        visit.close()
