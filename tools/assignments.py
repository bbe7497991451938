"""Build the course kit: for every chapter with exercises, a student notebook and an otter-grader autograder.

    python tools/assignments.py [--out assignments] [--course course] [--chapters 01 06 ...] [--validate]

The chapter notebook is the single source. Its exercise section (from the ``## Exercises`` heading to the
next ``##`` heading) holds ``{exercise}`` directives, each followed by its ``{solution}`` dropdown; a coding
exercise is also followed by an *answer cell* that defines the reader's function with ``...`` as its body
and ends with ``check("ex-NN-name", my_function)``. From that this script writes an otter "master" notebook:

- the chapter's title, a link to its rendered page (``_config.yml``'s ``html.baseurl``), the points in all, and its
  setup cell (so the assignment installs ``attnmem`` on Colab like the chapter);
- a conceptual exercise becomes a manually graded question (otter's ``manual: true``, shown as such on Gradescope)
  worth the points of its rubric in ``instructor/rubrics/NN.yml``, whose solution is the dropdown's text; a rubric
  with ``code: true`` also gives the student a code cell holding the chapter's imports;
- a coding exercise becomes an autograded question: the answer cell with the ``...`` replaced by the body of
  the function of the same name in the dropdown's ```python block, and one hidden test that requires
  ``attnmem.exercises.check(label, fn).passed`` (worth the checker's points).

``otter assign`` turns it into ``OUT/NN_topic/student/NN_topic.ipynb`` (solutions stripped) and
``OUT/NN_topic/autograder/`` (the solution notebook and ``NN_topic-autograder_*.zip``; ``--validate`` also
grades the solution there); ``OUT/NN_topic/rubric.md`` holds the rubrics for the graders, never a student file.
Every exercise is numbered "Exercise N.k" (chapter N, k-th exercise), as the book numbers it, and a ``{ref}`` to
an exercise label becomes that text. The student notebook is copied, with stable cell ids, to ``course/`` (tracked, so
Colab can open it from the repository), and ``course/exercises.md`` lists every exercise for the instructor
page. Grade a submission with ``otter run -a OUT/NN_topic/autograder/*.zip -o RESULTS submission.ipynb``.
"""

from __future__ import annotations

import argparse
import ast
import re
import shutil
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import yaml
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_raw_cell

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from retarget import address  # noqa: E402  (tools/ is not a package)

FENCE = re.compile(r"^(?P<fence>`{3,}|:{3,})\{(?P<kind>exercise|solution)\}\s*(?P<argument>.*?)\s*$")
CHECK_CALL = re.compile(
    r"""^check\(\s*["'](?P<label>ex-\d+-[\w-]+)["']\s*,\s*(?P<function>\w+)\s*\)\s*$""", re.M
)
ROLE = re.compile(r"\{(?P<role>cite|cite:t|cite:p|ref|numref|doc)\}`(?P<text>[^`]+)`")
RUBRICS = ROOT / "instructor" / "rubrics"
RUBRIC_FIELDS = {"points", "partial_points", "code", "full", "partial", "none"}
#: "ex-05-restarts" -> "Exercise 5.3", for every exercise of the book (filled by chapters_with_exercises).
NUMBERS: dict[str, str] = {}


class AssignmentError(ValueError):
    """A chapter's exercise section does not follow the pattern this builder reads."""


@dataclass(frozen=True)
class Rubric:
    """How a conceptual exercise is graded: its points, and what earns full, partial and no credit."""

    points: int
    partial_points: int
    code: bool  # the student needs a code cell to answer
    full: str
    partial: str
    none: str


@dataclass
class Exercise:
    label: str
    title: str
    body: str
    number: str  # "5.3": chapter 5, third exercise
    solution: str = ""
    answer_cell: str | None = None  # the code cell that follows a coding exercise
    function: str | None = None
    rubric: Rubric | None = None  # a conceptual exercise's, from instructor/rubrics/NN.yml

    @property
    def coding(self) -> bool:
        return self.answer_cell is not None


@dataclass
class Chapter:
    path: Path
    title: str
    setup: str
    imports: list[str] = field(default_factory=list)  # the chapter's import statements, in order
    exercises: list[Exercise] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def number(self) -> str:
        return self.name.split("_")[0]


def _source(cell: dict) -> str:
    source = cell["source"]
    return "".join(source) if isinstance(source, list) else source


def _directives(markdown: str, where: str) -> list[tuple[str, str, dict[str, str], str]]:
    """The ``{exercise}``/``{solution}`` blocks of a markdown text: (kind, argument, options, body)."""
    lines, found, i = markdown.splitlines(), [], 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        fence, end = match["fence"], i + 1
        while end < len(lines) and lines[end].rstrip() != fence:
            end += 1
        if end == len(lines):
            raise AssignmentError(f"{where}: the {{{match['kind']}}} opened by {fence!r} is never closed")
        body, options = lines[i + 1 : end], {}
        while body and re.match(r"^:[\w-]+:", body[0]):
            key, _, value = body.pop(0)[1:].partition(":")
            options[key] = value.strip()
        found.append((match["kind"], match["argument"], options, "\n".join(body).strip()))
        i = end + 1
    return found


def read_chapter(path: Path) -> Chapter:
    """Parse a chapter notebook's title, setup cell and exercise section."""
    cells = nbformat.read(path, as_version=4).cells
    title = _source(cells[0]).splitlines()[0].lstrip("# ").strip()
    setup = next(_source(c) for c in cells if c.cell_type == "code")
    chapter = Chapter(path, title, setup, _imports(cells, setup))
    by_label: dict[str, Exercise] = {}
    inside = False
    for index, cell in enumerate(cells):
        text, where = _source(cell), f"{path.name}, cell {index}"
        if cell.cell_type == "markdown":
            if not inside:
                start = re.search(r"^## Exercises\b.*$", text, re.M)
                if start is None:
                    continue
                inside, text = True, text[start.end() :]
            following = re.search(r"^## ", text, re.M)  # the section ends at the next second-level heading
            for kind, argument, options, body in _directives(
                text[: following.start()] if following else text, where
            ):
                if kind == "exercise":
                    if "label" not in options:
                        raise AssignmentError(f"{where}: the exercise {argument!r} has no :label:")
                    number = f"{int(chapter.number)}.{len(chapter.exercises) + 1}"
                    by_label[options["label"]] = Exercise(options["label"], argument, body, number)
                    chapter.exercises.append(by_label[options["label"]])
                elif argument not in by_label:
                    raise AssignmentError(f"{where}: the solution of {argument!r} comes before its exercise")
                else:
                    by_label[argument].solution = body
            if following:
                break
        elif inside and cell.cell_type == "code" and (match := CHECK_CALL.search(text)):
            if match["label"] not in by_label:
                raise AssignmentError(
                    f"{where}: check({match['label']!r}, ...) follows no exercise of that label"
                )
            by_label[match["label"]].answer_cell, by_label[match["label"]].function = text, match["function"]
    return chapter


def _imports(cells: list, setup: str) -> list[str]:
    """The import statements of a chapter's code cells (not its setup cell), each once, in order."""
    found: list[str] = []
    for cell in cells:
        if cell.cell_type != "code" or _source(cell) == setup:
            continue
        code = "\n".join(line for line in _source(cell).splitlines() if not line.lstrip().startswith(("%", "!")))
        try:
            tree = ast.parse(code)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)) and ast.unparse(node) not in found:
                if not any(alias.name == "check" for alias in node.names):
                    found.append(ast.unparse(node))
    return found


def read_rubrics(chapter: Chapter) -> None:
    """Attach each conceptual exercise's rubric from ``instructor/rubrics/NN.yml``; a missing one is an error."""
    path = RUBRICS / f"{chapter.number}.yml"
    data = yaml.safe_load(path.read_text()) if path.exists() else {}
    conceptual = {e.label: e for e in chapter.exercises if not e.coding}
    missing = [label for label in conceptual if label not in (data or {})]
    if missing:
        raise AssignmentError(
            f"{chapter.name}: no rubric for {', '.join(missing)}: write one in {path.relative_to(ROOT)} with "
            f"{', '.join(sorted(RUBRIC_FIELDS))} (see instructor/rubrics/01.yml)"
        )
    unknown = sorted(set(data) - set(conceptual))
    if unknown:
        raise AssignmentError(f"{path.relative_to(ROOT)} has rubrics for {unknown}, which are no conceptual "
                              f"exercise of {chapter.name}")
    for label, exercise in conceptual.items():
        fields = set(data[label])
        if fields != RUBRIC_FIELDS:
            raise AssignmentError(f"{path.relative_to(ROOT)}: the rubric of {label} needs exactly the fields "
                                  f"{sorted(RUBRIC_FIELDS)}; it has {sorted(fields)}")
        rubric = Rubric(**data[label])
        if not 0 < rubric.partial_points < rubric.points:
            raise AssignmentError(f"{path.relative_to(ROOT)}: {label}'s partial_points must lie between 0 and "
                                  f"its points ({rubric.points})")
        exercise.rubric = rubric


def points(exercise: Exercise) -> int:
    """What the exercise is worth: its checker's points (coding) or its rubric's (conceptual)."""
    from attnmem.exercises import EXERCISES

    return EXERCISES[exercise.label].points if exercise.coding else exercise.rubric.points


def _function_body(code: str, name: str, where: str) -> list[str]:
    """The source lines of ``def name``'s body (without its docstring) in ``code``."""
    tree = ast.parse(code)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            body = node.body
            if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and len(body) > 1:
                body = body[1:]
            lines = code.splitlines()[body[0].lineno - 1 : node.end_lineno]
            return textwrap.dedent("\n".join(lines)).splitlines()
    raise AssignmentError(f"{where}: the solution's code defines no function {name}()")


def solution_cell(exercise: Exercise) -> str:
    """The answer cell with its ``...`` replaced by the solution's body between otter's solution markers."""
    where = f"the solution of {exercise.label}"
    blocks = re.findall(r"^```python\n(.*?)^```", exercise.solution, re.M | re.S)
    code = next((b for b in blocks if re.search(rf"^def {exercise.function}\(", b, re.M)), None)
    if code is None:
        raise AssignmentError(f"{where}: no ```python block defines {exercise.function}()")
    body = _function_body(code, exercise.function, where)
    lines = exercise.answer_cell.splitlines()
    stubs = [i for i, line in enumerate(lines) if line.strip() == "..."]
    if len(stubs) != 1:
        raise AssignmentError(
            f"the answer cell of {exercise.label} needs exactly one line `...` in {exercise.function}"
        )
    indent = lines[stubs[0]][: len(lines[stubs[0]]) - len(lines[stubs[0]].lstrip())]
    solution = [
        f"{indent}# BEGIN SOLUTION",
        *(indent + line if line else "" for line in body),
        f"{indent}# END SOLUTION",
    ]
    return "\n".join(lines[: stubs[0]] + solution + lines[stubs[0] + 1 :])


def _plain(markdown: str) -> str:
    """MyST roles that plain Jupyter cannot render, as text: {cite}`a,b` -> [a, b]."""

    def role(match: re.Match[str]) -> str:
        if match["role"].startswith("cite"):
            return "[" + ", ".join(key.strip() for key in match["text"].split(",")) + "]"
        explicit = re.fullmatch(r"(?P<text>.+?)\s*<(?P<target>[^>]+)>", match["text"])
        if explicit:
            return explicit["text"]
        if match["role"] in ("ref", "numref") and match["text"].startswith("ex-"):
            if match["text"] not in NUMBERS:
                raise AssignmentError(f"{{{match['role']}}}`{match['text']}` names no exercise of the book")
            return f"Exercise {NUMBERS[match['text']]}"
        return match["text"]

    return ROLE.sub(role, markdown)


def _test_cell(exercise: Exercise, points: int) -> str:
    name = "test_" + exercise.label.replace("-", "_")
    return (
        f'""" # BEGIN TEST CONFIG\nhidden: true\npoints: {points}\n""" # END TEST CONFIG\n'
        f"def {name}({exercise.function}):\n"
        f"    from attnmem.exercises import check\n\n"
        f'    result = check("{exercise.label}", {exercise.function})\n'
        f"    assert result.passed, str(result)\n\n"
        f"{name}({exercise.function})"
    )


def chapter_page(chapter: Chapter, book: str) -> str:
    """The chapter's page in the rendered book (where its figures and tables are)."""
    return f"{book.rstrip('/')}/notebooks/{chapter.name}.html"


def master_notebook(chapter: Chapter, repository: str, book: str) -> nbformat.NotebookNode:
    """The otter master notebook for one chapter (solutions inside otter's markers)."""
    from attnmem.exercises import EXERCISES

    config = {
        "name": chapter.name,
        "requirements": "requirements.txt",
        "init_cell": False,
        "check_all_cell": False,
        "export_cell": False,
        "solutions_pdf": False,
        "generate": True,
        "tests": {"files": False, "ok_format": False},
        "suppress_no_tests_warning": True,
    }
    coding = sum(points(e) for e in chapter.exercises if e.coding)
    by_hand = sum(points(e) for e in chapter.exercises if not e.coding)
    cells = [
        new_raw_cell("# ASSIGNMENT CONFIG\n" + yaml.safe_dump(config, sort_keys=False)),
        new_markdown_cell(
            f"# Exercises for chapter {int(chapter.number)}: {chapter.title.split('. ', 1)[-1]}\n\n"
            f"These are the exercises of the chapter [{chapter.title}]({chapter_page(chapter, book)}) of "
            f"*Attention & Memory*; keep its page open beside this notebook, since the exercises refer to its "
            f"figures and tables.\n\n"
            f"**{coding + by_hand} points in all**: {coding} for the coding exercises (graded by the "
            f"autograder), {by_hand} for the written ones (graded by hand).\n\n"
            f"- Write each conceptual answer in the markdown cell under its question.\n"
            f"- Write each coding answer in place of the `...` in its cell, then run the cell: "
            f"`check(...)` tries your function on random and edge inputs and tells you what, if anything, "
            f"differs. The grader runs the same check.\n"
            f"- Run the whole notebook from the top before you hand it in (Kernel → Restart & Run All)."
        ),
        new_code_cell(chapter.setup),
    ]
    for exercise in chapter.exercises:
        question = {"name": exercise.label.replace("-", "_")}
        worth = points(exercise) if exercise.coding or exercise.rubric else 1
        heading = (
            f"## Exercise {exercise.number}: {exercise.title} ({worth} point{'s' if worth != 1 else ''})"
            f"\n\n{_plain(exercise.body)}"
        )
        if exercise.coding:
            if exercise.label not in EXERCISES:
                raise AssignmentError(
                    f"{chapter.name}: {exercise.label} has an answer cell but no checker is "
                    f"registered in attnmem.exercises"
                )
            worth = EXERCISES[exercise.label].points
            question.update(points=worth, check_cell=False)
            numbered = rf"# Exercise {exercise.number}:"
            cells += [
                new_raw_cell("# BEGIN QUESTION\n" + yaml.safe_dump(question, sort_keys=False)),
                new_markdown_cell(heading),
                new_raw_cell("# BEGIN SOLUTION"),
                new_code_cell(re.sub(rf"^# Exercise {exercise.label}:", numbered, solution_cell(exercise), flags=re.M)),
                new_raw_cell("# END SOLUTION"),
                new_raw_cell("# BEGIN TESTS"),
                new_code_cell(_test_cell(exercise, worth)),
                new_raw_cell("# END TESTS"),
                new_raw_cell("# END QUESTION"),
            ]
        else:
            question.update(manual=True, points=worth)
            cells += [
                new_raw_cell("# BEGIN QUESTION\n" + yaml.safe_dump(question, sort_keys=False)),
                new_markdown_cell(heading),
            ]
            if exercise.rubric and exercise.rubric.code:
                cells.append(new_code_cell(
                    f"# Exercise {exercise.number}: your code here; write your answer in the cell below.\n"
                    + "\n".join(chapter.imports)
                ))
            cells += [
                new_raw_cell("# BEGIN SOLUTION"),
                new_markdown_cell(_plain(exercise.solution) or "(no written solution)"),
                new_raw_cell("# END SOLUTION"),
                new_raw_cell("# END QUESTION"),
            ]
    notebook = new_notebook(cells=cells)
    notebook.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    return notebook


def rubric_sheet(chapter: Chapter) -> str:
    """The graders' sheet for one assignment: every question's points, and the rubric of each written one."""
    total = sum(points(e) for e in chapter.exercises)
    lines = [f"# Rubric: chapter {int(chapter.number)}, {chapter.title.split('. ', 1)[-1]} ({total} points)", ""]
    for exercise in chapter.exercises:
        worth = points(exercise)
        lines.append(f"## Exercise {exercise.number}: {exercise.title} ({worth} point{'s' if worth != 1 else ''})")
        lines.append("")
        if exercise.coding:
            lines += ["Autograded: the checker gives all the points or none.", ""]
            continue
        rubric = exercise.rubric
        lines += [
            f"- **{rubric.points} (full):** {rubric.full}",
            f"- **{rubric.partial_points} (partial):** {rubric.partial}",
            f"- **0:** {rubric.none}",
            "",
        ]
    return "\n".join(lines)


def build(chapter: Chapter, out: Path, repository: str, book: str, validate: bool = False) -> Path:
    """Write the master notebook, run ``otter assign`` on it and return the chapter's output folder.

    ``validate`` lets otter also grade the solution notebook (the tests do that in any case).
    """
    target = out / chapter.name
    shutil.rmtree(target, ignore_errors=True)
    master_dir = out / ".masters" / chapter.name
    shutil.rmtree(master_dir, ignore_errors=True)
    master_dir.mkdir(parents=True)
    master = master_dir / f"{chapter.name}.ipynb"
    nbformat.write(master_notebook(chapter, repository, book), master)
    (master_dir / "requirements.txt").write_text(f"{address(ROOT).requirement}\n")  # the book's release tag
    from otter.assign import main as otter_assign  # slow to import, and only this step needs it

    try:
        otter_assign(str(master), str(target.resolve()), no_pdfs=True, no_run_tests=not validate)
    except Exception as error:
        raise AssignmentError(
            f"otter assign failed for {chapter.name}: {type(error).__name__}: {error}"
        ) from error
    (target / "rubric.md").write_text(rubric_sheet(chapter))
    return target


def publish(chapter: Chapter, target: Path, course: Path) -> Path:
    """Copy the student notebook to ``course/`` (tracked, so Colab can open it) with stable cell ids."""
    notebook = nbformat.read(target / "student" / f"{chapter.name}.ipynb", as_version=4)
    for index, cell in enumerate(notebook.cells):
        cell.id = f"{chapter.number}-{index:02d}"
    course.mkdir(exist_ok=True)
    path = course / f"{chapter.name}.ipynb"
    nbformat.write(notebook, path)
    return path


def _as_text(check: str) -> str:
    """A checker's description for MyST: tokens such as <pad> and <eos> as code, not as HTML tags."""
    return re.sub(r"(<[a-z]+>)", r"`\1`", check)


def listing(chapters: list[Chapter], repository: str, colab: str, book: str) -> str:
    """The exercise table the instructor page includes: kind, points, what each checker tests, links, totals.

    It is public, like the book: the rubrics' criteria stay in the graders' ``rubric.md``.
    """
    from attnmem.exercises import EXERCISES

    owner_repo = repository.removeprefix("https://github.com/")
    lines = ["<!-- Written by tools/assignments.py (make assignments); do not edit by hand. -->", ""]
    for chapter in chapters:
        where = f"blob/main/course/{chapter.name}.ipynb"
        coding = sum(points(e) for e in chapter.exercises if e.coding)
        by_hand = sum(points(e) for e in chapter.exercises if not e.coding)
        lines += [
            f"### Chapter {int(chapter.number)}: {chapter.title.split('. ', 1)[-1]}",
            "",
            f"Student notebook: [open in Colab]({colab}/github/{owner_repo}/{where}) · "
            f"[view on GitHub]({repository}/{where}) · [the chapter]({chapter_page(chapter, book)}) · "
            f"autograder: `assignments/{chapter.name}/autograder/{chapter.name}-autograder_*.zip` · rubric: "
            f"`assignments/{chapter.name}/rubric.md`",
            "",
            f"**{coding + by_hand} points**: {coding} autograded, {by_hand} graded by hand with the rubric.",
            "",
            "| exercise | kind | points | what the checker tests |",
            "|---|---|---|---|",
        ]
        for exercise in chapter.exercises:
            name = f"{{ref}}`{exercise.label}`"
            if exercise.coding:
                entry = EXERCISES[exercise.label]
                lines.append(
                    f"| {name} | coding, autograded: `{exercise.function}` | {entry.points} | "
                    + "; ".join(_as_text(check) for check in entry.checks)
                    + " |"
                )
            else:
                code = ", with a code cell" if exercise.rubric.code else ""
                lines.append(
                    f"| {name} | written{code}, graded by hand | {exercise.rubric.points} | (full, partial and "
                    f"no credit: see the rubric) |"
                )
        lines.append("")
    return "\n".join(lines)


def chapters_with_exercises(only: list[str] | None = None, rubrics: bool = True) -> list[Chapter]:
    """The chapters in book/_toc.yml whose notebooks have exercises (``only``: these chapter numbers), with the
    rubrics of their written exercises (``rubrics=False``: without, for what needs the exercises only)."""
    toc = yaml.safe_load((ROOT / "book" / "_toc.yml").read_text())
    entries = [c["file"] for part in toc["parts"] for c in part["chapters"]]
    found = []
    for entry in entries:
        path = ROOT / f"{entry}.ipynb"
        if not path.exists():
            continue
        chapter = read_chapter(path)
        NUMBERS.update((e.label, e.number) for e in chapter.exercises)  # every chapter's, for cross-references
        if chapter.exercises and not (only and chapter.number not in only):
            found.append(chapter)
    for chapter in found if rubrics else ():
        read_rubrics(chapter)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "assignments", help="output folder (git-ignored)")
    parser.add_argument(
        "--course",
        type=Path,
        default=ROOT / "course",
        help="where the student notebooks and the exercise listing are published (tracked)",
    )
    parser.add_argument("--chapters", nargs="*", help="chapter numbers to build, e.g. 01 06 (default: all)")
    parser.add_argument("--validate", action="store_true", help="let otter also grade each solution notebook")
    args = parser.parse_args(argv)
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    repository, colab = config["repository"]["url"], config["launch_buttons"]["colab_url"]
    book = config.get("html", {}).get("baseurl")
    if not book:
        print("_config.yml has no html.baseurl: write the rendered book's address there", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    chapters = chapters_with_exercises(args.chapters)
    if not chapters:
        print("no chapter in book/_toc.yml has exercises", file=sys.stderr)
        return 1
    for chapter in chapters:
        start = time.perf_counter()
        target = build(chapter, args.out, repository, book, args.validate)
        published = publish(chapter, target, args.course)
        coding = sum(e.coding for e in chapter.exercises)
        print(
            f"{chapter.name}: {len(chapter.exercises)} exercises ({coding} autograded) -> {target}, "
            f"{published} in {time.perf_counter() - start:.1f} s"
        )
    if not args.chapters:
        (args.course / "exercises.md").write_text(listing(chapters, repository, colab, book))
    return 0


if __name__ == "__main__":
    sys.exit(main())
