"""Shared test setup: a small, fixed torch thread count so timings and results are steady on 2 cores."""
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
