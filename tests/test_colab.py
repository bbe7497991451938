"""The Colab editions (tools/colab.py) and retargeting the book at a fork (tools/retarget.py)."""
from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import colab  # noqa: E402  (tools/ is not a package)
import retarget  # noqa: E402

MYST = re.compile(r"\{[\w:-]+\}`|^\s*(`{3,}|:{3,})\{[\w-]+\}|^\([\w-]+\)=\s*$|\{\{", re.M)
EDITIONS = sorted((ROOT / "colab").glob("*.ipynb"))


@pytest.fixture(scope="module")
def bibliography() -> colab.Bibliography:
    return colab.Bibliography.read(ROOT / "book" / "references.bib")


def _markdown(path: Path) -> list[str]:
    cells = json.loads(path.read_text())["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown"]


def test_every_chapter_in_the_toc_has_an_edition_that_matches_a_fresh_generation():
    fresh = colab.render(ROOT)
    assert [p.name for p in colab.chapters(ROOT)] == list(fresh)
    assert sorted(fresh) == [p.name for p in EDITIONS], "colab/ and the toc disagree: run `make colab`"
    for path in EDITIONS:
        assert path.read_text() == fresh[path.name], f"colab/{path.name} is stale: run `make colab`"


@pytest.mark.parametrize("path", EDITIONS, ids=lambda p: p.stem)
def test_no_myst_is_left_for_colab(path):
    for text in _markdown(path):
        leftover = MYST.search(text)
        assert leftover is None, f"colab/{path.name} still holds MyST: {leftover.group()!r}"


@pytest.mark.parametrize("path", EDITIONS, ids=lambda p: p.stem)
def test_exercises_are_headings_solutions_are_folded_and_code_is_unchanged(path):
    chapter = ROOT / "notebooks" / path.name
    source = "\n".join(_markdown(chapter))
    edition = "\n".join(_markdown(path))
    exercises = len(re.findall(r"^(`{3,}|:{3,})\{exercise\}", source, re.M))
    solutions = len(re.findall(r"^(`{3,}|:{3,})\{solution\}", source, re.M))
    number = int(path.stem.split("_")[0])
    assert re.findall(rf"^### Exercise {number}\.(\d+): ", edition, re.M) == [str(k + 1) for k in range(exercises)]
    assert edition.count("<details>\n<summary>Solution</summary>") == solutions
    code = [c["source"] for c in json.loads(chapter.read_text())["cells"] if c["cell_type"] == "code"]
    assert [c["source"] for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"] == code


@pytest.mark.parametrize("path", EDITIONS, ids=lambda p: p.stem)
def test_citations_are_author_year_with_the_chapter_reference_list(path, bibliography):
    keys = {
        key.strip()
        for text in _markdown(ROOT / "notebooks" / path.name)
        for group in re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", text)
        for key in group.split(",")
    }
    edition = "\n".join(_markdown(path))
    for key in keys:
        authors, year = bibliography.labels[key]
        assert f"{authors}, {year}" in edition or f"{authors} ({year})" in edition
        title = bibliography.reference(key).split(f"({year}). ", 1)[1]
        assert "Works cited in this chapter:" in edition and title in edition, f"{key} is missing from the list"


def test_citation_labels_tell_same_author_year_works_apart(bibliography):
    labels = list(bibliography.labels.values())
    assert len(labels) == len(set(labels))
    assert bibliography.cite(["bahdanau2015neural"], textual=True, where="") == "Bahdanau et al. (2015)"
    assert bibliography.cite(["graves2016adaptive"], textual=False, where="") == "(Graves, 2016)"


def test_unknown_myst_is_an_error_that_names_it(bibliography):
    chapter = colab.Chapter(Path("99_x.ipynb"), 99, bibliography, retarget.address(ROOT))
    with pytest.raises(colab.ColabError, match=r"99_x.ipynb, cell 3: no plain form for the directive \{figure\}"):
        colab.convert_markdown("```{figure} a.png\n:name: f\n```", chapter, 3)
    with pytest.raises(colab.ColabError, match=r"no plain form for the role \{numref\}"):
        colab.convert_markdown("see {numref}`f`", chapter, 3)
    with pytest.raises(colab.ColabError, match="nosuchkey2020"):
        colab.convert_markdown("as shown {cite}`nosuchkey2020`", chapter, 3)
    assert colab.convert_markdown(":::{note}\nTwo\nlines\n:::", chapter, 3) == "> **Note.** Two\n> lines"
    with pytest.raises(colab.ColabError, match=r"\{ref\}`ex-99-none` points at no exercise or section of the book"):
        colab.convert_markdown("see {ref}`ex-99-none`", chapter, 3)


def test_references_across_chapters_resolve(bibliography):
    labels = {"ex-03-agreement": (3, "Exercise 3.3"), "sec-cost": (4, 'the section "The cost"')}
    chapter = colab.Chapter(Path("99_x.ipynb"), 99, bibliography, retarget.address(ROOT), labels,
                            {"03_bahdanau_attention": "3. Bahdanau attention"})
    text = "{ref}`ex-03-agreement`, {ref}`sec-cost`, {doc}`../notebooks/03_bahdanau_attention`, {doc}`it <03_bahdanau_attention>`"
    link = retarget.address(ROOT).colab_link("colab/03_bahdanau_attention.ipynb")
    assert colab.convert_markdown(text, chapter, 0) == (
        f'Exercise 3.3, the section "The cost" of chapter 4, [3. Bahdanau attention]({link}), [it]({link})'
    )


def test_the_launch_button_opens_the_colab_edition_at_the_release():
    spec = importlib.util.spec_from_file_location("colab_launch", ROOT / "book" / "_ext" / "colab_launch.py")
    extension = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(extension)
    theme = "https://colab.research.google.com/github/o/r/blob/main/notebooks/03_bahdanau_attention.ipynb"
    button = {"type": "link", "text": "Colab", "url": theme}
    context = {"header_buttons": [{"label": "launch-buttons", "buttons": [button]}]}
    extension._retarget_colab_button(SimpleNamespace(srcdir=str(ROOT)), "notebooks/03_x", "page.html", context, None)
    release = retarget.address(ROOT).release
    assert button["url"] == f"https://colab.research.google.com/github/o/r/blob/{release}/colab/03_bahdanau_attention.ipynb"


def _copy_of_the_repository(target: Path) -> Path:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.splitlines()
    for name in listed:
        if (ROOT / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target / name)
    return target


def test_retargeting_a_copy_leaves_the_old_address_nowhere(tmp_path):
    copy = _copy_of_the_repository(tmp_path / "fork")
    old = retarget.address(copy)
    result = subprocess.run(
        [sys.executable, str(copy / "tools" / "retarget.py"), "https://github.com/dummy-owner/dummy-book"],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    new = retarget.address(copy)
    assert new.repository == "https://github.com/dummy-owner/dummy-book" and new.release == old.release
    holding_old = []
    for path in copy.rglob("*"):
        if path.is_file() and path.suffix not in (".pt", ".png", ".zip"):
            text = path.read_text(errors="replace")
            if old.owner_repo in text or old.pages in text:
                holding_old.append(str(path.relative_to(copy)))
    assert not holding_old, f"still pointing at {old.owner_repo}: {holding_old}"
    setup = "".join(json.loads((copy / "colab" / "01_attention_as_soft_lookup.ipynb").read_text())["cells"][1]["source"])
    assert f'REPOSITORY = "{new.repository}"' in setup and f'RELEASE = "{new.release}"' in setup
    chapter = (copy / "notebooks" / "05_memory_networks.ipynb").read_text()
    assert new.colab_link("colab/05_memory_networks.ipynb") in chapter
    assert new.requirement == f"attnmem @ git+https://github.com/dummy-owner/dummy-book@{old.release}"
    assert "baseurl: https://dummy-owner.github.io/dummy-book/" in (copy / "_config.yml").read_text()


def test_retarget_refuses_an_address_colab_cannot_open():
    for bad in ("https://gitlab.com/a/b", "https://github.com/a/b/", "https://github.com/a/b.git/x", "github.com/a/b"):
        with pytest.raises(retarget.RetargetError, match="https://github.com/OWNER/REPO"):
            retarget.check_repository(bad)


def test_jupyterlab_loads_jupyterlab_myst():
    listed = subprocess.run(
        [str(Path(sys.executable).parent / "jupyter"), "labextension", "list"], capture_output=True, text=True
    )
    output = re.sub(r"\x1b\[[0-9;]*m", "", listed.stdout + listed.stderr)
    line = next((line for line in output.splitlines() if "jupyterlab-myst" in line), None)
    assert line is not None, "jupyterlab-myst is not installed: it comes with the book extra (make setup)"
    assert "enabled" in line and "OK" in line and "not compatible" not in output, output


def test_retarget_gives_a_new_chapter_the_setup_cell_and_its_colab_link(tmp_path):
    where = retarget.Address("https://github.com/o/r", "https://colab.research.google.com", "v9.9.9")
    old_setup = "# Setup (the same in every chapter): an older copy\nREPOSITORY = \"https://github.com/x/y\"\n"
    chapter = {"cells": [{"cell_type": "markdown", "id": "a", "metadata": {}, "source": ["# 12. New\n", "\n", "Text."]},
                         {"cell_type": "code", "id": "b", "metadata": {}, "execution_count": None, "outputs": [],
                          "source": [old_setup]}],
               "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "12_new.ipynb"
    path.write_text(json.dumps(chapter))
    assert retarget.sync_chapter(path, where) and not retarget.sync_chapter(path, where)
    cells = json.loads(path.read_text())["cells"]
    link = "https://colab.research.google.com/github/o/r/blob/v9.9.9/colab/12_new.ipynb"
    assert "".join(cells[0]["source"]) == f"# 12. New\n\n[Open in Colab]({link})\n\nText."
    assert 'RELEASE = "v9.9.9"' in "".join(cells[1]["source"]) and "x/y" not in "".join(cells[1]["source"])
    chapter["cells"][1]["source"] = ["import torch"]
    path.write_text(json.dumps(chapter))
    with pytest.raises(retarget.RetargetError, match="12_new.ipynb: the first code cell must be the setup cell"):
        retarget.sync_chapter(path, where)
