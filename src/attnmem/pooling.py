"""Attention pooling as kernel regression (chapter 1).

Nadaraya (1964) and Watson (1964) estimate f(x) as a weighted mean of observed targets y_i, with weights from a
kernel K(x - x_i) normalised to sum to one. With a Gaussian kernel of bandwidth w the weights are exactly a
softmax of the scores -(x - x_i)^2 / (2 w^2): the query is x, the keys are the x_i and the values the y_i.
Making w a learned parameter turns the classic estimator into the smallest trainable attention model.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from attnmem.attention import Attended, attend

__all__ = [
    "gaussian_kernel_scores",
    "nadaraya_watson",
    "leave_one_out_mask",
    "KernelRegression",
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
