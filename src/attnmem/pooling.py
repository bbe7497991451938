"""Attention pooling as kernel regression (chapter 1).

Nadaraya (1964) and Watson (1964) estimate f(x) as a weighted mean of observed targets y_i, with weights from a
kernel K(x - x_i) normalised to sum to one. With a Gaussian kernel of bandwidth w the weights are exactly a
softmax of the scores -(x - x_i)^2 / (2 w^2): the query is x, the keys are the x_i and the values the y_i.
Making w a learned parameter turns the classic estimator into the smallest trainable attention model.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from attnmem.attention import Attended, attend
from attnmem.tasks.regression import sample_regression

__all__ = [
    "gaussian_kernel_scores",
    "nadaraya_watson",
    "leave_one_out_mask",
    "KernelRegression",
    "KERNEL_REGRESSION_RECIPE",
]


def _as_points(name: str, x: Tensor) -> Tensor:
    if not isinstance(x, Tensor) or x.dim() != 1:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"{name} must be a 1-D tensor of scalar inputs, got {shape}")
    if x.numel() == 0:
        raise ValueError(f"{name} is empty: kernel regression needs at least one point")
    return x.float().unsqueeze(-1)  # (n, 1): one feature per point


def gaussian_kernel_scores(query: Tensor, keys: Tensor, bandwidth: Tensor | float = 1.0) -> Tensor:
    """Scores -(q - k)^2 / (2 w^2) for column vectors ``query`` (Q, 1) and ``keys`` (K, 1): shape (Q, K)."""
    bandwidth = torch.as_tensor(bandwidth, dtype=query.dtype)
    if bool((bandwidth <= 0).any()):
        raise ValueError(f"bandwidth must be positive, got {bandwidth}")
    distance = query - keys.transpose(-1, -2)
    return -0.5 * (distance / bandwidth) ** 2


def nadaraya_watson(
    x_query: Tensor, x_train: Tensor, y_train: Tensor, bandwidth: Tensor | float = 1.0, mask: Tensor | None = None
) -> Attended:
    """Nadaraya–Watson estimate at ``x_query`` from ``(x_train, y_train)`` with a Gaussian kernel.

    Returns ``Attended(context, weights)``: ``context`` is the estimate (Q,), ``weights`` the (Q, K) attention.
    """
    query, keys, values = _as_points("x_query", x_query), _as_points("x_train", x_train), _as_points("y_train", y_train)
    if keys.shape[0] != values.shape[0]:
        raise ValueError(f"x_train has {keys.shape[0]} points but y_train has {values.shape[0]}; pair them up")
    context, weights = attend(query, keys, values, mask, score=lambda q, k: gaussian_kernel_scores(q, k, bandwidth))
    return Attended(context=context.squeeze(-1), weights=weights)


def leave_one_out_mask(n: int) -> Tensor:
    """A (n, n) mask that hides each training point from itself, so a bandwidth of zero cannot win by copying."""
    return ~torch.eye(n, dtype=torch.bool)


class KernelRegression(nn.Module):
    """Nadaraya–Watson regression with a learned bandwidth: attention pooling with one parameter."""

    def __init__(self, bandwidth: float = 1.0) -> None:
        super().__init__()
        if bandwidth <= 0:
            raise ValueError(f"bandwidth must be positive, got {bandwidth}")
        self.log_bandwidth = nn.Parameter(torch.tensor(float(bandwidth)).log())

    @property
    def bandwidth(self) -> float:
        return float(self.log_bandwidth.detach().exp())

    def forward(self, x_query: Tensor, x_train: Tensor, y_train: Tensor, mask: Tensor | None = None) -> Attended:
        return nadaraya_watson(x_query, x_train, y_train, self.log_bandwidth.exp(), mask)


def train_kernel_regression(config: dict[str, Any], seed: int, progress: bool = True) -> tuple[nn.Module, dict]:
    """Fit the bandwidth by leave-one-out squared error on one noisy sample."""
    from attnmem.training import fit

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
    from attnmem.tasks.regression import true_function

    data = sample_regression(config["n_train"], seed, noise=config["noise"])
    grid = torch.linspace(0, 5, 200)
    estimate = model(grid, data.x, data.y).context
    return {"mse_vs_truth": float(((estimate - true_function(grid)) ** 2).mean()), "bandwidth": model.bandwidth}


def _build(config: dict[str, Any]) -> nn.Module:
    return KernelRegression(config["initial_bandwidth"])


def _recipe() -> Any:
    from attnmem.zoo import Recipe

    return Recipe(
        name="kernel_regression",
        summary="Nadaraya–Watson attention pooling with a learned bandwidth (chapter 1)",
        chapter="01_attention_as_soft_lookup",
        config={"n_train": 100, "noise": 0.5, "initial_bandwidth": 2.0, "steps": 150, "lr": 0.05},
        seed=1,
        build=_build,
        train=train_kernel_regression,
        evaluate=evaluate_kernel_regression,
        tolerance={"mse_vs_truth": 0.15, "bandwidth": 1e-6},
    )


KERNEL_REGRESSION_RECIPE = _recipe()
