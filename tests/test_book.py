"""The book: a warnings-as-errors build, then a real browser on every chapter page of the built HTML.

The browser is Debian's chromium driven by Playwright; the pages are opened from disk with the network off. On every
chapter page at a 1280 px window nothing may run past the text column (text outputs, HTML outputs such as explorers
and source listings, display equations), at most 5% of the book's code cells may scroll sideways, and the console
must stay clean. Every static explorer must draw itself and react to a hover or a step. Screenshots at 1280 and
390 px go to _build/screenshots/.
"""
from __future__ import annotations

import os
import re
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
# Chapter pages that have no explorer, and why. Every other chapter page must have at least one.
WITHOUT_EXPLORER: dict[str, str] = {}
# The share of code cells that may scroll sideways at 1280 px (a long line of code is better scrolled than wrapped).
CODE_OVERFLOW_ALLOWED = 0.05
# What runs past the text column, measured as a reader sees it: an element whose content is wider than its box, or
# whose descendants reach past the right edge of the article (the same logic as the book's page_metrics tool).
LAYOUT_JS = r"""
() => {
  const article = document.querySelector('article') || document.querySelector('main');
  const col = article.getBoundingClientRect();
  const wider = (el) => el.scrollWidth > el.clientWidth + 2;
  const pastColumn = (el) => {
    let right = el.getBoundingClientRect().right;
    el.querySelectorAll('*').forEach(e => { const r = e.getBoundingClientRect(); if (r.width > 0 && r.right > right) right = r.right; });
    return right > col.right + 2;
  };
  const first = (el) => (el.textContent || '').trim().split('\n')[0].slice(0, 80);
  const r = {inputs: [], inputs_total: 0, outputs: [], html: [], math: []};
  document.querySelectorAll('.cell_input pre').forEach(p => { r.inputs_total++; if (wider(p)) r.inputs.push(first(p)); });
  document.querySelectorAll('.cell_output pre').forEach(p => { if (wider(p)) r.outputs.push(first(p)); });
  document.querySelectorAll('.cell_output .output.text_html').forEach(d => { if (wider(d) || pastColumn(d)) r.html.push(first(d)); });
  document.querySelectorAll('mjx-container[display="true"]').forEach(m => { if (wider(m) || pastColumn(m)) r.math.push(first(m)); });
  return r;
}
"""


def _chapter_pages() -> list[str]:
    toc = yaml.safe_load((ROOT / "book" / "_toc.yml").read_text())
    return [c["file"] for part in toc["parts"] for c in part["chapters"] if c["file"].startswith("notebooks/")]


@pytest.fixture(scope="module")
def built_book() -> Path:
    # The chapters run two at a time into the build's cache first (as `make book` does), then the build renders them.
    executed = subprocess.run([sys.executable, str(ROOT / "tools" / "execute_chapters.py"), "--jobs", "2"], cwd=ROOT,
                              capture_output=True, text=True, timeout=1500)
    assert executed.returncode == 0, f"executing the chapters failed:\n{(executed.stdout + executed.stderr)[-6000:]}"
    command = [str(Path(sys.executable).with_name("jupyter-book")), "build", ".", "--toc", "book/_toc.yml",
               "-W", "-n", "--keep-going"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=1500)
    log = done.stdout + done.stderr
    assert "Executing notebook" not in log, "the build executed a chapter that tools/execute_chapters.py had run"
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
        grid = root.locator(".am-grid")

        def grid_top() -> float:
            return grid.bounding_box()["y"] - root.bounding_box()["y"]

        top = grid_top()
        shades = []
        for row in sorted({0, rows.count() // 2, rows.count() - 1}):
            rows.nth(row).hover()
            shades.append(columns.evaluate_all("cells => cells.map(n => n.style.background)"))
            assert root.get_attribute("data-state").endswith(f":{row}")
            # the read-out above the grid keeps its height, so the grid's rows never move under the pointer
            assert abs(grid_top() - top) < 1, "the grid moved when the read-out changed"
        assert any(shade for shade in shades[0]), "hovering a row lit up no column"
        if rows.count() > 1:
            assert shades[0] != shades[-1], "hovering two different rows highlighted the same weights"
        note = root.locator(".am-note")
        wrong = re.search(r"wrong from target word (\d+)", note.inner_text() if note.count() else "")
        marked = root.locator(".am-row.am-wrong")
        if wrong:
            assert marked.count() == 1, "a wrong translation without its first wrong word marked"
            assert marked.get_attribute("data-index") == str(int(wrong.group(1)) - 1)
        else:
            assert marked.count() == 0, "a row marked wrong in a translation the note does not call wrong"
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
        # every vertical bar chart has a value axis
        assert root.locator(".am-vbars").count() == root.locator(".am-yaxis").count()
    else:
        pytest.fail(f"explorer {index} has unknown kind {kind!r}")


def _open(context, path: Path, errors: list[str]):
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
    page.on("console", lambda message: errors.append(f"console {message.type}: {message.text}")
            if message.type == "error" else None)
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    # MathJax typesets after load; the layout is measured once it is done
    page.evaluate("async () => { if (window.MathJax && MathJax.startup && MathJax.startup.promise) "
                  "await MathJax.startup.promise; }")
    page.wait_for_timeout(300)
    return page


def _check_pages(html: Path, names: list[str]) -> tuple[int, list[str], list[str], list[str]]:
    """Open ``names`` at 1280 and 390 px in a browser of their own: (code cells, code cells scrolling, layout
    problems, addresses outside the book that the pages asked for). Explorers are stepped and screenshotted."""
    from playwright.sync_api import sync_playwright

    code_cells, code_scrolling, problems, outside = 0, [], [], []
    with sync_playwright() as playwright:
        browser = _browser(playwright)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        phone = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2)
        for ctx in (context, phone):
            ctx.route("**/*", lambda route: (outside.append(route.request.url), route.abort())
                      if not route.request.url.startswith(("file:", "data:", "about:")) else route.continue_())
        for name in names:
            errors: list[str] = []
            page = _open(context, html / f"{name}.html", errors)
            layout = page.evaluate(LAYOUT_JS)
            code_cells += layout["inputs_total"]
            code_scrolling += [f"{name}: {line}" for line in layout["inputs"]]
            for what in ("outputs", "html", "math"):
                problems += [f"{name}: {what} past the column: {line!r}" for line in layout[what]]
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
            page.evaluate("window.scrollTo(0, 0)")
            page.screenshot(path=str(SHOTS / f"{Path(name).name}.png"), full_page=False)
            if name == _chapter_pages()[0]:  # the page's contents left the margin for a drawer: its button opens it
                page.locator(".bd-header-article .secondary-toggle").click()
                assert page.locator("#pst-secondary-sidebar-modal").evaluate("d => d.open"), \
                    "the article header's contents button did not open the contents drawer"
            page.close()
            small = _open(phone, html / f"{name}.html", errors)
            small.screenshot(path=str(SHOTS / f"{Path(name).name}-390.png"), full_page=False)
            small.close()
            assert not errors, f"{name}: errors in the console: {errors}"
        browser.close()
    return code_cells, code_scrolling, problems, outside


def test_pages_fit_the_column_and_explorers_render_and_react_offline(built_book):
    # Two browsers, each with half the pages, one per core (Playwright's sync API wants one instance per thread).
    from concurrent.futures import ThreadPoolExecutor

    SHOTS.mkdir(parents=True, exist_ok=True)
    pages = _chapter_pages()
    with ThreadPoolExecutor(2) as pool:
        halves = list(pool.map(lambda names: _check_pages(built_book, names), (pages[0::2], pages[1::2])))
    code_cells = sum(half[0] for half in halves)
    code_scrolling, problems, outside = ([line for half in halves for line in half[k]] for k in (1, 2, 3))
    assert not outside, f"pages tried to load from outside the book: {sorted(set(outside))[:5]}"
    assert not problems, "runs past the text column at 1280 px:\n" + "\n".join(problems)
    assert len(code_scrolling) <= CODE_OVERFLOW_ALLOWED * code_cells, (
        f"{len(code_scrolling)} of {code_cells} code cells scroll sideways at 1280 px (at most "
        f"{CODE_OVERFLOW_ALLOWED:.0%} may):\n" + "\n".join(code_scrolling))
