"""Shared test setup: torch seeded before every test, the repository's root as a fixture, the book first."""
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
    """The book's tests first: its build (every chapter executed, then rendered, then the browser) is the longest
    chain of the run, so under `-n 2 --dist loadfile --no-loadscope-reorder` it starts at once on one worker while
    the other takes the rest; xdist's default order (files with the most tests first) left it for last."""
    items.sort(key=lambda item: item.nodeid.split("::")[0] != "tests/test_book.py")
