"""The pointer network's explorer (chapter 11): the pointer distribution over the points, step by step.

At every decoding step the points are drawn on the plane, sized and coloured by the probability the model gives
each of them; the path chosen so far is drawn through them and the true answer (the hull, or the optimal tour) is
dashed behind. Two models are shown side by side — the same pointer network with and without the mask of chosen
points — on examples the reader picks, failures included. In the book (no kernel) the steps are precomputed; live,
a slider and a switch redraw with the models.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
from torch import Tensor

from attnmem.pointer import PointerDecoding, Pointed
from attnmem.viz.explorer import Explorer, frame, frames_view, points_panel

__all__ = ["PointerExplorer"]


def _steps(pointed: Pointed) -> tuple[list[int], Tensor]:
    n = int(pointed.lengths[0])
    return pointed.indices[0, :n].tolist(), pointed.distributions[0, :n]


def _verdict(output: list[int], reference: list[int], closes: bool) -> str:
    ring = output[:-1] if closes and len(output) > 1 and output[-1] == output[0] else output
    repeats = len(ring) - len(set(ring))
    if repeats:
        return f"repeats {repeats} point{'s' if repeats > 1 else ''}"
    target = reference[:-1] if len(reference) > 1 and reference[-1] == reference[0] else reference
    if set(ring) == set(target) and len(ring) == len(target):
        return "right" if not closes or output[-1] == output[0] else "right points, not closed"
    return f"wrong: {len(set(ring) - set(target))} extra, {len(set(target) - set(ring))} missing"


class PointerExplorer(Explorer):
    """Step through the decoding of ``models`` (name -> a pointer model, shown side by side) on ``examples``
    (name -> points (n, 2)); ``references`` (name -> the true output's indices) is dashed behind."""

    title = "pointer network: where it points, step by step"

    def __init__(self, models: Mapping[str, PointerDecoding], examples: Mapping[str, Tensor],
                 references: Mapping[str, Sequence[int]]) -> None:
        if not models or not all(isinstance(m, PointerDecoding) for m in models.values()):
            raise TypeError("models must map names to pointer models (attnmem.pointer.PointerNetwork or "
                            "attnmem.set_pointer.SetPointerNetwork), e.g. "
                            "{'with the mask': zoo.load('pointer_hull')}")
        if not examples or set(examples) != set(references):
            raise ValueError("give at least one example, and one reference output per example (the same names)")
        for name, points in examples.items():
            if not isinstance(points, Tensor) or points.dim() != 2 or points.shape[1] != 2:
                raise ValueError(f"example {name!r}: points must be an (n, 2) tensor, got "
                                 f"{tuple(points.shape) if isinstance(points, Tensor) else type(points).__name__}")
        self.models = {name: model.eval() for name, model in models.items()}
        self.examples = dict(examples)
        self.references = {name: list(r) for name, r in references.items()}
        self.runs = {(e, m): self.run(model, points) for e, points in self.examples.items()
                     for m, model in self.models.items()}

    @staticmethod
    def run(model: PointerDecoding, points: Tensor) -> tuple[list[int], Tensor]:
        """Greedy decoding of one example: the chosen indices and the distribution of each step."""
        with torch.no_grad():
            return _steps(model.greedy(points.unsqueeze(0), torch.tensor([points.shape[0]])))

    def verdicts(self) -> dict[tuple[str, str], str]:
        """(example, model) -> a few words on the model's whole output."""
        return {(e, m): _verdict(self.runs[e, m][0], self.references[e], self.models[m].closes) for e, m in self.runs}

    def _panel(self, example: str, model: str, step: int) -> dict:
        output, distributions = self.runs[example, model]
        points, closes = self.examples[example], self.models[model].closes
        if step >= len(output):  # this model finished earlier: show its whole output
            return points_panel(points, title=f"{model}: finished — {self.verdicts()[example, model]}",
                                path=output, closed=not closes, reference=self.references[example],
                                width=300)
        chosen = output[step]
        seen = chosen in output[:step] and not (closes and step > 0 and chosen == output[0])
        note = " (again!)" if seen else " (closes)" if closes and step > 0 and chosen == output[0] else ""
        return points_panel(points, weights=distributions[step], max_value=1.0, path=output[: step + 1],
                            reference=self.references[example], highlight=[chosen], width=300,
                            title=f"{model}: points at {chosen}{note}, p = {float(distributions[step, chosen]):.2f}")

    def view_spec(self) -> dict:
        verdicts = self.verdicts()
        examples = []
        for example in self.examples:
            steps = max(len(self.runs[example, m][0]) for m in self.models)
            frames = [frame(f"step {t + 1}", [self._panel(example, m, t) for m in self.models],
                            text="; ".join(f"{m}: {verdicts[example, m]}" for m in self.models))
                      for t in range(steps)]
            examples.append({"name": f"{example} (n = {self.examples[example].shape[0]})", "frames": frames})
        return frames_view(examples, title=self.title, frame_label="step", example_label="points",
                           caption="Each point's size and colour is the probability the model points at it; the "
                                   "dark path is the output so far, the dashed one the true answer; one panel per "
                                   "model, named in its title.")

    def _draw(self, ax: Any, example: str, model: str, step: int) -> None:
        output, distributions = self.runs[example, model]
        points = self.examples[example].numpy()
        reference = self.references[example]
        ring = points[reference + reference[:1]]
        ax.plot(ring[:, 0], ring[:, 1], "--", color="0.6", lw=1)
        shown = output[: min(step, len(output) - 1) + 1]
        path = points[shown]
        ax.plot(path[:, 0], path[:, 1], "-", color="0.1", lw=1.5)
        weights = distributions[min(step, len(output) - 1)].numpy()
        ax.scatter(points[:, 0], points[:, 1], s=12 + 220 * weights, c=weights, cmap="Blues", vmin=0, vmax=1,
                   edgecolors="0.25", linewidths=0.5, zorder=3)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{model}: step {min(step, len(output) - 1) + 1} of {len(output)}", fontsize=9)

    def figure(self, example: str | None = None, step: int | None = None) -> Any:
        import matplotlib.pyplot as plt

        example = example or next(iter(self.examples))
        fig, axes = plt.subplots(1, len(self.models), figsize=(3.3 * len(self.models), 3.4), squeeze=False)
        for ax, model in zip(axes[0], self.models):
            self._draw(ax, example, model, len(self.runs[example, model][0]) if step is None else step)
        fig.suptitle(example, fontsize=10)
        fig.tight_layout()
        return fig

    def controls(self) -> dict[str, Any]:
        import ipywidgets as widgets

        longest = max(len(output) for output, _ in self.runs.values())
        return {
            "example": widgets.Dropdown(options=list(self.examples), description="points"),
            "step": widgets.IntSlider(value=0, min=0, max=longest - 1, description="step"),
        }

    def draw_live(self, example: str = "", step: int = 0) -> None:
        import matplotlib.pyplot as plt

        self.figure(example or None, step)
        plt.show()
