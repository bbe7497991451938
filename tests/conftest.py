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
    """The longest files first: the book (build and browser) and the course kit (otter grading). With ``pytest -n 2
    --dist loadfile --no-loadscope-reorder`` (``make test``) each worker starts on one of them at once and then shares
    out everything else, instead of one worker building the book alone at the end."""
    def order(item: pytest.Item) -> int:
        return 0 if item.get_closest_marker("book") else 1 if item.get_closest_marker("course") else 2

    items.sort(key=order)
