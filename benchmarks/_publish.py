"""What every benchmark script does with its markdown: print it, and write it to ``--out`` when given."""
from __future__ import annotations

from pathlib import Path


def publish(markdown: str, out: str | Path | None) -> None:
    """Print ``markdown``; with ``out``, also write it there (making the folder if needed)."""
    print(markdown)
    if out:
        path = Path(out)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(markdown, encoding="utf-8")
