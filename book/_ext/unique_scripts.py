"""Drop repeated inline scripts from every page, so no page declares a constant twice.

sphinx-thebe and sphinx-togglebutton add inline scripts (``app.add_js_file(None, body=...)``) after the HTML builder
has started. Sphinx 7.4 keeps such a script twice: once as added (file name ``None``) and once more when it re-adds
the registry's scripts before writing (file name ``''``), which no longer compare equal. The page then runs
``const THEBE_JS_URL = ...`` twice, and the second raises "Identifier 'THEBE_JS_URL' has already been declared".
This extension keeps the first of every script with the same file name and attributes.
"""
from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx


def _key(script: Any) -> tuple:
    attributes = getattr(script, "attributes", {})
    return (getattr(script, "filename", None) or "", tuple(sorted((k, str(v)) for k, v in attributes.items())))


def _drop_repeats(app: Sphinx, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[tuple] = set()
    kept = []
    for script in scripts:
        if _key(script) not in seen:
            seen.add(_key(script))
            kept.append(script)
    context["script_files"] = kept


def setup(app: Sphinx) -> dict:
    app.connect("html-page-context", _drop_repeats, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
