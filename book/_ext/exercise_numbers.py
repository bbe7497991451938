"""Number the exercises chapter by chapter: "Exercise 5.3" is the third exercise of chapter 5.

Sphinx numbers enumerable nodes through the whole book when the table of contents is not numbered, so
sphinx-exercise's exercises would read "Exercise 23". After Sphinx has assigned its numbers, this renumbers every
exercise of a chapter notebook (``notebooks/NN_topic``) as (NN, position in the chapter). The exercise's title, a
``{ref}`` or ``{numref}`` to its label, the student notebooks and the instructor page then all say "Exercise 5.3"
(``tools/assignments.py`` numbers them the same way).
"""
from __future__ import annotations

import re

from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment

CHAPTER = re.compile(r"(?:^|/)(\d+)_[^/]*$")


def number_by_chapter(app: Sphinx, env: BuildEnvironment) -> list[str]:
    for docname, kinds in env.toc_fignumbers.items():
        chapter = CHAPTER.search(docname)
        if chapter is None or "exercise" not in kinds:
            continue
        in_order = sorted(kinds["exercise"].items(), key=lambda item: item[1])
        for position, (node_id, _) in enumerate(in_order, start=1):
            kinds["exercise"][node_id] = (int(chapter[1]), position)
    return []


def setup(app: Sphinx) -> dict:
    app.connect("env-get-updated", number_by_chapter, priority=900)  # after Sphinx's own numbering (500)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
