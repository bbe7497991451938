"""Matplotlib helpers shared by every chapter: one heatmap for every attention or memory matrix."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

__all__ = ["as_matrix", "heatmap"]


def as_matrix(values: Any, name: str = "weights") -> np.ndarray:
    """A 2-D float NumPy array from a tensor, array or nested list; a clear error for anything else."""
    try:
        import torch

        if isinstance(values, torch.Tensor):
            values = values.detach().cpu().float().numpy()
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    array = np.asarray(values, dtype=float)
    if array.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D matrix (rows x columns), got shape {array.shape}; "
            f"select one example from a batch first, e.g. weights[0]"
        )
    if array.size == 0:
        raise ValueError(f"{name} is empty (shape {array.shape}); there is nothing to draw")
    return array


def heatmap(
    matrix: Any,
    x_labels: Sequence[str] | None = None,
    y_labels: Sequence[str] | None = None,
    *,
    ax: Any = None,
    title: str | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    cmap: str = "Blues",
    vmin: float | None = 0.0,
    vmax: float | None = None,
    colorbar: bool = True,
    annotate: bool = False,
) -> Any:
    """Draw a rows x columns matrix (attention weights, memory contents) and return the Axes.

    Rows are usually queries or target words and columns keys or source words; ``x_labels`` name the columns and
    ``y_labels`` the rows. ``annotate=True`` writes each value in its cell (for small matrices).
    """
    import matplotlib.pyplot as plt

    array = as_matrix(matrix)
    rows, cols = array.shape
    for labels, count, what in ((x_labels, cols, "x_labels (one per column)"), (y_labels, rows, "y_labels (one per row)")):
        if labels is not None and len(labels) != count:
            raise ValueError(f"{what}: got {len(labels)} labels for a matrix of shape {array.shape}")
    if ax is None:
        width = min(12.0, 1.6 + 0.32 * cols) if x_labels is not None else min(10.0, 2.5 + 0.12 * cols)
        height = min(10.0, 1.2 + 0.3 * rows) if y_labels is not None else min(8.0, 2.0 + 0.1 * rows)
        _, ax = plt.subplots(figsize=(max(width, 3.0), max(height, 2.0)))
    image = ax.imshow(array, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto", interpolation="nearest")
    if x_labels is not None:
        ax.set_xticks(range(cols))
        ax.set_xticklabels(x_labels, rotation=60 if max((len(str(s)) for s in x_labels), default=0) > 2 else 0,
                           ha="right" if max((len(str(s)) for s in x_labels), default=0) > 2 else "center")
    if y_labels is not None:
        ax.set_yticks(range(rows))
        ax.set_yticklabels(y_labels)
    if annotate:
        top = np.nanmax(array) if vmax is None else vmax
        for r in range(rows):
            for c in range(cols):
                ax.text(c, r, f"{array[r, c]:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if array[r, c] > 0.6 * top else "black")
    if title:
        ax.set_title(title)
    if xlabel:
        ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    if colorbar:
        ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    return ax
