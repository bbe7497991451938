"""The course kit: every chapter's assignment builds, grades right, and leaks no solution to students.

One session fixture builds the whole kit (tools/assignments.py) into a temporary folder; another grades each
chapter's solution notebook (full marks expected), and the first and last chapters' untouched student notebooks
(zero on the coding questions), against the tests in their autograders. The first chapter's two notebooks go through
`otter run` end to end, a kernel per notebook; the others (and the half-right submission below) are graded by the
same test files in one IPython shell, a fresh namespace per notebook, since a kernel and otter's start cost seconds
per notebook and test nothing the end-to-end gradings do not.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

pytest.importorskip("otter", reason="the course kit needs otter-grader: pip install -e '.[course]'")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import assignments as kit  # noqa: E402  (tools/ is not a package)
from attnmem.exercises import EXERCISES  # noqa: E402

pytestmark = pytest.mark.course
CHAPTERS = kit.chapters_with_exercises()
CODING = [c for c in CHAPTERS if any(e.coding for e in c.exercises)]
# Untouched student notebooks are graded for the first and last chapter only: that every chapter's stubs score nothing
# is checked per checker in tests/test_exercises*.py, and that no solution reaches a student file by
# test_no_solution_text_leaks_into_any_student_file below. `otter run` (a kernel per notebook, seconds each) grades the
# first chapter's; the shell grader below the rest.
STUDENT_GRADED = [CODING[0], CODING[-1]]
OTTER_GRADED = [CODING[0]]


def _ids(chapter: kit.Chapter) -> str:
    return chapter.number


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The whole kit, built as `make assignments` builds it, into (out, course) folders."""
    base = tmp_path_factory.mktemp("kit")
    out, course = base / "assignments", base / "course"
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, str(ROOT / "tools" / "assignments.py"), "--out", str(out), "--course", str(course)],
        check=True,
        cwd=ROOT,
        timeout=180,
        capture_output=True,
        text=True,
    )
    print(f"built the kit for {len(CHAPTERS)} chapters in {time.perf_counter() - start:.1f} s")
    return out, course


# Grades several submissions one after another in one process, as `otter run` grades one (otter's import costs
# seconds, paid once).
GRADER = """
import json, sys, time
from otter.run import main as grade
for zip_path, notebook, results in json.loads(sys.argv[1]):
    start = time.perf_counter()
    grade(notebook, autograder=zip_path, output_dir=results, no_logo=True)
    print("graded", json.dumps([notebook, time.perf_counter() - start]), flush=True)
"""


# Grades solution notebooks as otter's autograder does, without its kernel: every code cell run in an IPython shell
# (cleared between notebooks, in the notebook's folder), then every test file of the autograder zip against the
# shell's namespace, the scores written to results.json in otter's form.
SHELL_GRADER = """
import json, os, sys, tempfile, time, zipfile
from pathlib import Path
import nbformat
from IPython.core.interactiveshell import InteractiveShell
from otter.test_files import create_test_file
shell = InteractiveShell.instance()
for zip_path, notebook, results in json.loads(sys.argv[1]):
    start = time.perf_counter()
    shell.reset(new_session=False)
    os.chdir(Path(notebook).parent)
    for cell in nbformat.read(notebook, as_version=4).cells:
        if cell.cell_type == "code":
            shell.run_cell(cell.source).raise_error()
    tests = []
    with tempfile.TemporaryDirectory() as unpacked, zipfile.ZipFile(zip_path) as archive:
        archive.extractall(unpacked)
        for path in sorted(Path(unpacked, "tests").glob("*.py")):
            test = create_test_file(str(path), None)
            test.run(shell.user_ns)
            tests.append({"name": test.name, "score": test.score, "max_score": test.possible})
    Path(results, "results.json").write_text(json.dumps({"tests": tests}))
    print("graded", json.dumps([notebook, time.perf_counter() - start]), flush=True)
"""


def _grade_all(jobs: list[tuple[Path, Path, Path]], script: str = GRADER) -> subprocess.Popen:
    """Start one process that grades every (autograder zip, notebook, results folder) of ``jobs`` in turn."""
    for _, _, results in jobs:
        results.mkdir(parents=True)
    listing = json.dumps([[str(z), str(nb), str(r)] for z, nb, r in jobs])
    return subprocess.Popen([sys.executable, "-c", script, listing], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "MPLBACKEND": "Agg"})


def _scores(results: Path) -> dict[str, tuple[float, float]]:
    tests = json.loads((results / "results.json").read_text())["tests"]
    return {t["name"]: (t["score"], t["max_score"]) for t in tests if "max_score" in t}


@pytest.fixture(scope="session")
def grades(built: tuple[Path, Path]) -> dict[tuple[str, str], tuple[dict[str, tuple[float, float]], float]]:
    """(chapter, "solution" | "student") -> ({question: (score, max)}, seconds), graded by two processes."""
    out, _ = built
    jobs = {}
    for chapter in CODING:
        folder = out / chapter.name
        (zip_path,) = (folder / "autograder").glob(f"{chapter.name}-autograder_*.zip")
        kinds = [("solution", folder / "autograder")]
        kinds += [("student", folder / "student")] if chapter in STUDENT_GRADED else []
        for kind, notebook in kinds:
            results = out / ".results" / f"{chapter.name}-{kind}"
            jobs[chapter.name, kind] = (zip_path, notebook / f"{chapter.name}.ipynb", results)
    by_otter = [key for key in jobs if key[0] in {chapter.name for chapter in OTTER_GRADED}]
    graders = [_grade_all([jobs[key] for key in by_otter]),
               _grade_all([jobs[key] for key in jobs if key not in by_otter], SHELL_GRADER)]
    seconds = {}
    for grader in graders:
        stdout, stderr = grader.communicate(timeout=900)
        assert grader.returncode == 0, f"grading failed:\n{stdout[-3000:]}\n{stderr[-3000:]}"
        for line in stdout.splitlines():
            if line.startswith("graded ["):
                notebook, took = json.loads(line.removeprefix("graded "))
                seconds[notebook] = took
    return {key: (_scores(results), seconds[str(notebook)]) for key, (_, notebook, results) in jobs.items()}


def test_there_are_chapters_with_exercises():
    names = [c.name for c in CHAPTERS]
    assert "01_attention_as_soft_lookup" in names


@pytest.mark.parametrize("chapter", CHAPTERS, ids=_ids)
def test_each_chapter_has_enough_exercises_and_a_checker_for_each_coding_one(chapter):
    coding = [e for e in chapter.exercises if e.coding]
    conceptual = [e for e in chapter.exercises if not e.coding]
    assert len(conceptual) >= 2 and len(coding) >= 2, (
        f"{chapter.name} has {len(conceptual)} conceptual and {len(coding)} coding exercises (with an "
        f"answer cell "
        f"that calls check); the book asks for at least 2 of each"
    )
    for exercise in chapter.exercises:
        assert exercise.solution, f"{exercise.label} has no {{solution}} dropdown"
    for exercise in coding:
        assert exercise.label in EXERCISES, f"{exercise.label}: register a checker in attnmem/exercises.py"
        assert EXERCISES[exercise.label].function == exercise.function


def test_every_registered_checker_is_used_by_a_chapter_in_the_book():
    used = {e.label for c in CHAPTERS for e in c.exercises if e.coding}
    in_book = {c.number for c in CHAPTERS}
    orphans = [label for label, entry in EXERCISES.items() if entry.chapter in in_book and label not in used]
    assert not orphans, f"checkers with no answer cell in their chapter: {orphans}"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=_ids)
def test_the_kit_has_a_student_notebook_and_an_autograder(built, chapter):
    out, course = built
    assert (out / chapter.name / "student" / f"{chapter.name}.ipynb").is_file()
    assert len(list((out / chapter.name / "autograder").glob(f"{chapter.name}-autograder_*.zip"))) == 1
    assert (course / f"{chapter.name}.ipynb").is_file()


def _comparable(path: Path) -> object:
    notebook = nbformat.read(path, as_version=4)
    return notebook.metadata, [(c.cell_type, c.source, c.metadata) for c in notebook.cells]


def test_the_published_student_notebooks_are_current(built):
    _, course = built
    for built_file in sorted(course.iterdir()):
        shipped = ROOT / "course" / built_file.name
        assert shipped.exists(), (
            f"course/{built_file.name} is missing: run `make assignments` and commit course/"
        )
        if built_file.suffix == ".ipynb":
            same = _comparable(shipped) == _comparable(built_file)
        else:
            same = shipped.read_text() == built_file.read_text()
        assert same, f"course/{built_file.name} is out of date with its chapter: run `make assignments`"
    stale = {p.name for p in (ROOT / "course").iterdir()} - {p.name for p in course.iterdir()}
    assert not stale, f"course/ holds files no chapter makes any more: {sorted(stale)}"


@pytest.mark.parametrize("chapter", CODING, ids=_ids)
def test_the_solution_notebook_gets_full_marks(grades, chapter):
    scores, seconds = grades[chapter.name, "solution"]
    expected = {e.label.replace("-", "_"): EXERCISES[e.label].points for e in chapter.exercises if e.coding}
    assert {name: score for name, (score, _) in scores.items()} == expected, scores
    print(f"{chapter.name}: solution graded in {seconds:.1f} s")


@pytest.mark.parametrize("chapter", STUDENT_GRADED, ids=_ids)
def test_the_untouched_student_notebook_gets_zero_on_coding_questions(grades, chapter):
    scores, seconds = grades[chapter.name, "student"]
    coding = {e.label.replace("-", "_"): EXERCISES[e.label].points for e in chapter.exercises if e.coding}
    assert {name: score for name, (score, _) in scores.items()} == {name: 0 for name in coding}, scores
    assert {name: best for name, (_, best) in scores.items()} == coding
    print(f"{chapter.name}: student notebook graded in {seconds:.1f} s")


def _solution_lines(exercise: kit.Exercise) -> list[str]:
    """Distinctive lines of an exercise's solution: long enough to be telling, and not in the question."""
    question = " ".join((exercise.body + "\n" + (exercise.answer_cell or "")).split())
    lines = []
    for line in kit._plain(exercise.solution).splitlines():
        line = " ".join(line.split())
        if len(line) >= 20 and not line.startswith(("```", ":")) and line not in question:
            lines.append(line)
    assert lines, f"{exercise.label}: its solution has no distinctive line to look for"
    return lines


def _all_text(path: Path) -> str:
    """Every string in a file: for a notebook, all sources, outputs and metadata, whitespace collapsed."""
    raw = path.read_text(errors="replace")
    strings = [raw]
    if path.suffix == ".ipynb":

        def walk(node: object) -> None:
            if isinstance(node, str):
                strings.append(node)
            elif isinstance(node, dict):
                for key, value in node.items():
                    strings.append(str(key))
                    walk(value)
            elif isinstance(node, list):
                strings.append("".join(x for x in node if isinstance(x, str)))
                for value in node:
                    walk(value)

        walk(json.loads(raw))
    return "\n".join(" ".join(s.split()) for s in strings)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=_ids)
def test_no_solution_text_leaks_into_any_student_file(built, chapter):
    out, course = built
    student_files = [p for p in (out / chapter.name / "student").rglob("*") if p.is_file()]
    student_files += [course / f"{chapter.name}.ipynb", course / "exercises.md"]
    solution = _all_text(out / chapter.name / "autograder" / f"{chapter.name}.ipynb")
    for exercise in chapter.exercises:
        lines = _solution_lines(exercise)
        present = [line for line in lines if line in solution]
        assert present, (
            f"the leak check is blind: no solution line of {exercise.label} is in the solution notebook"
        )
        for path in student_files:
            text = _all_text(path)
            leaked = [line for line in lines if line in text]
            assert not leaked, f"{path.name} leaks the solution of {exercise.label}: {leaked[0]!r}"
    for path in student_files:
        markers = re.findall(r"#\s*(?:BEGIN|END) (?:SOLUTION|TESTS)|BEGIN TEST CONFIG", _all_text(path))
        assert not markers, f"{path.name} still holds otter markers {markers}"


# ---- rubrics, numbering, links, a partial score (issue #17) ------------------------------------------------------


def _config() -> dict:
    import yaml

    return yaml.safe_load((ROOT / "_config.yml").read_text())


def _questions(notebook: nbformat.NotebookNode) -> dict[str, dict]:
    """otter's question configurations in a master notebook, by name."""
    import yaml

    found = {}
    for cell in notebook.cells:
        if cell.cell_type == "raw" and cell.source.startswith("# BEGIN QUESTION"):
            config = yaml.safe_load(cell.source.split("\n", 1)[1])
            found[config["name"]] = config
    return found


@pytest.mark.parametrize("chapter", CHAPTERS, ids=_ids)
def test_conceptual_questions_are_graded_by_hand_with_their_rubric_points(chapter):
    config = _config()
    master = kit.master_notebook(chapter, config["repository"]["url"], config["html"]["baseurl"])
    questions = _questions(master)
    total = 0
    for exercise in chapter.exercises:
        question = questions[exercise.label.replace("-", "_")]
        total += question["points"]
        if exercise.coding:
            assert not question.get("manual") and question["points"] == EXERCISES[exercise.label].points
        else:
            rubric = exercise.rubric
            assert question["manual"] is True and question["points"] == rubric.points
            assert 0 < rubric.partial_points < rubric.points
            assert all(len(text) >= 5 for text in (rubric.full, rubric.partial, rubric.none))
    assert f"**{total} points in all**" in master.cells[1].source
    assert f"**{total} points**" in (ROOT / "course" / "exercises.md").read_text()


def test_a_missing_rubric_is_a_clear_error(tmp_path, monkeypatch):
    chapter = next(c for c in CHAPTERS if c.number == "05")
    rubrics = tmp_path / "rubrics"
    rubrics.mkdir()
    (rubrics / "05.yml").write_text((kit.RUBRICS / "05.yml").read_text().replace("ex-05-noise:", "ex-05-noise-x:"))
    monkeypatch.setattr(kit, "RUBRICS", rubrics)
    monkeypatch.setattr(kit, "ROOT", tmp_path)
    with pytest.raises(kit.AssignmentError, match="no rubric for ex-05-noise: write one in rubrics/05.yml"):
        kit.read_rubrics(chapter)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=_ids)
def test_one_numbering_in_the_student_notebook_and_the_instructor_listing(built, chapter):
    _, course = built
    notebook = nbformat.read(course / f"{chapter.name}.ipynb", as_version=4)
    text = "\n".join(c.source for c in notebook.cells)
    headings = re.findall(r"^## Exercise (\d+\.\d+): ", text, re.M)
    assert headings == [e.number for e in chapter.exercises], headings
    assert [e.number for e in chapter.exercises] == [
        f"{int(chapter.number)}.{k}" for k in range(1, len(chapter.exercises) + 1)
    ]
    assert not re.search(r"ex-\d\d-[\w-]+`|\{ref\}", text), "a cross-reference left unresolved in a student file"
    assert "Exercise ex-" not in text, "an exercise called by its label, not its number"
    listing = (course / "exercises.md").read_text()
    for exercise in chapter.exercises:
        assert f"{{ref}}`{exercise.label}`" in listing  # the book renders it "Exercise N.k", as numbered here


@pytest.mark.parametrize("chapter", CHAPTERS, ids=_ids)
def test_the_student_notebook_links_its_chapter_page_from_the_configured_address(built, chapter):
    _, course = built
    first = nbformat.read(course / f"{chapter.name}.ipynb", as_version=4).cells[0].source
    page = f"{_config()['html']['baseurl'].rstrip('/')}/notebooks/{chapter.name}.html"
    assert f"]({page})" in first
    assert "/blob/" not in first


@pytest.mark.parametrize("chapter", CHAPTERS, ids=_ids)
def test_written_exercises_that_need_code_get_a_code_cell_with_the_chapter_imports(built, chapter):
    _, course = built
    cells = nbformat.read(course / f"{chapter.name}.ipynb", as_version=4).cells
    for exercise in chapter.exercises:
        if exercise.coding or not exercise.rubric.code:
            continue
        at = next(i for i, c in enumerate(cells) if f"## Exercise {exercise.number}:" in c.source)
        cell = cells[at + 1]
        assert cell.cell_type == "code" and cell.source.startswith(f"# Exercise {exercise.number}: your code")
        assert all(line in cell.source for line in chapter.imports)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=_ids)
def test_no_rubric_reaches_a_student_file(built, chapter):
    out, course = built
    student_files = [p for p in (out / chapter.name / "student").rglob("*") if p.is_file()]
    student_files += [course / f"{chapter.name}.ipynb", course / "exercises.md"]
    sheet = (out / chapter.name / "rubric.md").read_text()
    for exercise in chapter.exercises:
        if exercise.coding:
            continue
        criteria = [exercise.rubric.full, exercise.rubric.partial]
        assert all(text in sheet for text in criteria)
        for path in student_files:
            text = _all_text(path)
            assert not any(" ".join(c.split()) in text for c in criteria), f"{path.name} holds a rubric"


def test_a_half_right_submission_gets_the_partial_score(built, tmp_path):
    """One coding answer pasted from the solution, the other left as it was: the points of the first only."""
    out, _ = built
    chapter = next(c for c in CODING if c.number == "06")
    coding = [e for e in chapter.exercises if e.coding]
    right, left = coding[0], coding[1]
    folder = out / chapter.name
    solution = nbformat.read(folder / "autograder" / f"{chapter.name}.ipynb", as_version=4)
    submission = nbformat.read(folder / "student" / f"{chapter.name}.ipynb", as_version=4)
    answer = next(c for c in solution.cells if f'check("{right.label}"' in c.source)
    for cell in submission.cells:
        if cell.cell_type == "code" and f'check("{right.label}"' in cell.source:
            cell.source = answer.source
    path = tmp_path / f"{chapter.name}.ipynb"
    nbformat.write(submission, path)
    (zip_path,) = (folder / "autograder").glob(f"{chapter.name}-autograder_*.zip")
    grader = _grade_all([(zip_path, path, tmp_path / "results")], SHELL_GRADER)
    stdout, stderr = grader.communicate(timeout=300)
    assert grader.returncode == 0, f"grading failed:\n{stdout[-3000:]}\n{stderr[-3000:]}"
    scores = _scores(tmp_path / "results")
    name = lambda e: e.label.replace("-", "_")  # noqa: E731
    assert scores[name(right)] == (EXERCISES[right.label].points, EXERCISES[right.label].points)
    assert scores[name(left)] == (0, EXERCISES[left.label].points)
