"""Write the configuration of the book for graded courses: the same book with every exercise's solution removed.

    python tools/graded_config.py _build/graded/_config.yml

It is ``_config.yml`` with sphinx-exercise's ``hide_solutions: True``, which drops each ``{solution}`` from the
document tree (nothing is left in the HTML to reveal), the execution cache of the ordinary book (so no notebook
runs again) and the local extensions' folders as absolute paths (Jupyter Book reads them relative to the
configuration file). ``make book-graded`` builds the book with it into ``_build/graded/_build/html``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def graded_config(config: dict) -> dict:
    """``config`` (the parsed ``_config.yml``) for the book without solutions."""
    sphinx = config.setdefault("sphinx", {})
    sphinx.setdefault("config", {})["hide_solutions"] = True
    sphinx["local_extensions"] = {
        name: str((ROOT / path).resolve()) for name, path in (sphinx.get("local_extensions") or {}).items()
    }
    config.setdefault("execute", {})["cache"] = str(ROOT / "_build" / ".jupyter_cache")
    return config


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    target = Path(argv[0])
    target.parent.mkdir(parents=True, exist_ok=True)
    config = graded_config(yaml.safe_load((ROOT / "_config.yml").read_text()))
    target.write_text(yaml.safe_dump(config, sort_keys=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
