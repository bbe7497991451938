"""The book: a warnings-as-errors build, then a real browser on every chapter page of the built HTML.

The browser is Debian's chromium driven by Playwright; the pages are opened from disk with the network off, every
static explorer must draw itself, react to a hover or a step, and the page must load nothing from outside.
Screenshots go to _build/screenshots/.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
pytestmark = pytest.mark.book
# Errors from the book theme's own scripts, not from this book: sphinx-thebe's script declares a constant that the
# theme declares too. Any other page error fails the test.
THEME_ERRORS = ("Identifier 'THEBE_JS_URL' has already been declared",)
# Chapter pages that have no explorer, and why. Every other chapter page must have at least one.
WITHOUT_EXPLORER = {
    "notebooks/02_the_bottleneck": "the encoder-decoder without attention has no weights to explore; chapter 3 has them",
    "notebooks/04_luong_attention_and_its_cost": "it compares scores and measures cost; its alignments are chapter 3's",
}


def _chapter_pages() -> list[str]:
    toc = yaml.safe_load((ROOT / "book" / "_toc.yml").read_text())
    return [c["file"] for part in toc["parts"] for c in part["chapters"] if c["file"].startswith("notebooks/")]


@pytest.fixture(scope="module")
def built_book() -> Path:
    command = [str(Path(sys.executable).with_name("jupyter-book")), "build", ".", "--toc", "book/_toc.yml",
               "-W", "-n", "--keep-going"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=1500)
    log = done.stdout + done.stderr
    assert done.returncode == 0, f"the book build failed:\n{log[-6000:]}"
    return HTML


def test_every_chapter_page_is_built_with_its_outputs(built_book):
    for page in _chapter_pages():
        html = (built_book / f"{page}.html").read_text()
        assert "cell_output" in html, f"{page}: no executed outputs on the page"
        assert "Traceback" not in html, f"{page}: a cell raised an error"
    bibliography = (built_book / "book" / "bibliography.html").read_text()
    assert "Bahdanau" in bibliography


def _browser(playwright):
    executable = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.fail("chromium is not installed: apt-get install -y chromium (.ci/run does this)")
    return playwright.chromium.launch(
        executable_path=executable, headless=True,
        args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
              "--disable-sync", "--no-first-run", "--disable-quic"],
    )


def _exercise(page, root, index: int) -> None:
    """Hover or step the explorer and check that what it highlights changes."""
    kind = root.get_attribute("data-kind")
    before_state = root.get_attribute("data-state")
    if kind == "alignment":
        rows = root.locator(".am-row")
        assert rows.count() >= 1, "an alignment explorer without row tokens"
        columns = root.locator(".am-col")
        shades = []
        for row in {0, rows.count() - 1}:
            rows.nth(row).hover()
            shades.append([columns.nth(j).evaluate("n => n.style.background") for j in range(columns.count())])
            assert root.get_attribute("data-state").endswith(f":{row}")
        assert any(shade for shade in shades[0]), "hovering a row lit up no column"
        if rows.count() > 1:
            assert shades[0] != shades[-1], "hovering two different rows highlighted the same weights"
    elif kind == "frames":
        panels = root.locator(".am-panels")
        before = panels.inner_html()
        step = root.locator('.am-step[data-delta="1"]')
        if step.is_enabled():
            step.click()
        else:
            select = root.locator(".am-select")
            assert select.count() == 1, "a frames explorer with one frame and one example cannot react"
            select.select_option(index=1)
        assert root.get_attribute("data-state") != before_state
        assert panels.inner_html() != before, "stepping the explorer did not change what it shows"
    else:
        pytest.fail(f"explorer {index} has unknown kind {kind!r}")


def test_static_explorers_render_and_react_offline(built_book):
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    pages = _chapter_pages()
    with sync_playwright() as playwright:
        browser = _browser(playwright)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        outside: list[str] = []
        context.route("**/*", lambda route: (outside.append(route.request.url), route.abort())
                      if not route.request.url.startswith(("file:", "data:", "about:")) else route.continue_())
        for name in pages:
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto((built_book / f"{name}.html").as_uri())
            roots = page.locator(".attnmem-explorer")
            if name in WITHOUT_EXPLORER:
                assert roots.count() == 0, f"{name} now has an explorer: remove it from WITHOUT_EXPLORER"
            else:
                assert roots.count() >= 1, f"{name}: no explorer on the page"
            for i in range(roots.count()):
                root = roots.nth(i)
                root.scroll_into_view_if_needed()
                assert root.get_attribute("data-ready") == "1", f"{name}: explorer {i} did not draw itself"
                _exercise(page, root, i)
                root.screenshot(path=str(SHOTS / f"{Path(name).name}-explorer-{i}.png"))
            page.screenshot(path=str(SHOTS / f"{Path(name).name}.png"), full_page=False)
            errors = [e for e in errors if not e.startswith(THEME_ERRORS)]
            assert not errors, f"{name}: JavaScript errors {errors}"
            page.close()
        browser.close()
    assert not outside, f"pages tried to load from outside the book: {sorted(set(outside))[:5]}"
