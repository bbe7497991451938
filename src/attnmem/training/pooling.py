"""Fitting chapter 1's kernel regression: the bandwidth learned by leave-one-out squared error, and its measurement."""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from attnmem.pooling import KernelRegression, leave_one_out_mask
from attnmem.tasks.regression import sample_regression, true_function
from attnmem.training import fit

__all__ = ["build_kernel_regression", "train_kernel_regression", "evaluate_kernel_regression"]


def build_kernel_regression(config: dict[str, Any]) -> nn.Module:
    """The ``KernelRegression`` a recipe's config describes, at its initial bandwidth."""
    return KernelRegression(config["initial_bandwidth"])


def train_kernel_regression(config: dict[str, Any], seed: int, progress: bool = True) -> tuple[nn.Module, dict]:
    """Fit the bandwidth by leave-one-out squared error on one noisy sample."""
    data = sample_regression(config["n_train"], seed, noise=config["noise"])
    model = KernelRegression(config["initial_bandwidth"])
    mask = leave_one_out_mask(len(data.x))

    def loss_fn(model: nn.Module, batch: Any) -> Tensor:
        prediction = model(data.x, data.x, data.y, mask).context
        return ((prediction - data.y) ** 2).mean()

    history = fit(model, loss_fn, [None], steps=config["steps"], lr=config["lr"], seed=seed, progress=progress,
                  desc="kernel regression")
    return model, {"steps": history.steps, "final_loss": history.train[-1]["loss"]}


def evaluate_kernel_regression(model: nn.Module, config: dict[str, Any], seed: int) -> dict[str, float]:
    """Mean squared error against the noiseless function, at 200 grid points, from a fresh noisy sample."""
    data = sample_regression(config["n_train"], seed, noise=config["noise"])
    grid = torch.linspace(0, 5, 200)
    estimate = model(grid, data.x, data.y).context
    return {"mse_vs_truth": float(((estimate - true_function(grid)) ** 2).mean()), "bandwidth": model.bandwidth}
