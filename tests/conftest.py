"""Shared test setup: torch seeded before every test, the repository's root as a fixture, the book's tests first."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _seeded() -> None:
    torch.manual_seed(0)


@pytest.fixture
def root() -> Path:
    return ROOT


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The book (build and browser, by far the longest file) first and the course kit (otter grading) last. With
    ``pytest -n 2 --dist loadfile --no-loadscope-reorder`` (``make test``) one worker starts on the book at once while
    the other works through the rest, instead of one worker building the book alone at the end. The kit comes last
    because its graders start Jupyter kernels two at a time: run beside the book's own kernels, one chapter's
    execution once stalled for five minutes."""
    def order(item: pytest.Item) -> int:
        return 0 if item.get_closest_marker("book") else 2 if item.get_closest_marker("course") else 1

    items.sort(key=order)
