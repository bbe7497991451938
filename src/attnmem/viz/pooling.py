"""The chapter 1 explorer: which training points does a query attend to, and how does the bandwidth change it?"""
from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import Tensor

from attnmem.pooling import nadaraya_watson
from attnmem.viz.explorer import Explorer, alignment_example, alignment_view
from attnmem.viz.plots import heatmap

__all__ = ["KernelRegressionExplorer"]


class KernelRegressionExplorer(Explorer):
    """Nadaraya–Watson attention: queries on a grid attend over the training points ``(x_train, y_train)``.

    ``bandwidths`` maps a name ("narrow", "learned", ...) to a bandwidth; each becomes one example of the static
    view. Live, two sliders move the query and change the bandwidth.
    """

    title = "attention pooling: queries and their weights over the training points"

    def __init__(self, x_train: Tensor, y_train: Tensor, bandwidths: dict[str, float],
                 queries: Sequence[float] | Tensor | None = None) -> None:
        if not bandwidths:
            raise ValueError("give at least one bandwidth, e.g. {'learned': 0.3}")
        self.x_train, self.y_train = x_train.float(), y_train.float()
        self.bandwidths = dict(bandwidths)
        low, high = float(self.x_train.min()), float(self.x_train.max())
        self.queries = torch.as_tensor(queries if queries is not None else torch.linspace(low, high, 9)).float()
        nadaraya_watson(self.queries, self.x_train, self.y_train, 1.0)  # fail early on bad shapes

    def _weights(self, bandwidth: float) -> tuple[Tensor, Tensor]:
        estimate, weights = nadaraya_watson(self.queries, self.x_train, self.y_train, bandwidth)
        return estimate, weights

    def view_spec(self) -> dict:
        examples = []
        for name, bandwidth in self.bandwidths.items():
            estimate, weights = self._weights(bandwidth)
            examples.append(alignment_example(
                f"{name} (w = {bandwidth:.2g})",
                [f"{q:.2f}" for q in self.queries.tolist()],
                [f"{x:.1f}" for x in self.x_train.tolist()],
                weights,
                row_notes=[f"estimate {e:.2f}" for e in estimate.tolist()],
                note="Columns are the training inputs x_i (their targets y_i are the values); rows are queries.",
            ))
        return alignment_view(examples, title=self.title, row_label="query x", col_label="key x_i",
                              example_label="bandwidth",
                              hint="Hover over a query to light up the training points it averages.")

    def figure(self) -> Any:
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 2, figsize=(10, 3.4), gridspec_kw={"width_ratios": [1, 1.3]})
        grid = torch.linspace(float(self.x_train.min()), float(self.x_train.max()), 200)
        axes[0].scatter(self.x_train, self.y_train, s=10, color="0.5", label="training points")
        for i, (name, bandwidth) in enumerate(self.bandwidths.items()):
            estimate = nadaraya_watson(grid, self.x_train, self.y_train, bandwidth).context
            axes[0].plot(grid, estimate, color=f"C{i}", label=f"{name} (w = {bandwidth:.2g})")
        axes[0].set_xlabel("x")
        axes[0].legend(frameon=False, fontsize=8)
        axes[0].set_title("estimates")
        name, bandwidth = list(self.bandwidths.items())[-1]
        heatmap(self._weights(bandwidth)[1], y_labels=[f"{q:.2f}" for q in self.queries.tolist()], ax=axes[1],
                title=f"weights, {name}", xlabel="training point (sorted by x)", ylabel="query x")
        fig.tight_layout()
        return fig

    def controls(self) -> dict[str, Any]:
        import ipywidgets as widgets

        low, high = float(self.x_train.min()), float(self.x_train.max())
        first = list(self.bandwidths.values())[-1]
        return {
            "query": widgets.FloatSlider(value=(low + high) / 2, min=low, max=high, step=0.05, description="query x"),
            "bandwidth": widgets.FloatLogSlider(value=first, base=10, min=-2, max=0.7, step=0.02,
                                                description="bandwidth"),
        }

    def draw_live(self, query: float = 2.5, bandwidth: float = 0.5) -> None:
        import matplotlib.pyplot as plt

        grid = torch.linspace(float(self.x_train.min()), float(self.x_train.max()), 200)
        curve = nadaraya_watson(grid, self.x_train, self.y_train, bandwidth).context
        estimate, weights = nadaraya_watson(torch.tensor([query]), self.x_train, self.y_train, bandwidth)
        fig, ax = plt.subplots(figsize=(7, 3.2))
        ax.scatter(self.x_train, self.y_train, s=10 + 400 * weights[0], c=weights[0], cmap="Blues",
                   edgecolors="0.4", linewidths=0.3)
        ax.plot(grid, curve, color="C1", label="estimate")
        ax.axvline(query, color="C3", lw=1)
        ax.plot([query], [float(estimate[0])], "o", color="C3", label=f"f({query:.2f}) ≈ {float(estimate[0]):.2f}")
        ax.set_title(f"the query attends to {int((weights[0] > 0.01).sum())} points with weight > 1%")
        ax.legend(frameon=False, fontsize=8)
        plt.show()
