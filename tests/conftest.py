"""Shared test setup: torch seeded before every test, the repository's root and its benchmark scripts as fixtures,
the book first."""
from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Callable

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _seeded() -> None:
    torch.manual_seed(0)


@pytest.fixture
def root() -> Path:
    return ROOT


@pytest.fixture
def benchmark_script(monkeypatch) -> Callable[[str], ModuleType]:
    """Load ``benchmarks/NAME.py`` as a module, with its folder on the path for the script's own imports."""
    def load(name: str) -> ModuleType:
        monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
        spec = importlib.util.spec_from_file_location(f"{name}_benchmark", ROOT / "benchmarks" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    return load


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The book's tests first: its build (every chapter executed, then rendered, then the browser) is the longest
    chain of the run, so under `-n 2 --dist loadfile --no-loadscope-reorder` it starts at once on one worker while
    the other takes the rest; xdist's default order (files with the most tests first) left it for last."""
    items.sort(key=lambda item: item.nodeid.split("::")[0] != "tests/test_book.py")
