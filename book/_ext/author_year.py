"""Bibliography labels in author-year form, as the chapters cite: "Bahdanau et al., 2015", not "BCB15".

The chapters cite with sphinxcontrib-bibtex's ``author_year`` reference style; the bibliography page's labels come
from a pybtex formatting style, and pybtex's own styles label by number or alpha. This extension registers a
formatting style ``author_year`` (pybtex's ``plain``, sorted by author, year and title) whose label is the first
author's last name ("et al." after it for three or more authors, "A and B" for two) and the year. Two papers of
the same first author and year are told apart by the year the references file gives them (2015a, 2015b).
"""
from __future__ import annotations

from typing import Any, Iterable, Iterator

from pybtex.backends.plaintext import Backend as PlainTextBackend
from pybtex.plugin import register_plugin
from pybtex.richtext import Text
from pybtex.style.formatting.plain import Style as PlainStyle
from pybtex.style.labels import BaseLabelStyle
from sphinx.application import Sphinx


_PLAIN_TEXT = PlainTextBackend()  # `render_as("text")` would look the backend up among every entry point, each call


def _last_name(person: Any) -> str:
    return Text.from_latex(" ".join(person.prelast_names + person.last_names)).render(_PLAIN_TEXT)


class AuthorYearLabels(BaseLabelStyle):
    """Labels such as "Graves, 2016", "Cho and Bengio, 2014" or "Weston et al., 2015a"."""

    def format_labels(self, sorted_entries: Iterable[Any]) -> Iterator[str]:
        for entry in sorted_entries:
            people = entry.persons.get("author") or entry.persons.get("editor") or []
            if not people:
                who = entry.fields.get("title", entry.key)
            elif len(people) == 1:
                who = _last_name(people[0])
            elif len(people) == 2:
                who = f"{_last_name(people[0])} and {_last_name(people[1])}"
            else:
                who = f"{_last_name(people[0])} et al."
            yield f"{who}, {entry.fields.get('year', 'n.d.')}"


class AuthorYearStyle(PlainStyle):
    default_label_style = "author_year"


def setup(app: Sphinx) -> dict:
    register_plugin("pybtex.style.labels", "author_year", AuthorYearLabels)
    register_plugin("pybtex.style.formatting", "author_year", AuthorYearStyle)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
