"""The NTM chapters' explorers: the addressing pipeline, and a trained machine's heads moving over time.

- ``AddressingExplorer`` (chapter 6) is the figure of Graves et al. (2014, Figure 2) made interactive: a memory,
  a key, a previous weighting, and the four stages content -> interpolation -> shift -> sharpening. Live, sliders
  set beta, g, the shift and gamma; in the book, the reader flips through preset settings stage by stage.
- ``HeadWeightsExplorer`` (chapter 7) shows where a trained NTM writes and reads at each step of a copy (the
  paper's Figure 6): scrub through time and watch the write head lay the sequence down and the read head replay it.

Both compute only through ``attnmem.ntm``'s functions and the data an ``NTMOutput`` returns.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import Tensor

from attnmem.ntm import NTM, Addressing, HeadParameters, address
from attnmem.tasks.algorithmic import copy_task
from attnmem.viz.explorer import Explorer, bars_panel, frame, frames_view, matrix_panel, text_panel
from attnmem.viz.plots import heatmap

__all__ = ["shift_distribution", "AddressingExplorer", "HeadWeightsExplorer", "DEFAULT_PRESETS"]

STAGES = ("content", "gated", "shifted", "weights")
STAGE_TITLES = {"content": "1. content", "gated": "2. interpolation", "shifted": "3. shift", "weights": "4. sharpen"}

#: Preset settings for the static view: each shows one thing an addressing stage can do.
DEFAULT_PRESETS: dict[str, dict[str, float]] = {
    "find by content": {"beta": 20.0, "g": 1.0, "shift": 0.0, "gamma": 1.0},
    "step forward from last time": {"beta": 5.0, "g": 0.0, "shift": 1.0, "gamma": 1.0},
    "blurred shift, then sharpened": {"beta": 5.0, "g": 0.0, "shift": 0.3, "gamma": 8.0},
    "content, then one step on": {"beta": 30.0, "g": 1.0, "shift": 1.0, "gamma": 1.0},
    "weak key: flat content weights": {"beta": 1.0, "g": 1.0, "shift": 0.0, "gamma": 1.0},
}


def shift_distribution(amount: float) -> Tensor:
    """A shift distribution over -1, 0, +1 that moves by ``amount`` in [-1, 1], split between two neighbours.

    0.3 gives [0, 0.7, 0.3]: 70% stays, 30% moves one location forward — a blurred shift.
    """
    if not -1.0 <= amount <= 1.0:
        raise ValueError(f"the shift amount must be in [-1, 1] (one location back to one forward), got {amount}")
    weights = torch.zeros(3)
    weights[1] = 1.0 - abs(amount)
    weights[2 if amount > 0 else 0] += abs(amount)
    return weights


def _check_setting(name: str, setting: dict[str, float]) -> None:
    missing = {"beta", "g", "shift", "gamma"} - set(setting)
    if missing:
        raise ValueError(f"setting {name!r} lacks {sorted(missing)}; give beta, g, shift and gamma")
    if setting["beta"] < 0 or not 0 <= setting["g"] <= 1 or setting["gamma"] < 1:
        raise ValueError(f"setting {name!r} is out of range: need beta >= 0, 0 <= g <= 1, gamma >= 1, got {setting}")


class AddressingExplorer(Explorer):
    """One head addressing one memory: every stage of the pipeline, for preset or live settings.

    ``memory`` (N, W), ``key`` (W,), ``previous`` (N,) the head's weighting at the last step. ``presets`` maps a
    name to ``{"beta", "g", "shift", "gamma"}`` (``shift`` in [-1, 1], see ``shift_distribution``).
    """

    title = "NTM addressing: content -> interpolation -> shift -> sharpening"

    def __init__(self, memory: Tensor, key: Tensor, previous: Tensor,
                 presets: dict[str, dict[str, float]] | None = None) -> None:
        if memory.dim() != 2 or key.shape != (memory.shape[1],) or previous.shape != (memory.shape[0],):
            raise ValueError(f"need memory (N, W), key (W,) and previous (N,); got {tuple(memory.shape)}, "
                             f"{tuple(key.shape)} and {tuple(previous.shape)}")
        if memory.shape[0] < 2:
            raise ValueError("the memory needs at least two locations to shift between")
        self.memory, self.key, self.previous = memory.float(), key.float(), previous.float()
        self.presets = dict(presets or DEFAULT_PRESETS)
        if not self.presets:
            raise ValueError("give at least one preset setting")
        for name, setting in self.presets.items():
            _check_setting(name, setting)

    def stages(self, beta: float, g: float, shift: float, gamma: float) -> Addressing:
        """All four stages for one setting, computed with ``attnmem.ntm.address``."""
        _check_setting("live", {"beta": beta, "g": g, "shift": shift, "gamma": gamma})
        params = HeadParameters(self.key.view(1, 1, -1), torch.tensor([[float(beta)]]), torch.tensor([[float(g)]]),
                                shift_distribution(shift).view(1, 1, 3), torch.tensor([[float(gamma)]]))
        result = address(self.memory.unsqueeze(0), params, self.previous.view(1, 1, -1))
        return Addressing(*(stage[0, 0] for stage in result))

    def _describe(self, setting: dict[str, float]) -> str:
        return (f"beta = {setting['beta']:g}, g = {setting['g']:g}, shift = {setting['shift']:+g}, "
                f"gamma = {setting['gamma']:g}")

    def view_spec(self) -> dict:
        labels = [str(i) for i in range(self.memory.shape[0])]
        examples = []
        for name, setting in self.presets.items():
            result = self.stages(**setting)
            inputs = {"content": ("key vs memory rows", None), "gated": ("previous weighting", self.previous),
                      "shifted": ("after interpolation", result.gated), "weights": ("after the shift", result.shifted)}
            frames = [frame("memory and key", [
                matrix_panel(self.memory, title="memory M (rows = locations)", row_labels=labels, wide=False),
                bars_panel(self.key, title="key k"),
                bars_panel(self.previous, title="previous weighting", labels=labels, max_value=1.0),
            ], text=self._describe(setting))]
            for stage, value in zip(STAGES, result):
                panels = []
                before_title, before = inputs[stage]
                if before is not None:
                    panels.append(bars_panel(before, title=before_title, labels=labels, max_value=1.0))
                panels.append(bars_panel(value, title=STAGE_TITLES[stage], labels=labels, max_value=1.0,
                                         highlight=[int(value.argmax())]))
                frames.append(frame(STAGE_TITLES[stage], panels, text=self._describe(setting)))
            frames.append(frame("final weighting", [
                bars_panel(value, title=STAGE_TITLES[stage], labels=labels, max_value=1.0)
                for stage, value in zip(STAGES, result)
            ], text=self._describe(setting)))
            examples.append({"name": name, "frames": frames})
        return frames_view(examples, title=self.title, frame_label="stage", example_label="setting",
                           caption="Pick a setting, then step through the stages of one addressing step.")

    def _plot_row(self, axes: Sequence[Any], result: Addressing, label: str) -> None:
        locations = range(self.memory.shape[0])
        for ax, stage, value in zip(axes, STAGES, result):
            ax.bar(locations, value.tolist(), color="C0")
            ax.set_ylim(0, 1)
            ax.set_title(f"{STAGE_TITLES[stage]}", fontsize=9)
            ax.set_xticks(list(locations))
            ax.tick_params(labelsize=7)
        axes[0].set_ylabel(label, fontsize=8)

    def figure(self) -> Any:
        import matplotlib.pyplot as plt

        rows = len(self.presets)
        fig, axes = plt.subplots(rows, 5, figsize=(12, 1.9 * rows + 0.4), squeeze=False,
                                 gridspec_kw={"width_ratios": [1.1, 1, 1, 1, 1]})
        for i, (name, setting) in enumerate(self.presets.items()):
            heatmap(self.memory, ax=axes[i, 0], colorbar=False, vmin=None, title="memory" if i == 0 else None)
            self._plot_row(axes[i, 1:], self.stages(**setting), f"{name}\n{self._describe(setting)}")
            axes[i, 1].set_ylabel(name, fontsize=8)
        fig.tight_layout()
        return fig

    def controls(self) -> dict[str, Any]:
        import ipywidgets as widgets

        first = next(iter(self.presets.values()))
        return {
            "beta": widgets.FloatLogSlider(value=max(first["beta"], 0.1), base=10, min=-1, max=2, step=0.05,
                                           description="β (key strength)"),
            "g": widgets.FloatSlider(value=first["g"], min=0, max=1, step=0.05, description="g (gate)"),
            "shift": widgets.FloatSlider(value=first["shift"], min=-1, max=1, step=0.05, description="shift"),
            "gamma": widgets.FloatSlider(value=first["gamma"], min=1, max=20, step=0.5, description="γ (sharpen)"),
        }

    def draw_live(self, beta: float = 5.0, g: float = 1.0, shift: float = 0.0, gamma: float = 1.0) -> None:
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 5, figsize=(12, 2.4))
        locations = range(self.memory.shape[0])
        axes[0].bar(locations, self.previous.tolist(), color="0.6")
        axes[0].set_ylim(0, 1)
        axes[0].set_title("previous weighting", fontsize=9)
        self._plot_row(axes[1:], self.stages(beta, g, shift, gamma), "weight")
        fig.suptitle(self._describe({"beta": beta, "g": g, "shift": shift, "gamma": gamma}), fontsize=9)
        fig.tight_layout()
        plt.show()


class HeadWeightsExplorer(Explorer):
    """Where a trained NTM writes and reads at every step of copying sequences of the given ``lengths``.

    The model runs once per length on a copy input (seeded); its ``NTMOutput`` gives the weightings. Each run keeps
    the full weightings (``run["write"]``, ``run["read"]``: locations x steps, so their ``argmax(0)`` are locations)
    and ``run["locations"]``, the locations the heads focus on: the only rows the views show, labelled by location.
    The static view shows, per step, the write and read weightings so far (the current step marked) and the bits
    going in and coming out. ``figure()`` shows one copy of ``figure_length``.
    """

    title = "NTM copy: write and read weightings over time"

    def __init__(self, model: NTM, lengths: Sequence[int] = (6, 10), seed: int = 0, width: int = 8,
                 figure_length: int = 20) -> None:
        if not isinstance(model, NTM):
            raise TypeError(f"HeadWeightsExplorer needs an attnmem.ntm.NTM, got {type(model).__name__}")
        if not lengths:
            raise ValueError("give at least one sequence length, e.g. lengths=(6, 10)")
        if model.input_size != width + 1:
            raise ValueError(f"the model reads {model.input_size} input channels but copy inputs of width {width} "
                             f"have {width + 1}; pass the width the model was trained with")
        self.model, self.seed, self.width = model.eval(), seed, width
        if max(lengths) > 16:
            raise ValueError(f"the static view keeps every step of every length; lengths up to 16 keep it small, "
                             f"got {max(lengths)} (use figure_length for a longer sequence in the figure)")
        self.runs = {int(length): self._run(int(length)) for length in lengths}
        self.figure_length = int(figure_length)
        self.figure_run = self._run(self.figure_length)

    def _run(self, length: int) -> dict[str, Tensor]:
        batch = copy_task(1, length, length, width=self.width, seed=self.seed + length)
        with torch.no_grad():
            out = self.model(batch.inputs, memory_size=max(self.model.memory_size, 2 * length + 2))
        write, read = out.write_weights[0, :, 0].T, out.read_weights[0, :, 0].T  # (N, T)
        # the locations the heads focus on while they work (writing the input, reading it back): what the views show
        keep = torch.cat([write[:, : length + 1].argmax(0), read[:, length + 1 :].argmax(0)]).unique()
        return {"inputs": batch.inputs[0, :, : self.width], "delimiter": batch.inputs[0, :, self.width],
                "targets": batch.targets[0], "outputs": torch.sigmoid(out.logits[0]), "mask": batch.mask[0],
                "write": write, "read": read, "locations": keep}

    @staticmethod
    def _bits(values: Tensor) -> str:
        return "".join("1" if v > 0.5 else "0" for v in values.tolist())

    def _step_text(self, run: dict[str, Tensor], t: int) -> str:
        if run["delimiter"][t] > 0:
            seen = "delimiter"
        elif run["mask"][t]:
            seen = "(blank)"
        else:
            seen = self._bits(run["inputs"][t]) if run["inputs"][t].any() else "(blank)"
        line = f"step {t}: input {seen}"
        if run["mask"][t]:
            wrong = int(((run["outputs"][t] > 0.5).float() != run["targets"][t]).sum())
            line += f"  | target {self._bits(run['targets'][t])}  output {self._bits(run['outputs'][t])}"
            line += "  (correct)" if wrong == 0 else f"  ({wrong} wrong bits)"
        return line

    def view_spec(self) -> dict:
        examples = []
        for length, run in self.runs.items():
            write, read = run["write"][run["locations"]], run["read"][run["locations"]]
            steps = write.shape[1]
            rows = [str(i) for i in run["locations"].tolist()]
            cols = [str(t) for t in range(steps)]
            frames = []
            for t in range(steps):
                so_far = torch.zeros_like(write), torch.zeros_like(read)
                so_far[0][:, : t + 1], so_far[1][:, : t + 1] = write[:, : t + 1], read[:, : t + 1]
                frames.append(frame(f"step {t}", [
                    matrix_panel(so_far[0], title="write weighting (location x step)", row_labels=rows,
                                 col_labels=cols, highlight_col=t, max_value=1.0),
                    matrix_panel(so_far[1], title="read weighting (location x step)", row_labels=rows,
                                 col_labels=cols, highlight_col=t, max_value=1.0),
                    text_panel(self._step_text(run, t), title="this step"),
                ]))
            examples.append({"name": f"copy of length {length}", "frames": frames})
        return frames_view(examples, title=self.title, frame_label="step", example_label="input",
                           caption="Scrub through time: the write head moves one location per input vector; "
                                   "after the delimiter the read head jumps back and replays the same locations.")

    def figure(self) -> Any:
        import matplotlib.pyplot as plt

        length, run = self.figure_length, self.figure_run
        fig, axes = plt.subplots(2, 2, figsize=(11, 5.5))
        heatmap(run["inputs"].T, ax=axes[0, 0], title=f"inputs (copy of length {length})", xlabel="step",
                ylabel="bit", colorbar=False)
        heatmap((run["outputs"] * run["mask"].unsqueeze(-1)).T, ax=axes[0, 1], title="outputs (probabilities)",
                xlabel="step", ylabel="bit", colorbar=False)
        locations = run["locations"]
        labels = [str(i) if k % max(1, len(locations) // 10) == 0 else "" for k, i in enumerate(locations.tolist())]
        for ax, name in zip(axes[1], ("write", "read")):
            heatmap(run[name][locations], y_labels=labels, ax=ax, title=f"{name} weighting", xlabel="step",
                    ylabel="location", colorbar=False)
        fig.tight_layout()
        return fig

    def controls(self) -> dict[str, Any]:
        import ipywidgets as widgets

        lengths = sorted(self.runs)
        longest = 2 * max(lengths)
        return {"length": widgets.Dropdown(options=lengths, value=lengths[-1], description="length"),
                "step": widgets.IntSlider(value=0, min=0, max=longest, description="step")}

    def draw_live(self, length: int = 10, step: int = 0) -> None:
        import matplotlib.pyplot as plt

        run = self.runs[length]
        step = min(step, run["write"].shape[1] - 1)
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.2))
        for ax, name in zip(axes, ("write", "read")):
            shown = run[name][run["locations"]].clone()
            shown[:, step + 1 :] = 0
            heatmap(shown, ax=ax, title=f"{name} weighting", xlabel="step", ylabel="location", colorbar=False,
                    vmax=1.0)
            ax.axvline(step, color="C3", lw=1)
        fig.suptitle(self._step_text(run, step), fontsize=9, family="monospace")
        fig.tight_layout()
        plt.show()
