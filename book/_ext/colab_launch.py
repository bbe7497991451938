"""Point each chapter's Colab launch button at the chapter's Colab edition, at the book's release.

The theme's Colab button opens the page's own notebook (``blob/<branch>/notebooks/NN_topic.ipynb``), whose MyST Colab
cannot render. The Colab editions (``colab/NN_topic.ipynb``, written by ``tools/colab.py``) are plain Jupyter
markdown; this extension rewrites the button to open the edition as tagged for this version of the package
(``blob/v<version>/colab/NN_topic.ipynb``), so the notebook and the package its setup cell installs agree.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.util import logging

LOGGER = logging.getLogger(__name__)
CHAPTER = re.compile(r"/blob/[^/]+/notebooks/(?P<name>[\w-]+\.ipynb)$")


def _retarget_colab_button(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree) -> None:
    import attnmem

    for group in context.get("header_buttons", []):
        for button in group.get("buttons", []) if group.get("label") == "launch-buttons" else []:
            match = CHAPTER.search(button.get("url", "")) if button.get("text") == "Colab" else None
            if match is None:
                continue
            if not (Path(app.srcdir) / "colab" / match["name"]).exists():
                LOGGER.warning(f"{pagename}: colab/{match['name']} is missing; run `make colab`")
                continue
            release = f"v{attnmem.__version__}"
            button["url"] = button["url"][: match.start()] + f"/blob/{release}/colab/{match['name']}"
            button["tooltip"] = "Open the Colab edition of this chapter"


def setup(app: Sphinx) -> dict[str, Any]:
    # The theme fills the launch buttons at priority 501; rewrite them after it.
    app.connect("html-page-context", _retarget_colab_button, priority=502)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
