"""A one-dimensional regression task for attention pooling (chapter 1).

Noisy samples of a smooth function on [0, 5]; the model must recover the function from the samples alone,
which is what Nadaraya (1964) and Watson (1964) kernel regression does, and what attention pooling generalises.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

from attnmem.tasks import check_elements, check_positive


class RegressionData(NamedTuple):
    x: Tensor  # (n,) sorted inputs in [0, 5]
    y: Tensor  # (n,) noisy targets
    truth: Tensor  # (n,) the noiseless function at x


def true_function(x: Tensor) -> Tensor:
    """The function the samples come from: a wave on a slope, f(x) = 2 sin(2x) + 0.6 x."""
    return 2 * torch.sin(2 * x) + 0.6 * x


def sample_regression(n: int, seed: int, noise: float = 0.5, low: float = 0.0, high: float = 5.0) -> RegressionData:
    """``n`` sorted uniform inputs on [low, high] and noisy targets ``f(x) + noise * N(0, 1)``."""
    check_positive(n=n)
    check_elements("this regression sample", 3 * n, "use a smaller n")
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(f"need finite low < high, got low={low}, high={high}")
    if not (math.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be a finite non-negative number, got {noise}")
    generator = torch.Generator().manual_seed(seed)
    x, _ = torch.sort(low + (high - low) * torch.rand(n, generator=generator))
    truth = true_function(x)
    return RegressionData(x=x, y=truth + noise * torch.randn(n, generator=generator), truth=truth)
