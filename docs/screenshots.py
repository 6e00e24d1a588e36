"""Take the README's screenshots of the report and of `explain`, with the system's chromium.

    .venv/bin/python docs/screenshots.py        # writes docs/report.png and docs/explain.png

The report of samples/dump is opened in headless chromium with the Kurz copy's differences
unfolded; `explain` is rendered by rich to SVG (as a colour terminal would show it) and
that SVG is photographed by the same browser.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright
from rich.console import Console

from dedupe_releases.config import Config
from dedupe_releases.explain import explain_pair, find_article, render
from dedupe_releases.output import document
from dedupe_releases.pipeline import scan
from dedupe_releases.report import render_report

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples" / "dump"
KURZ = "004_70741a213c6bd5e9.txt"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def main() -> None:
    chromium = os.environ.get("DEDUPE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        os.chdir(SAMPLES)  # ids relative to the dump, as `scan samples/dump` gives them
        result = scan(["."])
        (tmp / "report.html").write_text(
            render_report(document(result), lambda i: result.article(i).text), "utf-8"
        )
        config = Config()
        pair = explain_pair(
            find_article(f"{KURZ}#3", SAMPLES, config),
            find_article(f"{KURZ}#4", SAMPLES, config),
            config,
        )
        console = Console(
            record=True,
            file=io.StringIO(),
            width=112,
            force_terminal=True,
            color_system="truecolor",
        )
        render(pair, console)
        svg = console.export_svg(title="dedupe-releases explain '004_…#3' '004_…#4' --root dump")
        match = re.search(r'viewBox="0 0 ([0-9.]+) ([0-9.]+)"', svg)
        assert match is not None
        width, height = (int(float(v)) + 1 for v in match.groups())
        print(f"explain: {width}x{height}", file=sys.stderr)
        (tmp / "explain.html").write_text(
            f'<html><body style="margin:0;background:#fff">'
            f'<div style="width:{width}px;height:{height}px">{svg}</div></body></html>',
            "utf-8",
        )
        with sync_playwright() as p:
            context = p.chromium.launch_persistent_context(
                str(tmp / "profile"),
                executable_path=chromium,
                headless=True,
                args=ARGS,
                viewport={"width": 1100, "height": 1400},
            )
            page = context.new_page()
            page.goto((tmp / "report.html").as_uri())
            page.locator("details.diff").nth(1).locator("summary").click()
            page.evaluate("window.scrollTo(0, 0)")
            box = page.locator("#clusters article").nth(1).bounding_box()
            assert box is not None
            height = int(box["y"] + box["height"] + 24)
            page.screenshot(
                path=str(ROOT / "docs" / "report.png"),
                full_page=True,
                clip={"x": 0, "y": 0, "width": 1100, "height": height},
            )
            page.set_viewport_size({"width": width, "height": height})
            page.goto((tmp / "explain.html").as_uri())
            page.screenshot(path=str(ROOT / "docs" / "explain.png"), full_page=True)
            context.close()
    print("wrote docs/report.png and docs/explain.png", file=sys.stderr)


if __name__ == "__main__":
    main()
