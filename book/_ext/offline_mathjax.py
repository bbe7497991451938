"""Serve MathJax from the book itself, so equations render with no network.

Sphinx loads MathJax 3 from a CDN by default; a reader offline (or a browser test with the network off) then sees raw
TeX. This extension points ``mathjax_path`` at ``_static/mathjax/tex-mml-chtml.js`` and, after the build, copies that
file with its fonts and TeX extensions from the ``django-static-mathjax`` package (MathJax 3.2.2, Apache-2.0, no
dependencies) into the built book: about 2.4 MB.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError

PARTS = ("tex-mml-chtml.js", "output/chtml/fonts/woff-v2", "input/tex/extensions")


def _mathjax_es5() -> Path:
    try:
        import mathjax  # the django-static-mathjax package
    except ImportError:
        raise ExtensionError("offline_mathjax needs MathJax: pip install django-static-mathjax (in the book extra)")
    folder = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
    if not (folder / "tex-mml-chtml.js").exists():
        raise ExtensionError(f"MathJax's tex-mml-chtml.js is not in {folder}; reinstall django-static-mathjax")
    return folder


def _point_at_local_copy(app: Sphinx, config: object) -> None:
    _mathjax_es5()
    app.config.mathjax_path = "mathjax/tex-mml-chtml.js"


def _copy(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    source, target = _mathjax_es5(), Path(app.outdir) / "_static" / "mathjax"
    for part in PARTS:
        if (source / part).is_dir():
            shutil.copytree(source / part, target / part, dirs_exist_ok=True)
        else:
            (target / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / part, target / part)
    shutil.copy2(source.parent / "LICENSE", target / "LICENSE")


def setup(app: Sphinx) -> dict:
    app.connect("config-inited", _point_at_local_copy, priority=900)
    app.connect("build-finished", _copy)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
