"""Exercises in the book: one chapter-local numbering, cross-references that resolve, and a graded-course build
from which the solutions are removed.

The numbering and the removal are checked on a two-chapter Sphinx project built with the book's own extensions
(seconds); the whole graded book, when `make book-graded` has built it, is searched for every solution's text.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import assignments as kit  # noqa: E402  (tools/ is not a package)
import graded_config  # noqa: E402

CHAPTER = """# {number}. Chapter {number}

{prose}

## Exercises

```{{exercise}} First of chapter {number}
:label: ex-{number:02d}-first
Question one.
```

```{{solution}} ex-{number:02d}-first
:class: dropdown
The secret answer of chapter {number}, first exercise.
```

```{{exercise}} Second of chapter {number}
:label: ex-{number:02d}-second
Question two.
```

```{{solution}} ex-{number:02d}-second
:class: dropdown
The secret answer of chapter {number}, second exercise.
```
"""


def _build(tmp_path: Path, hide_solutions: bool) -> Path:
    """A book of chapters 5 and 6 with the book's exercise extensions; returns its HTML folder."""
    source = tmp_path / "source"
    (source / "notebooks").mkdir(parents=True, exist_ok=True)
    (source / "conf.py").write_text(
        f"import sys\nsys.path.insert(0, {str(ROOT / 'book' / '_ext')!r})\n"
        "extensions = ['myst_parser', 'sphinx_exercise', 'exercise_numbers']\n"
        "myst_enable_extensions = ['colon_fence']\nroot_doc = 'index'\n"
        f"hide_solutions = {hide_solutions}\n"
    )
    (source / "index.md").write_text("# Book\n\n```{toctree}\nnotebooks/05_memory\nnotebooks/06_ntm\n```\n")
    prose = {5: "See {ref}`ex-05-second` and {ref}`ex-06-first`.", 6: "Back to {numref}`ex-05-first`."}
    for number, name in ((5, "05_memory"), (6, "06_ntm")):
        (source / "notebooks" / f"{name}.md").write_text(CHAPTER.format(number=number, prose=prose[number]))
    out = tmp_path / ("graded" if hide_solutions else "html")
    done = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "-n", "-q", "-b", "html", str(source), str(out)],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def _text(html: str) -> str:
    return re.sub(r" ([.,])", r"\1", " ".join(re.sub(r"<[^>]+>", " ", html).split()))


def test_exercises_are_numbered_chapter_by_chapter_and_references_say_the_same(tmp_path):
    out = _build(tmp_path, hide_solutions=False)
    five, six = (_text((out / "notebooks" / f"{n}.html").read_text()) for n in ("05_memory", "06_ntm"))
    assert "Exercise 5.1 (First of chapter 5)" in five and "Exercise 5.2 (Second of chapter 5)" in five
    assert "Exercise 6.1 (First of chapter 6)" in six and "Exercise 6.2" in six
    assert "See Exercise 5.2 and Exercise 6.1." in five  # {ref} to an exercise, in this chapter and another
    assert "Back to Exercise 5.1." in six
    assert "The secret answer of chapter 5, first exercise." in five  # the ordinary book keeps its solutions


def test_the_graded_build_removes_the_solutions(tmp_path):
    out = _build(tmp_path, hide_solutions=True)
    for page in (out / "notebooks").glob("*.html"):
        html = page.read_text()
        assert "secret answer" not in html and "Solution to" not in html, page.name
        assert "Exercise" in _text(html)


def test_a_dangling_exercise_reference_fails_the_build(tmp_path):
    with pytest.raises(AssertionError, match="undefined label|ex-05-third"):
        source = tmp_path / "source" / "notebooks"
        _build(tmp_path, hide_solutions=False)
        (source / "05_memory.md").write_text(
            (source / "05_memory.md").read_text().replace("{ref}`ex-05-second`", "{ref}`ex-05-third`")
        )
        done = subprocess.run(
            [sys.executable, "-m", "sphinx", "-W", "-n", "-q", "-b", "html", str(source.parent),
             str(tmp_path / "again")],
            capture_output=True, text=True, timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr


def _chapter_sources() -> dict[str, str]:
    """Every chapter notebook's markdown, by file name."""
    found = {}
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        found[path.name] = "\n".join(
            "".join(c["source"]) for c in cells if c["cell_type"] == "markdown"
        )
    return found


def test_every_reference_to_an_exercise_names_one_and_no_prose_numbers_them_by_hand():
    sources = _chapter_sources()
    labels = {label for text in sources.values() for label in re.findall(r"^:label: (ex-[\w-]+)", text, re.M)}
    for name, text in sources.items():
        for role, target in re.findall(r"\{(ref|numref)\}`(?:[^`<]*<)?(ex-[\w-]+)>?`", text):
            assert target in labels, f"{name}: {{{role}}}`{target}` names no exercise"
        doubled = re.findall(r"[Ee]xercises? \{(?:ref|numref)\}`ex-", text)
        assert not doubled, f"{name}: 'Exercise {{ref}}' renders as 'Exercise Exercise 5.3'; drop the word"
        by_hand = re.findall(r"\b[Ee]xercises? \d+(?:\.\d+)?\b", text)
        assert not by_hand, f"{name}: {by_hand}: refer to an exercise with {{ref}}`ex-NN-name`"


def test_answer_cells_that_number_their_exercise_number_it_right():
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        labels: list[str] = []
        for cell in json.loads(path.read_text())["cells"]:
            text = "".join(cell["source"])
            if cell["cell_type"] == "markdown":
                labels += re.findall(r"^:label: (ex-[\w-]+)", text, re.M)
            elif (match := re.match(r"# Exercise (\d+)\.(\d+):", text)) and labels:
                expected = (str(int(path.name[:2])), str(len(labels)))
                assert match.groups() == expected, f"{path.name}: '{match[0]}' follows Exercise {'.'.join(expected)}"


def test_the_graded_configuration_hides_solutions_and_reuses_the_book_cache():
    config = graded_config.graded_config(yaml.safe_load((ROOT / "_config.yml").read_text()))
    assert config["sphinx"]["config"]["hide_solutions"] is True
    assert config["execute"]["cache"] == str(ROOT / "_build" / ".jupyter_cache")
    for path in config["sphinx"]["local_extensions"].values():
        assert Path(path).is_absolute() and Path(path).is_dir()
    assert "exercise_numbers" in config["sphinx"]["local_extensions"]


def test_the_built_graded_book_holds_no_solution_text():
    html = ROOT / "_build" / "graded" / "_build" / "html"
    if not html.is_dir():
        pytest.skip("the graded book is not built here: run `make book-graded`")
    pages = {p.name: _text(p.read_text()) for p in (html / "notebooks").glob("*.html")}
    checked = 0
    for chapter in kit.chapters_with_exercises(rubrics=False):
        text = pages[f"{chapter.name}.html"]
        for exercise in chapter.exercises:
            for line in kit._plain(exercise.solution).splitlines():
                line = " ".join(line.split())
                if len(line) >= 40 and not line.startswith(("```", ":")) and line not in exercise.body:
                    assert line not in text, f"{chapter.name}.html still shows a solution of {exercise.label}"
                    checked += 1
    assert checked > 50
