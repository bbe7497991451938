"""Write the Colab edition of every chapter: the same cells, with the MyST that Colab cannot render made plain.

    python tools/colab.py [--out colab]        (make colab)

Colab renders Jupyter markdown and math, but no MyST. So, as Dive into Deep Learning generates its Colab notebooks
from its chapters, each chapter of ``book/_toc.yml`` is turned into ``colab/NN_topic.ipynb``:

- ``{exercise}`` blocks become headings "Exercise N.k: title", numbered as in the book;
- ``{solution}`` blocks are folded into HTML ``<details>``, so the answer stays hidden until asked for;
- ``{cite}`` roles become "(Author, year)" (``{cite:t}``: "Author (year)"), and the chapter ends with the list of
  the works it cites, from ``book/references.bib``;
- admonitions become block quotes, ``{ref}`` roles the name of what they point at (anywhere in the book),
  ``{doc}`` roles links to that chapter's Colab edition, and ``(label)=`` targets vanish;
- the chapter's own "Open in Colab" link is dropped (the reader is there) and a note says where the edition
  comes from.

Code cells are copied unchanged: the setup cell installs the package release that matches the book. A directive
or role this script does not know is an error, so nothing reaches Colab as raw MyST. The editions are tracked
(Colab opens them from the repository); ``tests/test_colab.py`` checks they match a fresh generation.
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import yaml
from pybtex.backends.plaintext import Backend as PlainTextBackend
from pybtex.database import Entry, parse_file
from pybtex.richtext import Text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from retarget import Address, address  # noqa: E402  (tools/ is not a package)

FENCE = re.compile(r"^(?P<fence>`{3,}|:{3,})\{(?P<name>[\w-]+)\}\s*(?P<argument>.*?)\s*$")
ROLE = re.compile(r"\{(?P<role>[\w:-]+)\}`(?P<text>[^`]+)`")
TARGET = re.compile(r"^\((?P<label>[\w-]+)\)=\s*$", re.M)
BADGE = re.compile(r"^\[Open in Colab\]\(https://colab\.research\.google\.com/[^)]+\)[^\n]*\n?", re.M)
ADMONITIONS = {"note", "tip", "hint", "important", "warning", "caution", "attention", "danger", "error", "seealso"}


class ColabError(ValueError):
    """A chapter holds MyST this script cannot turn into plain markdown."""


@dataclass
class Bibliography:
    """The book's references: the label each key is cited by, and its entry for a reference list."""

    entries: dict[str, Entry]
    labels: dict[str, tuple[str, str]] = field(default_factory=dict)  # key -> (authors, year), year with a/b

    @classmethod
    def read(cls, path: Path) -> Bibliography:
        entries = dict(parse_file(str(path), bib_format="bibtex").entries)
        bibliography = cls(entries)
        plain: dict[str, tuple[str, str]] = {key: (_authors_short(e), e.fields["year"]) for key, e in entries.items()}
        for key, (authors, year) in plain.items():
            same = sorted(k for k, label in plain.items() if label == (authors, year))
            suffix = "abcdefghij"[same.index(key)] if len(same) > 1 else ""
            bibliography.labels[key] = (authors, year + suffix)
        return bibliography

    def cite(self, keys: list[str], textual: bool, where: str) -> str:
        for key in keys:
            if key not in self.labels:
                raise ColabError(f"{where}: cites {key!r}, which is not in book/references.bib")
        if textual:
            return ", ".join(f"{self.labels[k][0]} ({self.labels[k][1]})" for k in keys)
        return "(" + "; ".join(f"{self.labels[k][0]}, {self.labels[k][1]}" for k in keys) + ")"

    def reference(self, key: str) -> str:
        """One entry of a reference list: authors (year). Title. Venue."""
        entry, (_, year) = self.entries[key], self.labels[key]
        people = [_latex(" ".join(p.first_names + p.middle_names + p.prelast_names + p.last_names))
                  for p in entry.persons.get("author", [])]
        authors = people[0] if len(people) == 1 else ", ".join(people[:-1]) + " and " + people[-1]
        venue = next((entry.fields[f] for f in ("booktitle", "journal", "publisher", "howpublished")
                      if f in entry.fields), "")
        parts = [f"{authors} ({year}). {_latex(entry.fields['title'])}."]
        if venue:
            parts.append(f"*{_latex(venue)}*" + (f", {entry.fields['pages'].replace('--', '–')}" if "pages" in
                                                 entry.fields else "") + ".")
        if "url" in entry.fields:
            parts.append(entry.fields["url"])
        return " ".join(parts)


_PLAIN_TEXT = PlainTextBackend()  # `render_as("text")` would look the backend up among every entry point, each call


def _latex(text: str) -> str:
    return Text.from_latex(text).render(_PLAIN_TEXT)


def _authors_short(entry: Entry) -> str:
    """The author part of an author-year citation: Graves; Weston and Chopra; Bahdanau et al."""
    last = [_latex(" ".join(p.prelast_names + p.last_names)) for p in entry.persons.get("author", [])]
    if len(last) > 2:
        return f"{last[0]} et al."
    return " and ".join(last)


@dataclass
class Chapter:
    """What converting one chapter needs to know beyond its cells."""

    path: Path
    number: int
    bibliography: Bibliography
    address: Address
    labels: dict[str, tuple[int, str]] = field(default_factory=dict)  # book-wide: label -> (chapter, what it names)
    titles: dict[str, str] = field(default_factory=dict)  # every chapter's file stem -> its title
    cited: list[str] = field(default_factory=list)

    def where(self, index: int) -> str:
        return f"{self.path.name}, cell {index}"


def _directives(text: str, where: str):
    """Split markdown into plain runs and directive blocks: yields str or (name, argument, options, body)."""
    lines, i, plain = text.split("\n"), 0, []
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            plain.append(lines[i])
            i += 1
            continue
        end = i + 1
        while end < len(lines) and lines[end].rstrip() != match["fence"]:
            end += 1
        if end == len(lines):
            raise ColabError(f"{where}: the {{{match['name']}}} opened by {match['fence']!r} is never closed")
        body, options = lines[i + 1 : end], {}
        while body and re.match(r"^:[\w-]+:", body[0]):
            key, _, value = body.pop(0)[1:].partition(":")
            options[key] = value.strip()
        if plain:
            yield "\n".join(plain)
            plain = []
        yield match["name"], match["argument"], options, "\n".join(body).strip("\n")
        i = end + 1
    if plain:
        yield "\n".join(plain)


def _quote(text: str) -> str:
    return "\n".join("> " + line if line else ">" for line in text.split("\n"))


def convert_markdown(text: str, chapter: Chapter, index: int) -> str:
    """One markdown cell of ``chapter`` with its MyST made plain."""
    where = chapter.where(index)
    text = TARGET.sub("", BADGE.sub("", text))
    out = []
    for part in _directives(text, where):
        if isinstance(part, str):
            out.append(_roles(part, chapter, where))
            continue
        name, argument, options, body = part
        body = convert_markdown(body, chapter, index)
        if name == "exercise":
            heading = f"### {chapter.labels[options['label']][1]}: {_roles(argument, chapter, where)}"
            out.append(f"{heading}\n\n{body}")
        elif name == "solution":
            out.append(f"<details>\n<summary>Solution</summary>\n\n{body}\n\n</details>")
        elif name in ADMONITIONS or name == "admonition":
            title = _roles(argument, chapter, where) if name == "admonition" else name.capitalize()
            out.append(_quote(f"**{title}.** {body}"))
        elif name == "math":
            out.append(f"$$\n{body}\n$$")
        else:
            raise ColabError(f"{where}: no plain form for the directive {{{name}}}; teach tools/colab.py one")
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip("\n")


def _roles(text: str, chapter: Chapter, where: str) -> str:
    def role(match: re.Match[str]) -> str:
        name, content = match["role"], match["text"]
        if name in ("cite", "cite:p", "cite:t"):
            keys = [key.strip() for key in content.split(",")]
            chapter.cited += [key for key in keys if key not in chapter.cited]
            return chapter.bibliography.cite(keys, textual=name == "cite:t", where=where)
        if name == "ref":
            shown = re.match(r"^(?P<text>.*?)\s*<(?P<label>[\w-]+)>$", content)
            if shown:
                return shown["text"]
            if content not in chapter.labels:
                raise ColabError(f"{where}: {{ref}}`{content}` points at no exercise or section of the book")
            number, named = chapter.labels[content]
            return named if number == chapter.number or named.startswith("Exercise") else f"{named} of chapter {number}"
        if name == "doc":
            shown = re.match(r"^(?P<text>.*?)\s*<(?P<target>[^>]+)>$", content)
            stem = Path(shown["target"] if shown else content).stem
            if stem not in chapter.titles:
                raise ColabError(f"{where}: {{doc}}`{content}` names no chapter of the book")
            link = chapter.address.colab_link(f"colab/{stem}.ipynb")
            return f"[{shown['text'] if shown else chapter.titles[stem]}]({link})"
        if name == "math":
            return f"${content}$"
        raise ColabError(f"{where}: no plain form for the role {{{name}}}; teach tools/colab.py one")

    return ROLE.sub(role, text)


def _index_labels(cells: list, path: Path, labels: dict[str, tuple[int, str]]) -> None:
    """Number a chapter's exercises as the book does (N.1, N.2, ...) and name each section target, into ``labels``."""
    count, number = 0, _number(path)
    for cell in cells:
        if cell.cell_type != "markdown":
            continue
        lines = cell.source.split("\n")
        for i, line in enumerate(lines):
            match = FENCE.match(line)
            if match and match["name"] == "exercise":
                label = next((re.match(r"^:label:\s*(\S+)", rest) for rest in lines[i + 1 : i + 4]
                              if rest.startswith(":label:")), None)
                if label is None:
                    raise ColabError(f"{path.name}: the exercise {match['argument']!r} has no :label:")
                count += 1
                labels[label.group(1)] = (number, f"Exercise {number}.{count}")
            target = TARGET.match(line)
            if target:
                heading = next((h.lstrip("# ") for h in lines[i + 1 :] if h.startswith("#")), target["label"])
                labels[target["label"]] = (number, f'the section "{heading}"')


def _number(path: Path) -> int:
    return int(path.stem.split("_")[0])


def edition(path: Path, bibliography: Bibliography, where_from: Address, labels: dict[str, tuple[int, str]],
            titles: dict[str, str]) -> nbformat.NotebookNode:
    """The Colab edition of the chapter notebook at ``path``; ``labels`` and ``titles`` cover the whole book."""
    notebook = nbformat.read(path, as_version=4)
    chapter = Chapter(path, _number(path), bibliography, where_from, labels, titles)
    cells = []
    for index, cell in enumerate(notebook.cells):
        cell = copy.deepcopy(cell)
        if cell.cell_type == "markdown":
            cell.source = convert_markdown(cell.source, chapter, index)
        cells.append(cell)
    source = f"{where_from.repository}/blob/{where_from.release}/notebooks/{path.name}"
    title, _, rest = cells[0].source.partition("\n")
    cells[0].source = (
        f"{title}\n\n*The Colab edition of this chapter of* Attention & Memory, *made from "
        f"[notebooks/{path.name}]({source}) by `tools/colab.py`: exercises are headings, solutions fold open, "
        f"citations are plain text. Run the first code cell first; it installs the book's package, "
        f"release {where_from.release}.*\n{rest}"
    )
    if chapter.cited:
        works = "\n".join(f"- {bibliography.reference(key)}" for key in
                          sorted(chapter.cited, key=lambda k: bibliography.labels[k]))
        has_heading = any(re.search(r"^## References\s*$", c.source, re.M) for c in cells if c.cell_type == "markdown")
        heading = "" if has_heading else "## References\n\n"
        references = nbformat.v4.new_markdown_cell(f"{heading}Works cited in this chapter:\n\n{works}")
        references.id = f"colab-references-{chapter.number:02d}"
        cells.append(references)
    notebook.cells = cells
    return notebook


def chapters(root: Path) -> list[Path]:
    """Every notebook ``book/_toc.yml`` lists, in reading order."""
    toc = yaml.safe_load((root / "book" / "_toc.yml").read_text())
    files = [c["file"] for part in toc["parts"] for c in part["chapters"]]
    files += [s["file"] for part in toc["parts"] for c in part["chapters"] for s in c.get("sections", [])]
    return [root / f"{f}.ipynb" for f in files if (root / f"{f}.ipynb").exists()]


def render(root: Path = ROOT) -> dict[str, str]:
    """Every chapter's Colab edition as the text of its file, by file name."""
    bibliography = Bibliography.read(root / "book" / "references.bib")
    where_from = address(root)
    notebooks = {path: nbformat.read(path, as_version=4) for path in chapters(root)}
    labels: dict[str, tuple[int, str]] = {}
    for path, notebook in notebooks.items():
        _index_labels(notebook.cells, path, labels)
    titles = {path.stem: notebook.cells[0].source.split("\n")[0].lstrip("# ") for path, notebook in notebooks.items()}
    return {
        path.name: nbformat.writes(edition(path, bibliography, where_from, labels, titles)) + "\n"
        for path in notebooks
    }


def write_editions(root: Path, out: Path) -> list[Path]:
    """Write the editions to ``out`` and remove editions of chapters no longer in the toc; return what changed."""
    out.mkdir(exist_ok=True)
    editions, changed = render(root), []
    for name, text in editions.items():
        path = out / name
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            changed.append(path)
    for stale in sorted(set(p.name for p in out.glob("*.ipynb")) - set(editions)):
        (out / stale).unlink()
        changed.append(out / stale)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "colab", help="where the editions go (tracked)")
    args = parser.parse_args(argv)
    try:
        changed = write_editions(ROOT, args.out)
    except ColabError as error:
        print(f"colab: {error}", file=sys.stderr)
        return 2
    print(f"{len(chapters(ROOT))} Colab editions in {args.out}; {len(changed)} changed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
