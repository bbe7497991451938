"""Attention & Memory: the helper package of the course book.

Every chapter imports what earlier chapters built from here: score functions and ``attend`` (chapter 1),
the training loop and checkpoints, the zoo of pretrained models, and the plotting and explorer helpers.
"""
from __future__ import annotations

from attnmem._util import one_thread, seed_everything, show_source

__version__ = "0.1.0"
__all__ = ["__version__", "one_thread", "seed_everything", "show_source"]
