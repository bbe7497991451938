"""Data for the book's tasks: every generator is deterministic under a seed; loaders read public formats."""
from __future__ import annotations

import torch


def generator_from(seed: int | torch.Generator) -> torch.Generator:
    """A ``torch.Generator`` from a seed (a non-negative int), or the generator itself when given one."""
    if isinstance(seed, torch.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int or a torch.Generator, got {seed!r}")
    return torch.Generator().manual_seed(seed)


def check_positive(**values: int) -> None:
    """Raise a clear ValueError for any size that is not a positive int (``check_positive(batch_size=0)``)."""
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
