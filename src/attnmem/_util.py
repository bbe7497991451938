"""Small helpers every chapter uses: reproducible seeding, one torch thread, and showing a function's real source."""
from __future__ import annotations

import html
import inspect
import random
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and PyTorch so the same seed gives the same numbers on the same machine.

    Returns a ``torch.Generator`` seeded with ``seed`` for code that prefers an explicit generator.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


@contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one thread inside the block, and restore the thread count after it.

    The book's models are small: their tensors are too small to split between threads, and on a busy two-core
    machine two contending threads were measured up to ten times slower than one (an NTM training batch).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@dataclass(frozen=True)
class SourceCode:
    """The source of a Python object, shown highlighted in notebooks and as plain text elsewhere."""

    name: str
    code: str

    def __str__(self) -> str:
        return self.code

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.code)

    def _repr_html_(self) -> str:
        try:
            from pygments import highlight
            from pygments.formatters import HtmlFormatter
            from pygments.lexers import PythonLexer
        except ImportError:  # pragma: no cover - pygments ships with IPython
            return f"<pre>{html.escape(self.code)}</pre>"
        formatter = HtmlFormatter(noclasses=True, style="default", nowrap=False)
        body = highlight(self.code, PythonLexer(), formatter)
        return (
            f'<div class="attnmem-source" title="source of {html.escape(self.name)}" '
            f'style="font-size:0.85em;overflow-x:auto">{body}</div>'
        )


def show_source(obj: Any) -> SourceCode:
    """Return the real source of a function, class or method, rendered with syntax highlighting.

    >>> show_source(seed_everything)  # doctest: +SKIP
    """
    try:
        code = inspect.getsource(obj)
    except (TypeError, OSError) as error:
        raise TypeError(
            f"show_source needs a function, class or method defined in Python source; "
            f"got {type(obj).__name__} ({error})"
        ) from None
    name = getattr(obj, "__qualname__", getattr(obj, "__name__", type(obj).__name__))
    return SourceCode(name=name, code=textwrap.dedent(code).rstrip() + "\n")
