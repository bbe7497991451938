"""The chapter 8 explorer: how long an adaptive network ponders on each parity input, and why it stops.

``PonderExplorer`` shows, for chosen parity vectors, the halting probabilities p^1, p^2, ... filling the budget
of one step by step (Graves 2016, Section 2), the remainder on the last step, and the answer; and, over many
random inputs, the mean number of steps against the number of non-zero entries. Live, type an input such as
``+-0+--+``. Everything comes from the ``ACTOutput`` the model returns.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from attnmem.act import ACTOutput
from attnmem.tasks.algorithmic import parity_batch, parity_from_string
from attnmem.viz.explorer import Explorer, bars_panel, frame, frames_view, text_panel

__all__ = ["PonderExplorer", "steps_by_nonzeros", "DEFAULT_INPUTS"]

DEFAULT_INPUTS = ("+", "+-", "+0-0+", "++-+-0-+", "+-+-+-+-+-+-", "++++-+++-+++-+-+")


def steps_by_nonzeros(model: nn.Module, length: int, n: int = 4000, seed: int = 0) -> torch.Tensor:
    """Mean ponder steps N for each number of non-zero entries 1..length, over ``n`` random parity inputs."""
    batch = parity_batch(n, length, seed)
    with torch.no_grad():
        steps = model(batch.inputs).steps.squeeze(1).float()
    means = torch.zeros(length)
    for k in range(1, length + 1):
        chosen = batch.nonzeros == k
        means[k - 1] = steps[chosen].mean() if bool(chosen.any()) else float("nan")
    return means


def _symbols(values: torch.Tensor) -> str:
    return "".join({1.0: "+", -1.0: "-"}.get(float(v), "0") for v in values)


class PonderExplorer(Explorer):
    """Pick a parity input; watch the halting probabilities fill the budget of one, ponder step by ponder step.

    ``model`` is an ``AdaptiveRNN`` (or ``FixedStepRNN``) for parity vectors of ``length``; ``inputs`` are
    strings of ``+``, ``-`` and ``0`` (see ``parity_from_string``).
    """

    title = "Adaptive computation time: ponder steps and halting probabilities"

    def __init__(self, model: nn.Module, length: int, inputs: Sequence[str] = DEFAULT_INPUTS, seed: int = 0) -> None:
        if not inputs:
            raise ValueError("give at least one parity input, such as '+-0+'")
        self.model, self.length = model.eval(), length
        self.inputs = [_symbols(parity_from_string(text, length).inputs[0, 0]) for text in inputs]
        self.by_nonzeros = steps_by_nonzeros(model, length, seed=seed)

    def run(self, text: str) -> tuple[ACTOutput, float]:
        """The model's ``ACTOutput`` on one typed input, and the true parity bit."""
        batch = parity_from_string(text, self.length)
        with torch.no_grad():
            return self.model(batch.inputs), float(batch.targets)

    def _describe(self, text: str, result: ACTOutput, target: float) -> str:
        probability = float(torch.sigmoid(result.outputs[0, 0, 0]))
        answer = "odd" if probability > 0.5 else "even"
        truth = "odd" if target == 1.0 else "even"
        steps, cap = int(result.steps[0, 0]), getattr(self.model, "max_steps", None)
        halted = ("ran into the cap" if steps == cap else f"halted by itself, the cap is {cap}"
                  if cap else "a fixed number of steps")
        return (f"input {text}: {int((parity_from_string(text, self.length).inputs != 0).sum())} non-zero, "
                f"answer {answer} (p = {probability:.2f}), truth {truth}; N = {steps} steps ({halted}), "
                f"remainder R = {float(result.remainders[0, 0]):.3f}")

    def _frames(self, text: str) -> list[dict]:
        result, target = self.run(text)
        steps = int(result.steps[0, 0])
        p = result.halting[0, 0, :steps]
        labels = [str(n) for n in range(1, steps + 1)]
        frames = []
        for n in range(1, steps + 1):
            shown = torch.where(torch.arange(steps) < n, p, torch.zeros_like(p))
            spent = float(p[:n].sum())
            note = "the remainder R" if n == steps else f"h = {float(p[n - 1]):.3f}"
            frames.append(frame(f"step {n}", [
                bars_panel(shown, title="halting probability p^n", labels=labels, max_value=1.0, highlight=[n - 1],
                           label_title="ponder step n"),
                bars_panel([spent, 1.0 - spent], title="budget of one", labels=["spent", "left"], max_value=1.0),
            ], text=f"step {n} of {steps}: {note}; spent {spent:.3f} of 1. " + self._describe(text, result, target)))
        return frames

    def view_spec(self) -> dict:
        examples = [{"name": text, "frames": self._frames(text)} for text in self.inputs]
        labels = [str(k) for k in range(1, self.length + 1)]
        examples.append({"name": "all inputs: steps vs non-zero entries", "frames": [frame("mean steps", [
            bars_panel(torch.nan_to_num(self.by_nonzeros), title="mean ponder steps N by number of non-zero entries",
                       labels=labels, wide=True, value_label="mean steps N",
                       label_title="non-zero entries in the input"),
            text_panel("Harder inputs (more non-zero entries) get more ponder steps if the bars rise to the right.",
                       title="reading it"),
        ])]})
        return frames_view(examples, title=self.title, frame_label="ponder step", example_label="input",
                           caption="Pick an input and step through its ponder steps; the last bar is the remainder.")

    def figure(self) -> Any:
        import matplotlib.pyplot as plt

        fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.4))
        width = 0.8 / len(self.inputs)
        for i, text in enumerate(self.inputs):
            result, _ = self.run(text)
            steps = int(result.steps[0, 0])
            left.bar([n + 1 + (i - len(self.inputs) / 2) * width for n in range(steps)],
                     result.halting[0, 0, :steps].tolist(), width=width, label=f"{text} (N={steps})")
        left.set_xlabel("ponder step n")
        left.set_ylabel("halting probability $p^n$")
        left.legend(fontsize=7, frameon=False)
        right.bar(range(1, self.length + 1), torch.nan_to_num(self.by_nonzeros).tolist(), color="C1")
        right.set_xlabel("non-zero entries in the input")
        right.set_ylabel("mean ponder steps N")
        fig.tight_layout()
        return fig

    def controls(self) -> dict[str, Any]:
        import ipywidgets as widgets

        return {"text": widgets.Text(value=self.inputs[-1], description="input", continuous_update=False,
                                     placeholder="+, - and 0, e.g. +-0+--+")}

    def draw_live(self, text: str) -> None:
        import matplotlib.pyplot as plt

        try:
            result, target = self.run(text)
        except ValueError as error:
            print(error)
            return
        steps = int(result.steps[0, 0])
        _, ax = plt.subplots(figsize=(6, 2.8))
        ax.bar(range(1, steps + 1), result.halting[0, 0, :steps].tolist(), color="C0")
        ax.set_ylim(0, 1)
        ax.set_xlabel("ponder step n")
        ax.set_ylabel("$p^n$")
        ax.set_title(self._describe(_symbols(parity_from_string(text, self.length).inputs[0, 0]), result, target),
                     fontsize=8)
        plt.show()
