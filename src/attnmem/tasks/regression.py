"""A one-dimensional regression task for attention pooling (chapter 1).

Noisy samples of a smooth function on [0, 5]; the model must recover the function from the samples alone,
which is what Nadaraya (1964) and Watson (1964) kernel regression does, and what attention pooling generalises.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor


class RegressionData(NamedTuple):
    x: Tensor  # (n,) sorted inputs in [0, 5]
    y: Tensor  # (n,) noisy targets
    truth: Tensor  # (n,) the noiseless function at x


def true_function(x: Tensor) -> Tensor:
    """The function the samples come from: a wave on a slope, f(x) = 2 sin(2x) + 0.6 x."""
    return 2 * torch.sin(2 * x) + 0.6 * x


def sample_regression(n: int, seed: int, noise: float = 0.5, low: float = 0.0, high: float = 5.0) -> RegressionData:
    """``n`` sorted uniform inputs on [low, high] and noisy targets ``f(x) + noise * N(0, 1)``."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if not high > low:
        raise ValueError(f"need low < high, got low={low}, high={high}")
    if noise < 0:
        raise ValueError(f"noise must be non-negative, got {noise}")
    generator = torch.Generator().manual_seed(seed)
    x, _ = torch.sort(low + (high - low) * torch.rand(n, generator=generator))
    truth = true_function(x)
    return RegressionData(x=x, y=truth + noise * torch.randn(n, generator=generator), truth=truth)
