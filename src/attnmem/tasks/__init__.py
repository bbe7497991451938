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


#: The most numbers one generated batch may hold: 2**28, 1 GiB as float32. The book's largest batches hold under
#: 10**7, so a request past this is a slip (``copy_task(10**10)``), refused before anything is allocated.
MAX_ELEMENTS = 1 << 28

#: The most examples a generator that builds them one at a time in Python makes in one call (bAbI questions,
#: sentence pairs, table questions): ten times the public bAbI 10k set, about a minute for the slowest task.
MAX_EXAMPLES = 100_000


def check_elements(what: str, elements: int, fix: str) -> None:
    """Refuse a batch of more than ``MAX_ELEMENTS`` numbers before allocating it; ``fix`` says what to shrink."""
    if elements > MAX_ELEMENTS:
        raise ValueError(
            f"{what} would hold {elements:,} numbers ({elements * 4 / 2**30:,.1f} GiB as float32), over the limit "
            f"of {MAX_ELEMENTS:,} (attnmem.tasks.MAX_ELEMENTS); {fix}"
        )


def check_examples(name: str, value: int) -> None:
    """``value`` is a positive int of at most ``MAX_EXAMPLES`` (the number of examples a generator builds)."""
    check_positive(**{name: value})
    if value > MAX_EXAMPLES:
        raise ValueError(
            f"{name}={value:,} is over the limit of {MAX_EXAMPLES:,} examples per call (attnmem.tasks.MAX_EXAMPLES); "
            f"generate them in several calls with different seeds"
        )
